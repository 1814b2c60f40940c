//go:build !berth_agent

package main

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/reconciler"
)

func TestRolloutMessage(t *testing.T) {
	dep := func(gen, observed int64, st appsv1.DeploymentStatus) *appsv1.Deployment {
		st.ObservedGeneration = observed
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Generation: gen}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(3))}, Status: st}
	}
	tests := []struct {
		name    string
		d       *appsv1.Deployment
		want    string
		done    bool
		wantErr error
	}{
		{name: "not observed", d: dep(1, 0, appsv1.DeploymentStatus{}), want: "Waiting for deployment spec update to be observed...\n"},
		{name: "updating", d: dep(1, 1, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1}), want: "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated...\n"},
		{name: "old pending termination", d: dep(1, 1, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 3}), want: "Waiting for deployment \"web\" rollout to finish: 1 old replicas are pending termination...\n"},
		{name: "becoming available", d: dep(1, 1, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 1}), want: "Waiting for deployment \"web\" rollout to finish: 1 of 3 updated replicas are available...\n"},
		{name: "done", d: dep(1, 1, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}), want: "deployment \"web\" successfully rolled out\n", done: true},
		{name: "stuck", d: dep(1, 1, appsv1.DeploymentStatus{Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"}}}), wantErr: errProgressDeadline},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, done, err := rolloutMessage(tc.d)
			if !errors.Is(err, tc.wantErr) || msg != tc.want || done != tc.done {
				t.Fatalf("got %q, %v, %v", msg, done, err)
			}
		})
	}
}

// exampleServer serves exampleManifests and returns the template hash of
// their deployment web.
func exampleServer(t *testing.T) (*cliServer, string) {
	t.Helper()
	s := newCLIServer(t)
	s.load(exampleManifests)
	for _, o := range s.objects {
		if o.Deployment != nil {
			return s, reconciler.DeploymentTemplateHash(o.Deployment)
		}
	}
	t.Fatal("exampleManifests has no deployment")
	return nil, ""
}

// followWeb starts rollout status of deployment web on a fake clock and
// returns once it waits, with its output and its outcome to come.
func followWeb(t *testing.T, s *cliServer) (*clocktesting.FakeClock, *syncBuffer, <-chan error) {
	t.Helper()
	clk := clocktesting.NewFakeClock(t0)
	out := &syncBuffer{}
	errc := make(chan error, 1)
	go func() {
		errc <- rolloutStatus(context.Background(), s.admin(), out, "default", "web", true, clk, time.Second)
	}()
	untilWaiting(t, clk, out)
	return clk, out, errc
}

// untilWaiting returns once rollout status waits on clk.
func untilWaiting(t *testing.T, clk *clocktesting.FakeClock, out *syncBuffer) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !clk.HasWaiters(); runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatalf("rollout status did not wait:\n%s", out.String())
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRolloutStatusFollows drives a rollout through its steps on a fake
// clock and checks the progress lines kubectl would print.
func TestRolloutStatusFollows(t *testing.T) {
	s, hash := exampleServer(t)
	steps := []appsv1.DeploymentStatus{
		{Replicas: 4, UpdatedReplicas: 1, AvailableReplicas: 3},
		{Replicas: 4, UpdatedReplicas: 1, AvailableReplicas: 3}, // no change: no line
		{Replicas: 4, UpdatedReplicas: 3, AvailableReplicas: 3},
		{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 2},
		{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3},
	}
	put := func(st appsv1.DeploymentStatus) {
		s.update(func(tx reconciler.Tx) error {
			return tx.PutDeployment(&reconciler.DeploymentRecord{Namespace: "default", Name: "web", TemplateHash: hash, Status: st})
		})
	}
	put(steps[0])
	clk := clocktesting.NewFakeClock(t0)
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- rolloutStatus(context.Background(), s.admin(), &out, "default", "web", true, clk, time.Second)
	}()
	for _, st := range steps[1:] {
		deadline := time.Now().Add(10 * time.Second)
		for !clk.HasWaiters() {
			if time.Now().After(deadline) {
				t.Fatalf("rollout status stopped waiting early:\n%s", out.String())
			}
			runtime.Gosched()
		}
		put(st)
		clk.Step(time.Second)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := `Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...
Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...
Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...
deployment "web" successfully rolled out
`
	if out.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	t.Run("not a deployment", func(t *testing.T) {
		if _, _, err := s.run("rollout", "status", "job", "migrate"); err == nil {
			t.Fatal("accepted")
		}
	})
}

