package remote

import (
	"errors"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/nodeagent/containerlog"
	"github.com/berth-dev/berth/pki"
)

// logHandler serves GET /berth/v1/logs/{uid}/{container} to the server
// only: the listener is TLS with the node's certificate and requires the
// server's client certificate (logTLS); no token is accepted. The server
// proxies `berth logs` here.
func (l *Link) logHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathAgentLogs+"{uid}/{container}", l.serveLog)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		api.WriteError(w, http.StatusNotFound, "NotFound", "no such path: "+r.URL.Path)
	})
	return mux
}

func (l *Link) serveLog(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || pki.VerifyServerClient(*r.TLS) != nil {
		api.WriteError(w, http.StatusUnauthorized, "Unauthorized", "only the berth server's client certificate may read logs")
		return
	}
	uid, container := r.PathValue("uid"), r.PathValue("container")
	lo, err := api.ParseLogOptions(r.URL.Query())
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	opts := containerlog.ReadOptions{Follow: lo.Follow, Previous: lo.Previous, Tail: lo.TailLines}
	if l.cfg.LogDir == "" {
		api.WriteError(w, http.StatusNotFound, "NotFound", "this agent keeps no logs")
		return
	}
	pods, err := containerlog.Pods(l.cfg.LogDir)
	if err != nil {
		api.WriteError(w, http.StatusInternalServerError, "Internal", err.Error())
		return
	}
	var dir string
	for _, p := range pods {
		if p.UID == uid {
			dir, err = p.ContainerDir(l.cfg.LogDir, container)
			break
		}
	}
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	if dir == "" {
		api.WriteError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("no logs of pod %s on this node", uid))
		return
	}
	if attempts, err := containerlog.Attempts(dir); err != nil || len(attempts) == 0 || opts.Previous && len(attempts) < 2 {
		api.WriteError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("no logs of container %s of pod %s on this node", container, uid))
		return
	}
	opts.Clock = l.cfg.Clock
	opts.Running = l.running(uid, container)
	out := &flushWriter{w: w}
	if opts.Follow {
		// A follower may wait long for its first line: answer now.
		out.Write(nil)
	}
	err = containerlog.Read(r.Context(), out, dir, opts)
	switch {
	case err == nil || out.wrote:
		if !out.wrote {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusOK)
		}
	case errors.Is(err, containerlog.ErrNotFound):
		api.WriteError(w, http.StatusNotFound, "NotFound", err.Error())
	case r.Context().Err() != nil:
	default:
		api.WriteError(w, http.StatusInternalServerError, "Internal", err.Error())
	}
}

// running tells a follower whether the container still runs, from what
// the agent holds; without an agent the follow lasts until the caller
// goes.
func (l *Link) running(uid, container string) func() bool {
	l.mu.Lock()
	a := l.agent
	l.mu.Unlock()
	if a == nil {
		return nil
	}
	return func() bool {
		for _, p := range a.Status() {
			if string(p.UID) != uid {
				continue
			}
			for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
				for _, cs := range list {
					if cs.Name == container {
						return cs.State.Running != nil
					}
				}
			}
		}
		return false
	}
}

// flushWriter sends each write at once, so a follower sees lines as they
// come; it writes the header on the first write.
type flushWriter struct {
	w     http.ResponseWriter
	wrote bool
}

func (f *flushWriter) Write(b []byte) (int, error) {
	if !f.wrote {
		f.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		f.w.WriteHeader(http.StatusOK)
		f.wrote = true
	}
	n, err := f.w.Write(b)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}
