// Package endpoints computes a Service's endpoints from the pods that
// exist, as Kubernetes' EndpointSlice controller does, as a pure function:
// no store, no clock, no goroutine.
//
// ForService(svc, pods) returns the Service's EndpointSlices
// (k8s.io/api/discovery/v1), one per distinct set of resolved ports: a
// targetPort given by name is looked up in each pod's containers, so two
// pods may serve the same Service port on different numbers. A pod is an
// endpoint when it is in the Service's namespace, matches its selector, has
// an IP and has not finished. Its conditions follow Kubernetes:
//
//	serving     = the pod is Ready
//	terminating = the pod is being deleted
//	ready       = publishNotReadyAddresses || (serving && !terminating)
//
// Nodes send traffic to ready endpoints only, so a pod leaves every node's
// rules as soon as its deletion is recorded, and enters only once Ready.
// Drain is the rule that then holds its containers running until every
// Ready node confirmed rules without it, or a deadline passed.
//
// A Service without a selector has no endpoints: berth has no manually
// written Endpoints or EndpointSlices yet.
package endpoints
