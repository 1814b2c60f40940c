package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/plan"
)

// TestPlan is issue 16's promise on real processes: `berth plan` on a
// branch, against the running server's snapshot, says what the server
// then does when the branch is merged. A branch that fits is planned
// (exit 1, placements named) and merged: the server places exactly the
// pods the plan named on the nodes it named. A branch that does not fit is
// planned (exit 2) and merged anyway: the server refuses it, naming the
// same pods and shortfalls.
func TestPlan(t *testing.T) {
	c := newCluster(t, clusterOptions{
		prefix: "pln", clusterCIDR: "198.19.108.0/22", nodes: 2,
		interval: time.Second, nodeTimeout: e2eNodeTimeout,
		allocatable: "cpu=1,memory=2Gi",
	})
	ctx := context.Background()
	// A hog holds half of one node's CPU, so spreading the head's pods
	// has one answer (no ties for a tie-break to settle differently).
	hog := strings.Replace(sleeper(c.image, "hog"), "cpu: 10m", "cpu: 500m", 1)
	base := c.apply("a hog", map[string]string{"pods/hog.yaml": hog})
	c.waitApplied(base)
	c.eventually("the hog bound", time.Minute, func() error {
		on, err := c.podsOnNodes()
		if err != nil {
			return err
		}
		if on["hog"] == "" {
			return fmt.Errorf("pods on nodes: %v", on)
		}
		return nil
	})

	// 1. Three web pods of 300m fit: the plan names where they go.
	web := deployment{name: "web", replicas: 3, tag: "1.35", message: "planned", cpu: "300m"}
	fits := c.branch("fits", map[string]string{"apps/web.yaml": web.yaml(c.image)})
	p, code := c.plan("fits")
	if code != 1 || p.Verdict != plan.VerdictChanges || p.Fit == nil || !p.Fit.Admitted {
		t.Fatalf("plan of a branch that fits: exit %d, verdict %s, fit %+v (%s)", code, p.Verdict, p.Fit, p.Summary)
	}
	if p.Head.SHA != fits || p.Base.SHA != base {
		t.Errorf("plan of %s against %s names head %s and base %s", fits[:8], base[:8], p.Head.SHA, p.Base.SHA)
	}
	want := map[string]map[string]int{}
	for _, pl := range p.Fit.Placements {
		want[pl.Owner] = pl.Nodes
	}
	if n := want["deployment web"]; sum(n) != 3 || len(want) != 1 {
		t.Fatalf("plan places %v, want the 3 pods of deployment web", want)
	}
	c.merge("fits")
	c.waitApplied(fits)
	got := map[string]int{}
	c.eventually("3 web pods in the nodes' containerd", 2*time.Minute, func() error {
		on, err := c.podsOnNodes()
		if err != nil {
			return err
		}
		got = map[string]int{}
		for pod, where := range on {
			if strings.HasPrefix(pod, "web-") {
				node, _, _ := strings.Cut(where, "/")
				got[node]++
			}
		}
		if sum(got) != 3 {
			return fmt.Errorf("web pods on nodes: %v", on)
		}
		return nil
	})
	t.Logf("plan placed deployment web %v; the server ran it %v", want["deployment web"], got)
	if !reflect.DeepEqual(got, want["deployment web"]) {
		t.Errorf("the server placed deployment web's pods %v, the plan said %v", got, want["deployment web"])
	}

	// 2. A pod of 800m fits on no node now: the plan says which and why,
	// and the server refuses the merge saying the same.
	huge := strings.Replace(sleeper(c.image, "huge"), "cpu: 10m", "cpu: 800m", 1)
	tooBig := c.branch("too-big", map[string]string{"pods/huge.yaml": huge})
	p, code = c.plan("too-big")
	if code != 2 || p.Verdict != plan.VerdictRefused || p.Fit == nil || p.Fit.Admitted || len(p.Fit.Unfit) == 0 {
		t.Fatalf("plan of a branch that does not fit: exit %d, verdict %s, fit %+v (%s)", code, p.Verdict, p.Fit, p.Summary)
	}
	c.merge("too-big")
	var st *api.SyncStatus
	c.eventually("revision "+tooBig[:8]+" refused", time.Minute, func() error {
		var err error
		if st, err = c.admin.Status(ctx); err != nil {
			return err
		}
		if st.Rejected == nil || st.Rejected.SHA != tooBig {
			return fmt.Errorf("state %s, applied %+v, rejected %+v", st.State, st.Applied, st.Rejected)
		}
		return nil
	})
	if st.Applied == nil || st.Applied.SHA != fits {
		t.Errorf("applied %+v after the refusal, want %s", st.Applied, fits[:8])
	}
	var planned, refused []string
	for _, u := range p.Fit.Unfit {
		planned = append(planned, fmt.Sprintf("%s/%s: %s; %s", u.Namespace, u.Pods, u.Message, u.Shortfall))
	}
	for _, u := range st.Rejected.Unplaceable {
		refused = append(refused, fmt.Sprintf("%s/%s: %s; %s", u.Namespace, u.Name, u.Message, u.Shortfall))
	}
	t.Logf("plan: %s\nserver: %s", strings.Join(planned, "; "), strings.Join(refused, "; "))
	if !reflect.DeepEqual(planned, refused) {
		t.Errorf("the plan named\n  %s\nthe server refused\n  %s", strings.Join(planned, "\n  "), strings.Join(refused, "\n  "))
	}
	if !strings.Contains(strings.Join(planned, ""), "huge") {
		t.Errorf("the plan does not name pod huge: %v", planned)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// branch commits files on a new branch off main, as a pull request's
// author does, and leaves the work tree on main; it returns the SHA.
func (c *cluster) branch(name string, files map[string]string) string {
	c.t.Helper()
	c.repo.Git(c.repo.Work, "checkout", "-q", "-b", name, "main")
	sha := c.repo.Commit(name, files)
	c.repo.Git(c.repo.Work, "checkout", "-q", "main")
	return sha
}

// merge fast-forwards main to the branch, pushes and tells the server.
func (c *cluster) merge(name string) {
	c.t.Helper()
	c.repo.Git(c.repo.Work, "merge", "-q", "--ff-only", name)
	c.repo.Push()
	c.hook()
}

// plan runs `berth plan -o json` on the work tree for head against
// origin/main, with the running server's snapshot (the CLI config the
// server wrote names it), and returns the plan and the exit status.
func (c *cluster) plan(head string) (*plan.Plan, int) {
	c.t.Helper()
	cmd := exec.Command(bins.berth, "plan", "--repo", c.repo.Work, "--base", "origin/main", "--head", head, "-o", "json")
	cmd.Env = append(os.Environ(), "BERTH_SERVER=", "BERTH_TOKEN=", "BERTH_CONFIG="+filepath.Join(c.dir, "cli.json"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		c.t.Fatalf("berth plan: %v", err)
	}
	var p plan.Plan
	if err := json.Unmarshal(stdout.Bytes(), &p); err != nil {
		c.t.Fatalf("berth plan --head %s (exit %d): %v\nstdout: %s\nstderr: %s", head, code, err, stdout.String(), stderr.String())
	}
	return &p, code
}
