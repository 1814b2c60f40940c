package servicerules

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/knftables"
)

// DefaultTable is the name of berth's table (family ip).
const DefaultTable = "berth"

// masqueradeMark marks a packet for masquerading in postrouting, the bit
// kube-proxy uses.
const masqueradeMark = "0x4000"

// State is everything the rules are made from.
type State struct {
	// Services carry their allocated clusterIP and nodePorts.
	Services []corev1.Service
	// Slices are the EndpointSlices of those Services (labelled with
	// kubernetes.io/service-name).
	Slices []discoveryv1.EndpointSlice
	// ClusterCIDR holds every node's pod addresses: traffic to a Service
	// from outside it is masqueraded, so replies come back through this
	// node. Zero: nothing is masqueraded but hairpin and NodePort traffic.
	ClusterCIDR netip.Prefix
	// PodSubnet is this node's pod range: pod traffic to anywhere outside
	// ClusterCIDR is masqueraded to the node's address (zero: not done).
	PodSubnet netip.Prefix
}

// Endpoint is one backend of one Service port.
type Endpoint struct {
	IP   netip.Addr
	Port int32
}

// servicePort is one Service port with the endpoints it sends to.
type servicePort struct {
	ns, name  string
	port      corev1.ServicePort
	clusterIP netip.Addr
	endpoints []Endpoint
	affinity  time.Duration // 0: none
}

func (sp *servicePort) proto() string { return strings.ToLower(string(sp.port.Protocol)) }

// id is the readable part of chain names: ns/name/proto/port-name-or-number.
func (sp *servicePort) id() string {
	pn := sp.port.Name
	if pn == "" {
		pn = fmt.Sprint(sp.port.Port)
	}
	return fmt.Sprintf("%s/%s/%s/%s", sp.ns, sp.name, sp.proto(), pn)
}

// hashed prefixes a readable name with a short hash of it, so chain names
// stay unique however names are cut (kube-proxy's servicePortChainNameBase).
func hashed(prefix, id string) string {
	sum := sha256.Sum256([]byte(id))
	return prefix + "-" + base32.StdEncoding.EncodeToString(sum[:])[:8] + "-" + id
}

func (sp *servicePort) chain() string         { return hashed("service", sp.id()) }
func (sp *servicePort) externalChain() string { return hashed("external", sp.id()) }
func (sp *servicePort) endpointChain(e Endpoint) string {
	return hashed("endpoint", fmt.Sprintf("%s__%s/%d", sp.id(), e.IP, e.Port))
}
func (sp *servicePort) affinitySet(e Endpoint) string {
	return hashed("affinity", fmt.Sprintf("%s__%s/%d", sp.id(), e.IP, e.Port))
}

// ServicePorts resolves the State into Service ports with the endpoints
// traffic goes to: the ready ones, or, when none is ready, the ones still
// serving while they terminate (kube-proxy's rule, so a Service whose pods
// are all being replaced keeps answering). Headless Services have none.
// The result is sorted, so the ruleset is stable.
func servicePorts(s State) []*servicePort {
	slices := map[string][]discoveryv1.EndpointSlice{}
	for _, sl := range s.Slices {
		k := sl.Namespace + "/" + sl.Labels[discoveryv1.LabelServiceName]
		slices[k] = append(slices[k], sl)
	}
	var out []*servicePort
	for i := range s.Services {
		svc := &s.Services[i]
		ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
		if err != nil || !ip.Is4() {
			continue // headless, or not allocated yet
		}
		var affinity time.Duration
		if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
			affinity = 10800 * time.Second
			if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
				affinity = time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
			}
		}
		for _, p := range svc.Spec.Ports {
			if p.Protocol == "" {
				p.Protocol = corev1.ProtocolTCP
			}
			sp := &servicePort{ns: svc.Namespace, name: svc.Name, port: p, clusterIP: ip, affinity: affinity}
			sp.endpoints = pickEndpoints(slices[svc.Namespace+"/"+svc.Name], p)
			out = append(out, sp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id() < out[j].id() })
	return out
}

