// Package gitsource turns a Git repository into a stream of validated
// snapshots: it keeps its own clone, fetches on a poll interval or on a push
// webhook, pins a branch, tag or commit, optionally verifies commit
// signatures, and reads manifests from the commit's tree (never a work tree).
// A revision with any error is not applied: the last good snapshot stays.
package gitsource
