// Package reconciler is berth's control plane: the level-triggered loop that
// turns the current Git snapshot into pod records, the bbolt store that keeps
// what Git does not, Deployment rollouts, and the HTTP API that agents, the
// CLI and the UI speak. It knows nothing of containerd or CNI.
package reconciler