func pickEndpoints(slices []discoveryv1.EndpointSlice, p corev1.ServicePort) []Endpoint {
	var ready, serving []Endpoint
	seen := map[Endpoint]bool{}
	for _, sl := range slices {
		var port int32
		for _, ep := range sl.Ports {
			if ep.Name != nil && *ep.Name == p.Name && ep.Protocol != nil && *ep.Protocol == p.Protocol && ep.Port != nil {
				port = *ep.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, e := range sl.Endpoints {
			if len(e.Addresses) == 0 {
				continue
			}
			ip, err := netip.ParseAddr(e.Addresses[0])
			if err != nil {
				continue
			}
			ep := Endpoint{IP: ip, Port: port}
			if seen[ep] {
				continue
			}
			seen[ep] = true
			c := e.Conditions
			switch {
			case c.Ready == nil || *c.Ready:
				ready = append(ready, ep)
			case c.Serving != nil && *c.Serving && c.Terminating != nil && *c.Terminating:
				serving = append(serving, ep)
			}
		}
	}
	eps := ready
	if len(eps) == 0 {
		eps = serving
	}
	sort.Slice(eps, func(i, j int) bool {
		if eps[i].IP != eps[j].IP {
			return eps[i].IP.Less(eps[j].IP)
		}
		return eps[i].Port < eps[j].Port
	})
	return eps
}

// Rules writes the whole table for s into tx: the table is added, deleted
// and created again in the same transaction, so the kernel swaps the old
// ruleset for the new one at once and nothing stale survives.
func Rules(tx *knftables.Transaction, s State) {
	tx.Add(&knftables.Table{})
	tx.Delete(&knftables.Table{})
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("berth: Services (rebuilt whole on every change)")})

	base := func(name string, typ knftables.BaseChainType, hook knftables.BaseChainHook, prio knftables.BaseChainPriority, jump string) {
		tx.Add(&knftables.Chain{Name: name, Type: knftables.PtrTo(typ), Hook: knftables.PtrTo(hook), Priority: knftables.PtrTo(prio)})
		tx.Add(&knftables.Rule{Chain: name, Rule: "jump " + jump})
	}
	for _, c := range []string{"services", "masquerading", "mark-for-masquerade", "endpoints-check", "reject-chain"} {
		tx.Add(&knftables.Chain{Name: c})
	}
	// -110: before nat output (-100), so a port with no endpoint is refused
	// before anything rewrites it (kube-proxy uses dstnat-10, which nft
	// 1.0.6 refuses on non-prerouting hooks).
	filterPrio := knftables.BaseChainPriority("-110")
	base("nat-prerouting", knftables.NATType, knftables.PreroutingHook, knftables.DNATPriority, "services")
	base("nat-output", knftables.NATType, knftables.OutputHook, knftables.DNATPriority, "services")
	base("nat-postrouting", knftables.NATType, knftables.PostroutingHook, knftables.SNATPriority, "masquerading")
	for _, h := range []knftables.BaseChainHook{knftables.InputHook, knftables.ForwardHook, knftables.OutputHook} {
		tx.Add(&knftables.Chain{Name: "filter-" + string(h), Type: knftables.PtrTo(knftables.FilterType), Hook: knftables.PtrTo(h), Priority: knftables.PtrTo(filterPrio)})
		tx.Add(&knftables.Rule{Chain: "filter-" + string(h), Rule: "ct state new jump endpoints-check"})
	}

	tx.Add(&knftables.Rule{Chain: "mark-for-masquerade", Rule: "mark set mark or " + masqueradeMark})
	if s.PodSubnet.IsValid() && s.ClusterCIDR.IsValid() {
		// Pods reach the world through the node's address, but reach
		// other nodes' pods with their own (no masquerade inside the
		// cluster CIDR, nor towards Service addresses handled above).
		tx.Add(&knftables.Rule{Chain: "masquerading", Rule: fmt.Sprintf("ip saddr %s ip daddr != %s fib daddr type != local masquerade", s.PodSubnet, s.ClusterCIDR)})
	}
	tx.Add(&knftables.Rule{Chain: "masquerading", Rule: fmt.Sprintf("mark and %s == 0 return", masqueradeMark)})
	tx.Add(&knftables.Rule{Chain: "masquerading", Rule: fmt.Sprintf("mark set mark xor %s", masqueradeMark)})
	tx.Add(&knftables.Rule{Chain: "masquerading", Rule: "masquerade fully-random"})
	tx.Add(&knftables.Rule{Chain: "reject-chain", Rule: "reject"})

	for _, m := range []struct{ name, typ string }{
		{"service-ips", "ipv4_addr . inet_proto . inet_service : verdict"},
		{"service-nodeports", "inet_proto . inet_service : verdict"},
		{"no-endpoint-services", "ipv4_addr . inet_proto . inet_service : verdict"},
		{"no-endpoint-nodeports", "inet_proto . inet_service : verdict"},
	} {
		tx.Add(&knftables.Map{Name: m.name, Type: m.typ})
	}
	tx.Add(&knftables.Rule{Chain: "services", Rule: "ip daddr . meta l4proto . th dport vmap @service-ips"})
	tx.Add(&knftables.Rule{Chain: "services", Rule: "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports"})
	tx.Add(&knftables.Rule{Chain: "endpoints-check", Rule: "ip daddr . meta l4proto . th dport vmap @no-endpoint-services"})
	tx.Add(&knftables.Rule{Chain: "endpoints-check", Rule: "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports"})

	for _, sp := range servicePorts(s) {
		addServicePort(tx, s, sp)
	}
}

