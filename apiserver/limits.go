package apiserver

import (
	"net/http"
	"time"
)

// HTTP limits of the API server. Ordinary requests must be read within
// ReadTimeout and answered within WriteTimeout; the pod watch and log
// follows extend their own deadlines (extendDeadlines), bounded by the
// watch timeout or the follow itself.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 60 * time.Second
	IdleTimeout       = 90 * time.Second
	MaxHeaderBytes    = 64 << 10
)

// NewHTTPServer is an http.Server for h with the API's limits.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
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
