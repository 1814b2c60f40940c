package chaos

import (
	"context"
	"strings"
	"testing"
	"time"

	apievents "github.com/containerd/containerd/api/events"

	"github.com/berth-dev/berth/nodeagent"
)

// The task-event tracker opens a window when a pod name's app process
// starts on a second node and closes it when one of them exits or is
// deleted; execs ending, sandboxes and init containers change nothing.
func TestTaskEventsMeasureOverlaps(t *testing.T) {
	labels := map[string]map[string]string{
		"na/web-1-app":  {nodeagent.LabelRole: "container", nodeagent.LabelKind: "app", nodeagent.LabelPodName: "web-1"},
		"nb/web-1-app":  {nodeagent.LabelRole: "container", nodeagent.LabelKind: "app", nodeagent.LabelPodName: "web-1"},
		"nb/web-1":      {nodeagent.LabelRole: "sandbox", nodeagent.LabelPodName: "web-1"},
		"nb/web-1-init": {nodeagent.LabelRole: "container", nodeagent.LabelKind: "init", nodeagent.LabelPodName: "web-1"},
		"nb/web-2-app":  {nodeagent.LabelRole: "container", nodeagent.LabelKind: "app", nodeagent.LabelPodName: "web-2"},
	}
	type step struct {
		ns string
		ev any
	}
	start := func(ns, id string) step { return step{ns, &apievents.TaskStart{ContainerID: id}} }
	exit := func(ns, id string) step { return step{ns, &apievents.TaskExit{ContainerID: id, ID: id}} }
	for _, tc := range []struct {
		name    string
		steps   []step
		windows int
		open    bool // the window is still open at the end
	}{
		{"one node only", []step{start("na", "web-1-app"), start("nb", "web-2-app")}, 0, false},
		{"two nodes, one exits", []step{start("na", "web-1-app"), start("nb", "web-1-app"), exit("na", "web-1-app")}, 1, false},
		{"deleted without an exit seen", []step{start("na", "web-1-app"), start("nb", "web-1-app"), {"nb", &apievents.TaskDelete{ContainerID: "web-1-app"}}}, 1, false},
		{"an exec ending is not the container", []step{start("na", "web-1-app"), start("nb", "web-1-app"), {"na", &apievents.TaskExit{ContainerID: "web-1-app", ID: "probe-1"}}}, 1, true},
		{"sandbox and init container are not the app", []step{start("na", "web-1-app"), start("nb", "web-1"), start("nb", "web-1-init")}, 0, false},
		{"two windows", []step{start("na", "web-1-app"), start("nb", "web-1-app"), exit("nb", "web-1-app"), start("nb", "web-1-app"), exit("na", "web-1-app")}, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			te := newTaskEvents(func(_ context.Context, ns, id string) (map[string]string, error) { return labels[ns+"/"+id], nil })
			te.nsNode = map[string]string{"na": "a", "nb": "b"}
			for _, s := range tc.steps {
				te.apply(context.Background(), s.ns, te.nsNode[s.ns], s.ev)
				time.Sleep(time.Millisecond)
			}
			open := len(te.o.open) > 0
			te.o.finish()
			count, longest, which := te.o.summary()
			if count != tc.windows || open != tc.open {
				t.Fatalf("windows %d (open at the end %t), want %d (%t)", count, open, tc.windows, tc.open)
			}
			if starts, _ := te.counts(); starts == 0 && tc.windows > 0 {
				t.Errorf("no app start counted")
			}
			if count > 0 && (longest <= 0 || !strings.HasPrefix(which, "web-1")) {
				t.Errorf("longest window %v of %q, want > 0 of web-1", longest, which)
			}
		})
	}
}
