package apiserver

import (
	"net/http"
	"strconv"
	"time"

	"github.com/berth-dev/berth/metrics"
)

// instrument counts every request by method, route and code and times it
// (berth_api_requests_total, berth_api_request_duration_seconds). The
// route is the mux pattern that matched, never the raw path, so the label
// set stays bounded whatever strangers send.
func instrument(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	mux.ServeHTTP(sw, r)
	route := r.Pattern
	if route == "" || route == "/" { // the catch-all answers 401, 404 and 405
		route = "unmatched"
	}
	method := r.Method
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions:
	default:
		method = "other"
	}
	metrics.APIRequests.WithLabelValues(method, route, strconv.Itoa(sw.code)).Inc()
	metrics.APIRequestDuration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
}

// statusWriter remembers the status code; it keeps Flush (log follows and
// watches stream) and Unwrap (http.ResponseController).
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	w.wrote = true
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
