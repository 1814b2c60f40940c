package apiserver

import (
	"net/http"
	"time"
)

// Limits are the HTTP limits of the API server. Ordinary requests must be
// read within Read and answered within Write; the pod watch and log
// follows lift those deadlines (extendDeadlines), bounded by the watch
// timeout or by the follow itself.
type Limits struct {
	ReadHeader, Read, Write, Idle time.Duration
	MaxHeaderBytes                int
}

// DefaultLimits are berth server's.
var DefaultLimits = Limits{
	ReadHeader:     10 * time.Second,
	Read:           30 * time.Second,
	Write:          60 * time.Second,
	Idle:           90 * time.Second,
	MaxHeaderBytes: 64 << 10,
}

// watchSlack is how long past its wait a watch may take to write.
const watchSlack = time.Minute

// NewHTTPServer is an http.Server for h with DefaultLimits.
func NewHTTPServer(h http.Handler) *http.Server { return DefaultLimits.Server(h) }

// Server is an http.Server for h with these limits.
func (l Limits) Server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeader,
		ReadTimeout:       l.Read,
		WriteTimeout:      l.Write,
		IdleTimeout:       l.Idle,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// extendDeadlines lifts the server's read and write deadlines for a
// long-lived answer: until (zero: none) for writes, and none for reads (a
// GET has no body; an expired read deadline would end the request).
func extendDeadlines(w http.ResponseWriter, until time.Time) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(until)
}
