package chaos

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/berth-dev/berth/manifest"
)

// The driver's repository, StatefulSet included, is what berth admits:
// decoded, validated and its references checked.
func TestDesiredFilesLoad(t *testing.T) {
	d := Desired{Replicas: 2, Tag: imageTagA, DBReplicas: 3, DBTag: imageTagB, Jobs: []string{"job-1"}, Cron: true, Service: true}
	fsys := fstest.MapFS{}
	for p, content := range d.files("127.0.0.1:5000/berth/busybox") {
		fsys[p] = &fstest.MapFile{Data: []byte(content)}
	}
	objs, err := manifest.Load(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	if errs := manifest.CheckRevision(objs); len(errs) > 0 {
		t.Fatal(errs)
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[string(o.Kind)]++
	}
	if kinds["StatefulSet"] != 1 || kinds["Deployment"] != 1 {
		t.Errorf("kinds %v, want one StatefulSet and one Deployment", kinds)
	}
}

func TestDBOrdinal(t *testing.T) {
	tests := []struct {
		name string
		want int
	}{
		{name: "db-0", want: 0},
		{name: "db-12", want: 12},
		{name: "db-01", want: -1},
		{name: "db-x", want: -1},
		{name: "web-7d9f-abcde", want: -1},
		{name: "dbx-1", want: -1},
	}
	for _, tt := range tests {
		if got := dbOrdinal(tt.name); got != tt.want {
			t.Errorf("dbOrdinal(%q) = %d, want %d", tt.name, got, tt.want)
		}
	}
	if dbClaim(2) != "data-db-2" {
		t.Errorf("dbClaim(2) = %s", dbClaim(2))
	}
}

// The overlap windows of db pods are told from the others'.
func TestOverlapsSummaryOfDBPods(t *testing.T) {
	o := newOverlaps()
	t0 := time.Unix(1000, 0)
	o.record(t0, []Copy{{Node: "a", Name: "db-1", Running: true}, {Node: "b", Name: "db-1", Running: true}, {Node: "a", Name: "web-1", Running: true}, {Node: "c", Name: "web-1", Running: true}})
	o.record(t0.Add(time.Second), []Copy{{Node: "a", Name: "web-1", Running: true}, {Node: "c", Name: "web-1", Running: true}})
	o.record(t0.Add(5*time.Second), nil)
	count, longest, which := o.summaryOf(func(n string) bool { return dbOrdinal(n) >= 0 })
	if count != 1 || longest != time.Second || which != "db-1" {
		t.Errorf("db overlaps %d, longest %v (%s); want 1 of 1s for db-1", count, longest, which)
	}
	if count, longest, which = o.summary(); count != 2 || longest != 5*time.Second || which != "web-1" {
		t.Errorf("overlaps %d, longest %v (%s); want 2, 5s for web-1", count, longest, which)
	}
}

// stsFixture is a cluster of three nodes with storage dirs only, for the
// checker, which reads real files.
func stsFixture(t *testing.T) (*stsChecker, *[]string) {
	t.Helper()
	dir := t.TempDir()
	c := &Cluster{}
	for _, l := range []string{"a", "b", "c"} {
		c.nodes = append(c.nodes, &Node{Name: "n" + l, StorageDir: filepath.Join(dir, l)})
	}
	var got []string
	s := newSTSChecker(c, func(f string, args ...any) { got = append(got, f) })
	return s, &got
}

func writeMarker(t *testing.T, s *stsChecker, node, claim, text string) {
	t.Helper()
	p := s.c.markerPath(node, claim)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSTSCheckerData(t *testing.T) {
	tests := []struct {
		name string
		// then changes the disks after the first marker was seen.
		then func(t *testing.T, s *stsChecker)
		want string // the violated invariant, "" for none
	}{
		{name: "kept", then: func(*testing.T, *stsChecker) {}},
		{name: "rewritten by a second first start", want: invData, then: func(t *testing.T, s *stsChecker) {
			writeMarker(t, s, "na", "data-db-0", "db-0 uid-2 2\n")
		}},
		{name: "gone with its claim", want: invData, then: func(t *testing.T, s *stsChecker) {
			if err := os.RemoveAll(filepath.Join(s.c.nodes[0].StorageDir, "default", "data-db-0")); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "claim made again on another node", want: invData, then: func(t *testing.T, s *stsChecker) {
			if err := os.RemoveAll(filepath.Join(s.c.nodes[0].StorageDir, "default", "data-db-0")); err != nil {
				t.Fatal(err)
			}
			writeMarker(t, s, "nb", "data-db-0", "db-0 uid-1 1\n")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, got := stsFixture(t)
			writeMarker(t, s, "na", "data-db-0", "db-0 uid-1 1\n")
			running := []Copy{{Node: "na", Name: "db-0", UID: "uid-1", Image: "r/busybox:v1", Running: true}}
			if err := s.converged(running, 1, "v1", nil); err != nil || len(*got) > 0 {
				t.Fatalf("first look: %v, violations %v", err, *got)
			}
			tt.then(t, s)
			_ = s.converged(running, 1, "v1", nil)
			_ = s.converged(running, 1, "v1", nil) // reported once
			switch {
			case tt.want == "" && len(*got) > 0:
				t.Errorf("violations %v, want none", *got)
			case tt.want != "" && (len(*got) != 1 || s.violations[tt.want] != 1):
				t.Errorf("violations %v (%v), want one of %q", *got, s.violations, tt.want)
			}
		})
	}
}

func TestSTSCheckerConverged(t *testing.T) {
	s, got := stsFixture(t)
	writeMarker(t, s, "na", "data-db-0", "db-0 u0 1\n")
	writeMarker(t, s, "nb", "data-db-1", "db-1 u1 1\n")
	if err := os.MkdirAll(filepath.Join(s.c.nodes[2].StorageDir, "default", "data-db-2", "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	cp := func(node, name, tag string, running bool) Copy {
		return Copy{Node: node, Name: name, UID: "u-" + name, Image: "r/busybox:" + tag, Running: running}
	}
	tests := []struct {
		name     string
		copies   []Copy
		replicas int
		want     string // in the error, "" for converged
	}{
		{name: "two of two", replicas: 2, copies: []Copy{cp("na", "db-0", "v1", true), cp("nb", "db-1", "v1", true)}},
		{name: "one missing", replicas: 2, copies: []Copy{cp("na", "db-0", "v1", true)}, want: "db-1 does not run"},
		{name: "one above replicas", replicas: 1, copies: []Copy{cp("na", "db-0", "v1", true), cp("nb", "db-1", "v1", true)}, want: "db has 1 replicas"},
		{name: "old image", replicas: 1, copies: []Copy{cp("na", "db-0", "v2", true)}, want: "want tag v1"},
		{name: "not running", replicas: 1, copies: []Copy{cp("na", "db-0", "v1", false)}, want: "not running"},
		{name: "marker not written yet", replicas: 3, copies: []Copy{cp("na", "db-0", "v1", true), cp("nb", "db-1", "v1", true), cp("nc", "db-2", "v1", true)}, want: "db-2 has not written its marker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.converged(tt.copies, tt.replicas, "v1", nil)
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("converged: %v, want %q", err, tt.want)
			}
		})
	}
	if len(*got) > 0 {
		t.Errorf("violations %v, want none", *got)
	}
}

func TestSTSCheckerHome(t *testing.T) {
	s, got := stsFixture(t)
	writeMarker(t, s, "na", "data-db-0", "db-0 u0 1\n")
	s.sample(time.Now(), []Copy{{Node: "na", Name: "db-0", Running: true}, {Node: "nb", Name: "db-1", Running: true}})
	if len(*got) > 0 {
		t.Fatalf("violations %v on the claim's node (and before db-1's claim is made)", *got)
	}
	s.sample(time.Now(), []Copy{{Node: "nc", Name: "db-0", UID: "u2", Running: true}})
	if s.violations[invHome] != 1 {
		t.Errorf("a copy away from its claim: violations %v (%v)", s.violations, *got)
	}
	writeMarker(t, s, "nb", "data-db-0", "db-0 u3 1\n")
	s.sample(time.Now(), []Copy{{Node: "na", Name: "db-0", Running: true}})
	if s.violations[invHome] != 2 {
		t.Errorf("a claim on two disks: violations %v (%v)", s.violations, *got)
	}
}

func TestReportShowsTheStatefulSet(t *testing.T) {
	rep := &Report{
		Seed: 7, Duration: time.Minute,
		Injected:    map[string]int{"agent-kill": 1},
		Converge:    map[string][]time.Duration{"agent-kill": {4 * time.Second}},
		ConvergeDB:  map[string][]time.Duration{"agent-kill": {3 * time.Second}},
		StatefulSet: []StatefulSetLine{{Invariant: invHome, Checks: 5, Violations: 1}},
	}
	s := rep.String()
	for _, want := range []string{
		"| agent-kill | 1 | 1 | 4s | 4s | 4s | 3s | 3s | 3s |",
		"| " + invHome + " | 5 | 1 |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
}
