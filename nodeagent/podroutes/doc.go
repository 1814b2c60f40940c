// Package podroutes keeps the routes from this node to every other node's
// pod subnet, the way flannel's vxlan backend with DirectRouting does:
//
//   - a peer on a link this node shares (the kernel routes its address
//     without a gateway) is reached directly: PodCIDR via the peer's
//     address (host-gw);
//   - any other peer is reached over a VXLAN device of berth's own
//     (berth.vxlan, VNI 1, UDP 4789): PodCIDR via the peer's VTEP address
//     (its subnet's network address) onlink, a permanent ARP entry for
//     that address and an FDB entry sending its MAC to the peer's address.
//
// A VTEP's MAC is derived from its node's address, so nodes need to learn
// nothing but each other's address and pod subnet from the server. Mode
// can force one of the two for every peer.
//
// Plan is the pure part (what routes, neighbours and FDB entries should
// exist); Router applies a Plan with netlink, tagging its routes with its
// own protocol number so it removes exactly the ones it made and nothing
// else. Pod traffic between nodes keeps its source address: the only
// masquerading is done by servicerules for traffic leaving the cluster.
package podroutes
