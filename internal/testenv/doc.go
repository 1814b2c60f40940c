// Package testenv gates and starts the real parts that integration tests
// need (root, containerd, runc, CNI plugins, a registry, git). Outside CI a
// missing part skips the test with a message naming it; with CI=true a
// missing part fails the test, because a skipped check is not a passed one.
package testenv