// TestRolloutStatusWaitsForFetchedRevision: right after a commit the
// deployment still shows the previous revision's finished rollout; rollout
// status must not report it, but wait until the fetched revision is
// applied (or fail when it is refused).
func TestRolloutStatusWaitsForFetchedRevision(t *testing.T) {
	tests := []struct {
		name    string
		then    api.SyncStatus
		want    string
		wantErr string
	}{
		{name: "applied", then: api.SyncStatus{Applied: &api.Revision{SHA: "newrevision"}, Fetched: "newrevision", State: "Synced"},
			want: "Waiting for revision newrevision to be applied...\ndeployment \"web\" successfully rolled out\n"},
		{name: "refused", then: api.SyncStatus{Applied: &api.Revision{SHA: "oldrevision"}, Fetched: "newrevision", State: "Rejected",
			Rejected: &api.RejectedRevision{Revision: api.Revision{SHA: "newrevision"}}},
			want: "Waiting for revision newrevision to be applied...\n", wantErr: `revision newrevision was refused, so deployment "web" does not roll out to it`},
		{name: "a newer revision was fetched and applied meanwhile", then: api.SyncStatus{Applied: &api.Revision{SHA: "newerrevision"}, Fetched: "newerrevision", State: "Synced"},
			want: "Waiting for revision newrevision to be applied...\ndeployment \"web\" successfully rolled out\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hash := exampleServer(t)
			done := appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}
			s.update(func(tx reconciler.Tx) error {
				return errors.Join(
					tx.PutDeployment(&reconciler.DeploymentRecord{Namespace: "default", Name: "web", TemplateHash: hash, Status: done}),
					tx.PutSync(&reconciler.SyncRecord{Status: api.SyncStatus{Applied: &api.Revision{SHA: "oldrevision"}, Fetched: "newrevision", State: "Progressing"}}),
				)
			})
			clk, out, errc := followWeb(t, s)
			if got := out.String(); got != "Waiting for revision newrevision to be applied...\n" {
				t.Fatalf("before the revision is applied it printed:\n%s", got)
			}
			then := tt.then
			s.update(func(tx reconciler.Tx) error { return tx.PutSync(&reconciler.SyncRecord{Status: then}) })
			clk.Step(time.Second)
			var err error
			select {
			case err = <-errc:
			case <-time.After(10 * time.Second):
				t.Fatalf("rollout status still waits:\n%s", out.String())
			}
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if out.String() != tt.want {
				t.Fatalf("got:\n%s\nwant:\n%s", out.String(), tt.want)
			}
		})
	}
}

// TestRolloutStatusWaitsForReconcile: the fetched revision is applied, but
// the loop has not yet reconciled the deployment at it, so its record
// still holds the previous revision's finished rollout (the template is
// the same: only the revision changed). rollout status must not report
// that, but wait until the deployment is reconciled at the revision it
// follows, or at one applied since.
func TestRolloutStatusWaitsForReconcile(t *testing.T) {
	newRev, newerRev := "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"
	tests := []struct {
		name string
		// then is what the loop records next: the deployment reconciled at
		// rev with status st, and applied the revision applied.
		rev, applied string
		st           appsv1.DeploymentStatus
		want         string
	}{
		{name: "reconciled at the revision it follows", rev: newRev, applied: newRev,
			st:   appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 2},
			want: "Waiting for deployment \"web\" rollout to finish: 2 of 3 updated replicas are available...\n"},
		{name: "a newer revision was applied since", rev: newerRev, applied: newerRev,
			st:   appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3},
			want: "deployment \"web\" successfully rolled out (revision 4, Git 222222222222)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hash := exampleServer(t)
			put := func(rev, applied string, st appsv1.DeploymentStatus) {
				s.update(func(tx reconciler.Tx) error {
					return errors.Join(
						tx.PutDeployment(&reconciler.DeploymentRecord{Namespace: "default", Name: "web", TemplateHash: hash, Status: st, RolloutRevision: 4, Revision: rev}),
						tx.PutSync(&reconciler.SyncRecord{Status: api.SyncStatus{Applied: &api.Revision{SHA: applied}, Fetched: applied, State: "Synced"}}),
					)
				})
			}
			// Applied and fetched are newRev; the record is the previous
			// revision's finished rollout.
			put("0000000000000000000000000000000000000000", newRev, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3})
			clk, out, errc := followWeb(t, s)
			reconciling := "Waiting for deployment \"web\" to be reconciled at revision 111111111111...\n"
			if got := out.String(); got != reconciling {
				t.Fatalf("before the loop reconciled the deployment at %s it printed:\n%s", newRev[:12], got)
			}
			put(tt.rev, tt.applied, tt.st)
			clk.Step(time.Second)
			if !strings.Contains(tt.want, "successfully") {
				untilWaiting(t, clk, out)
				put(tt.rev, tt.applied, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3})
				clk.Step(time.Second)
				tt.want += "deployment \"web\" successfully rolled out (revision 4, Git 111111111111)\n"
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != reconciling+tt.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, reconciling+tt.want)
			}
		})
	}
}
