// Package manifest turns a tree of Kubernetes YAML or JSON into validated,
// defaulted k8s.io/api objects, or into a complete, sorted list of errors
// that each name a file, a line and a field path.
//
// It reads an io/fs.FS so the same code serves a directory on disk and the
// tree of a Git commit. It does no I/O beyond reading the bytes it is given.
// The subset of Kubernetes that berth implements is kept in one table
// (Supported); any other field that is set is an error, never ignored.
package manifest
