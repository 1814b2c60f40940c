// Package fencing is the partition rule between the server and its
// agents, as Nomad's disconnect.stop_on_client_after: an agent that has not
// reached the server for its lease stops the pods the server is about to
// move, and the server moves them only once the agent has had time to.
//
//	last heartbeat sent (agent)   received (server, no earlier)
//	      │                              │
//	      ├── Lease = NodeTimeout − Margin ──► agent fences: pods get
//	      │                                    SIGTERM, SIGKILL after KillGrace
//	      ├── StoppedBy = Lease + KillGrace ─► old copies gone
//	      │                              ├── NodeTimeout ──────────► NotReady
//	      │                              ├── NodeTimeout + Grace ──► pods move
//
// The agent measures its lease on its monotonic clock from the moment it
// sent the heartbeat the server accepted, so neither a jump of its wall
// clock nor a slow answer lengthens it. The server measures from when it
// received that heartbeat, which is later. Pods move at the earliest
// NodeTimeout + Grace − Flush after that (a server that crashed lost up to
// Flush of heartbeats), so old copies have stopped Slack before a new
// copy can start, whatever the clocks' wall times, as long as the two
// clocks' rates differ by less than Slack over the lease.
//
// Pods come back when the agent reaches the server again and the
// server's list still binds them to the node.
package fencing
