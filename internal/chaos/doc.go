// Package chaos runs a whole berth cluster on this machine (a server and
// three agents, each agent in its own network namespace acting as a
// host) against a Git repository a driver keeps changing, injects faults
// from a seeded, logged schedule, and checks invariants against the real
// processes and containerd rather than the store's view.
//
//	driver ──commit/push/hook──▶ git ──▶ berth server ◀──▶ agents (3 netns hosts)
//	nemesis ── SIGKILL server/agent, restart containerd, nft partition,
//	           full tmpfs data dir, webhook storm, wall clock jumped
//	           forward/back (machine-wide: long runs under the lock only)
//	checker ── containerd tasks per node (two copies?), convergence to the
//	           driver's desired pods, Jobs/CronJobs, bbolt check, leaks
//
// The repository holds a web Deployment, its Service, Jobs, a CronJob and
// a db StatefulSet whose pods keep a marker in a claim on their agent's
// --storage-dir; stateful.go checks, against containerd and the storage
// dirs, that a db pod runs on one node at a time and only on its claim's,
// that every marker survives every fault unchanged on its node, and that
// db-0…db-(n-1) run at the end.
//
// TestChaos (chaos_test.go) is the entry point: `just chaos 10m` runs it
// for ten minutes; `just test` runs a short run. A run prints its seed;
// -chaos.seed replays the same schedule of changes and faults.
package chaos
