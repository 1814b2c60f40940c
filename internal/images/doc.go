// Package images builds the OCI images berth's tests and demo need from
// files on the machine, with go-containerregistry, because no machine here
// reaches a public registry: busybox from Debian's busybox-static, and the
// pause image from the binary built from nodeagent/pause. It pushes them to
// a registry or writes them as archives for containerd to import.
package images
