package apiserver

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/berth-dev/berth/api"
)

// FuzzNetworkApplied sends arbitrary bodies to the network confirmation a
// node posts: the server never fails (5xx) or panics, a refused body
// records nothing, and an accepted one records exactly the positive
// version it carried, for the node that sent it.
func FuzzNetworkApplied(f *testing.F) {
	for _, seed := range []string{
		`{"resourceVersion":7}`, `{"resourceVersion":0}`, `{"resourceVersion":-1}`,
		`{"resourceVersion":18446744073709551615}`, `{"resourceVersion":1e3}`, `{"resourceVersion":"7"}`,
		`{"resourceVersion":7,"extra":1}`, `{"resourceVersion":7}{"resourceVersion":8}`, `[]`, `null`, ``, `{`,
	} {
		f.Add(seed)
	}
	fd := &feed{changed: make(chan struct{}), applied: map[string]uint64{}}
	h := newAPIHarness(f, func(c *harnessConfig) { c.api.Network = fd })
	h.register("n1")
	f.Fuzz(func(t *testing.T, body string) {
		h.t = t
		fd.mu.Lock()
		clear(fd.applied)
		fd.mu.Unlock()
		code, e := h.do("POST", api.PathAgentNetworkSeen, h.nodeTokens["n1"], "n1", body)
		if code >= 500 {
			t.Fatalf("%d %+v for %q", code, e, body)
		}
		fd.mu.Lock()
		got, recorded := fd.applied["n1"]
		n := len(fd.applied)
		fd.mu.Unlock()
		if code != http.StatusNoContent {
			if n != 0 {
				t.Fatalf("refused with %d but recorded %v", code, fd.applied)
			}
			return
		}
		var want api.NetworkApplied
		if err := json.Unmarshal([]byte(body), &want); err != nil {
			t.Fatalf("accepted a body encoding/json refuses: %q: %v", body, err)
		}
		if !recorded || n != 1 || got != want.ResourceVersion || got == 0 {
			t.Fatalf("accepted %q but recorded %v", body, fd.applied)
		}
	})
}
