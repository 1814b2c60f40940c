// Package serviceaddr allocates Services' cluster IPs and node ports, as a
// pure function of (the previous allocation, the revision's Services): the
// caller persists the returned Table in one store write with the revision,
// so addresses stay the same across server restarts and revisions.
//
// The rules, in order:
//
//  1. A clusterIP or nodePort written in Git is honoured when it is free.
//     It is not free when another Service of the revision writes it too, or
//     already holds it from an earlier allocation: that is a validation
//     error naming both objects.
//  2. A Service that held an address keeps it while it exists, whatever
//     else changes (ports reordered, labels, a new revision).
//  3. Anything else gets the first free address after a hash of the
//     Service's namespace/name, so allocation does not depend on the order
//     of files in the repository.
//
// Headless Services (clusterIP: None) get no address; ClusterIP Services
// get no node ports.
package serviceaddr
