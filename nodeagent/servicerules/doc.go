// Package servicerules programs a node's Service data path: ONE nftables
// table of berth's own (family ip, named "berth"), rebuilt whole in one
// atomic transaction per change, the way kube-proxy's nftables mode lays
// out its table.
//
//	prerouting/output (nat, dstnat)      postrouting (nat, srcnat)
//	        │                                    │
//	   services ── ip daddr . proto . port ──►  masquerading: packets marked
//	        │      vmap @service-ips             0x4000 are masqueraded; pod
//	        │      fib daddr local: proto .      traffic leaving the cluster
//	        │      port vmap @service-nodeports  CIDR is masqueraded
//	        ▼
//	   service-<hash>-ns/name/proto/port
//	        │  traffic from outside the cluster CIDR is marked for masquerade
//	        │  ClientIP affinity: ip saddr @affinity-… goto endpoint
//	        │  numgen random mod N vmap { 0 : goto endpoint-…, … }
//	        ▼
//	   endpoint-<hash>-ns/name/proto/port__ip/port
//	           ip saddr <itself> marks for masquerade (hairpin), dnat to ip:port
//
//	input/forward/output (filter, dstnat-10): a Service port with no
//	endpoint is rejected (ICMP port unreachable, so TCP clients see
//	"connection refused" at once instead of a timeout).
//
// Rules is the pure part: it writes the whole ruleset for a State into a
// knftables Transaction, and the golden test reads it back. Proxier runs it
// (knftables drives Debian's `nft`, which sends the transaction to the
// kernel as one netlink batch: all or nothing) and then flushes the UDP
// conntrack entries of endpoints that went away, since UDP "connections"
// would otherwise keep going to a removed pod.
//
// Why knftables and not github.com/google/nftables: it is what kube-proxy's
// nftables mode uses, it takes rules in nft's own syntax (numgen, vmaps,
// concatenations, dynamic sets) instead of hand-assembled bytecode, its
// Fake renders the exact ruleset for golden tests, and `nft -f` applies a
// whole table in one kernel transaction. The price is a runtime dependency
// on the `nft` binary (Debian `nftables`, already one of berth's parts).
package servicerules
