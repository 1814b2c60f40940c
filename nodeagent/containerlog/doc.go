// Package containerlog keeps each container's stdout and stderr in files
// on the node and reads them back for `berth agent logs` and the server.
//
// # Layout
//
//	<logdir>/<namespace>_<pod>_<uid>/<container>/<attempt>.log
//	<logdir>/<namespace>_<pod>_<uid>/<container>/<attempt>.log.1 … .log.N
//
// one file per container attempt (restart count), the kubelet's layout
// with the attempt as the file name. Namespace and pod names are RFC 1123
// labels, so "_" separates the parts without ambiguity.
//
// # Format
//
// Lines are in the CRI logging format the kubelet and containerd's CRI
// plugin use:
//
//	2025-01-02T03:04:05.123456789Z stdout F the line
//	2025-01-02T03:04:05.2Z stderr P first 16 KiB of a longer line
//
// a timestamp (RFC 3339, nanoseconds), the stream, F for a full line or P
// for a partial one (a line longer than 16 KiB, or a last line the
// container never ended), then the bytes. The reader also accepts plain
// lines (as cio.LogFile would write), read as stdout without a time.
//
// # Who writes
//
// By default the agent: the shim writes each task's stdout and stderr
// into FIFOs and the agent copies them through a File (package nodeagent,
// logio.go), as containerd's CRI plugin does, with no process per
// container; a restarted agent attaches to the FIFOs again. While no agent
// runs, output waits in the kernel's pipe and FIFO buffers and a container
// that fills them blocks until an agent is back; what a container wrote
// just before exiting while no agent ran is lost.
//
// With ShimLogger.Creator instead (the agent's --logger-binary), a
// containerd binary:// log URI names the small berth-logger program
// (./nodeagent/containerlog/logger). The runc shim starts that program
// beside the container with the stdout and stderr pipes as fds 3 and 4; it
// turns the bytes into lines with a separate writer per stream and appends
// them to the attempt's file, rotating it past the size cap. It lives
// exactly as long as the task's IO, a child of the shim, so output never
// waits for the agent. The cost is one process (2.6 MB resident) per
// running container, the trade conmon makes for podman. The shim stops the
// logger (closing its pipes, then SIGTERM) when the task is deleted; it
// writes what it still holds and exits.
//
// In-process writing (File and its Stream writers, e.g. behind
// cio.NewCreator(cio.WithStreams(nil, f.Stream(Stdout), f.Stream(Stderr))))
// produces the same files, for callers that own the process's lifetime.
//
// # Size
//
// A file that would grow past MaxSize (default 10 MiB) is renamed to
// .log.1 (older ones shift up) and a new one started; at most MaxFiles
// (default 5) files per attempt are kept, the kubelet's
// containerLogMaxSize and containerLogMaxFiles. A pod's directory is
// removed with the pod (RemovePod).
package containerlog
