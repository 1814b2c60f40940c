// Package clusterdns is the cluster DNS every agent serves to its pods,
// with the record shapes of Kubernetes' DNS specification (kubernetes/dns
// docs/specification.md) as CoreDNS's kubernetes plugin answers them:
//
//	<svc>.<ns>.svc.<domain>            A    the ClusterIP; for a headless
//	                                        Service, every ready endpoint
//	<host>.<svc>.<ns>.svc.<domain>     A    a headless Service's endpoint,
//	                                        <host> its pod's hostname (when
//	                                        its subdomain names the Service)
//	                                        or its IP with dashes
//	_<port>._<proto>.<svc>.<ns>.svc.<domain>
//	                                   SRV  per named port: the Service, or
//	                                        each endpoint of a headless one
//	<a-b-c-d>.<ns>.pod.<domain>        A    a.b.c.d (CoreDNS "pods insecure")
//	<d.c.b.a>.in-addr.arpa             PTR  back to the names above
//
// Names under the domain that do not exist are NXDOMAIN; every other name
// is forwarded to the node's own resolvers. Zone (records.go) is a pure
// index built from Services and EndpointSlices; Server swaps it atomically
// on every change and answers over UDP and TCP.
//
// ResolvConf writes a pod's /etc/resolv.conf for its dnsPolicy as the
// kubelet does: ClusterFirst (the cluster DNS address, search
// <ns>.svc.<domain> svc.<domain> <domain> plus the host's, options
// ndots:5), Default (the host's), None (only dnsConfig); dnsConfig is merged
// into the first two.
package clusterdns