func addServicePort(tx *knftables.Transaction, s State, sp *servicePort) {
	ipKey := []string{sp.clusterIP.String(), sp.proto(), fmt.Sprint(sp.port.Port)}
	npKey := []string{sp.proto(), fmt.Sprint(sp.port.NodePort)}
	nodePort := sp.port.NodePort != 0
	if len(sp.endpoints) == 0 {
		tx.Add(&knftables.Element{Map: "no-endpoint-services", Key: ipKey, Value: []string{"goto reject-chain"}, Comment: knftables.PtrTo(sp.id())})
		if nodePort {
			tx.Add(&knftables.Element{Map: "no-endpoint-nodeports", Key: npKey, Value: []string{"goto reject-chain"}, Comment: knftables.PtrTo(sp.id())})
		}
		return
	}
	chain := sp.chain()
	tx.Add(&knftables.Chain{Name: chain})
	tx.Add(&knftables.Element{Map: "service-ips", Key: ipKey, Value: []string{"goto " + chain}, Comment: knftables.PtrTo(sp.id())})
	if nodePort {
		// Traffic from outside always comes back through this node.
		ext := sp.externalChain()
		tx.Add(&knftables.Chain{Name: ext})
		tx.Add(&knftables.Rule{Chain: ext, Rule: "jump mark-for-masquerade"})
		tx.Add(&knftables.Rule{Chain: ext, Rule: "goto " + chain})
		tx.Add(&knftables.Element{Map: "service-nodeports", Key: npKey, Value: []string{"goto " + ext}, Comment: knftables.PtrTo(sp.id())})
	}
	if s.ClusterCIDR.IsValid() {
		tx.Add(&knftables.Rule{Chain: chain, Rule: fmt.Sprintf("ip daddr %s ip saddr != %s jump mark-for-masquerade", sp.clusterIP, s.ClusterCIDR)})
	}
	var vmap []string
	for i, e := range sp.endpoints {
		ec := sp.endpointChain(e)
		tx.Add(&knftables.Chain{Name: ec})
		tx.Add(&knftables.Rule{Chain: ec, Rule: fmt.Sprintf("ip saddr %s jump mark-for-masquerade", e.IP)})
		if sp.affinity > 0 {
			set := sp.affinitySet(e)
			tx.Add(&knftables.Set{Name: set, Type: "ipv4_addr", Flags: []knftables.SetFlag{knftables.DynamicFlag}, Timeout: knftables.PtrTo(sp.affinity)})
			tx.Add(&knftables.Rule{Chain: chain, Rule: fmt.Sprintf("ip saddr @%s goto %s", set, ec)})
			tx.Add(&knftables.Rule{Chain: ec, Rule: fmt.Sprintf("update @%s { ip saddr }", set)})
		}
		tx.Add(&knftables.Rule{Chain: ec, Rule: fmt.Sprintf("meta l4proto %s dnat to %s:%d", sp.proto(), e.IP, e.Port)})
		vmap = append(vmap, fmt.Sprintf("%d : goto %s", i, ec))
	}
	tx.Add(&knftables.Rule{Chain: chain, Rule: fmt.Sprintf("numgen random mod %d vmap { %s }", len(vmap), strings.Join(vmap, " , "))})
}
