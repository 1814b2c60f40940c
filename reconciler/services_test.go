package reconciler

import (
	"strings"
	"testing"
)

func serviceYAML(name, extra string) string {
	return `---
apiVersion: v1
kind: Service
metadata: {name: ` + name + `}
spec:
  selector: {app: ` + name + `}
  ports: [{port: 80}]
` + extra
}

// TestServiceAddressesSurviveRestartsAndRevisions admits Services, restarts
// the server, pushes a revision that changes other things, and checks every
// Service keeps its cluster IP; a later Service writing a held address is
// refused naming both.
func TestServiceAddressesSurviveRestartsAndRevisions(t *testing.T) {
	h := newHarness(t)
	h.addNode("n1", "4", "4Gi")
	h.src.push("r1", decodeObjs(t, serviceYAML("web", "")+serviceYAML("db", "")))
	h.reconcile()
	first := map[string]string{}
	for _, s := range h.rec.Services() {
		if s.Spec.ClusterIP == "" || !strings.HasPrefix(s.Spec.ClusterIP, "198.19.") {
			t.Fatalf("%s got clusterIP %q", s.Name, s.Spec.ClusterIP)
		}
		first[s.Name] = s.Spec.ClusterIP
	}
	if len(first) != 2 {
		t.Fatalf("services after admission: %v", first)
	}

	h.restart()
	h.reconcile()
	h.src.push("r2", decodeObjs(t, serviceYAML("db", "")+serviceYAML("cache", "")+serviceYAML("web", "")))
	h.reconcile()
	if h.rec.Applied() != "r2" {
		t.Fatalf("r2 not admitted: %+v", h.sync().Rejected)
	}
	for _, s := range h.rec.Services() {
		if want, ok := first[s.Name]; ok && s.Spec.ClusterIP != want {
			t.Errorf("%s moved from %s to %s", s.Name, want, s.Spec.ClusterIP)
		}
	}

	// r3 writes web's address into a new Service: refused, r2 keeps running.
	h.src.push("r3", decodeObjs(t, serviceYAML("db", "")+serviceYAML("web", "")+serviceYAML("thief", "  clusterIP: "+first["web"]+"\n")))
	h.reconcile()
	st := h.sync()
	if h.rec.Applied() != "r2" || st.Rejected == nil || len(st.Rejected.Errors) != 1 {
		t.Fatalf("want r3 refused with one error, got applied %s rejected %+v", h.rec.Applied(), st.Rejected)
	}
	if msg := st.Rejected.Errors[0].Message; !strings.Contains(msg, "already allocated to Service default/web") {
		t.Errorf("clash message %q does not name web", msg)
	}
}
