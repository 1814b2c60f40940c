// Package e2e holds berth's end-to-end tests and its commit-to-Running
// benchmark. They run the real binaries as separate processes: a bare Git
// repository served over smart HTTP by `git http-backend`, a private
// containerd, a docker-registry on 127.0.0.1, `berth server --agent=false`
// and two `berth agent --server` processes acting as two nodes, each with
// its own containerd namespace, run dir, CNI network and bridge.
//
//	test ──git push──► bare repo ◄──smart HTTP── berth server ◄──API── berth agent a ──► containerd ns e2ea
//	     ──webhook───────────────────────────────►      ▲      ◄──API── berth agent b ──► containerd ns e2eb
//	     ──berth status / API client───────────────────┘
//
// The tests need root, containerd, runc, the CNI plugins, docker-registry,
// busybox-static and git; outside CI they skip naming what is missing, with
// CI=true they fail. The package holds only tests.
package e2e
