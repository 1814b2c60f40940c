package reconciler

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/metrics"
	"github.com/berth-dev/berth/scheduler"
	"github.com/berth-dev/berth/serviceaddr"
)

// TestSnapshotAdmissionAgrees is the promise `berth plan` makes: on any
// cluster, the verdict Admit gives from the snapshot the API serves (after
// its JSON round trip, as a file in CI) is the verdict the server's loop
// writes when the revision arrives, for every reason the loop refuses a
// revision (kinds not run yet, Service addresses that clash, pods that do
// not fit), with the same problems and the same pods that do not fit.
func TestSnapshotAdmissionAgrees(t *testing.T) {
	// Every kind runs today (issue 15 wired the last ones); a stand-in
	// keeps the not-run-yet refusal in the comparison for the next one.
	notRunKinds[manifest.KindStorageClass] = true
	defer delete(notRunKinds, manifest.KindStorageClass)
	reasons := map[string]int{}
	rapid.Check(t, func(rt *rapid.T) {
		h := newHarness(t)
		// The server's strategy, which the snapshot carries to the plan.
		strategy := rapid.SampledFrom([]scheduler.Strategy{scheduler.StrategySpread, scheduler.StrategyBinpack}).Draw(rt, "strategy")
		rec, err := New(Config{Store: h.store, Source: h.src, Clock: h.clock, LocalZone: time.UTC, Logger: slog.New(slog.DiscardHandler), Strategy: strategy})
		if err != nil {
			t.Fatal(err)
		}
		h.rec = rec
		nodes := rapid.IntRange(1, 4).Draw(rt, "nodes")
		var names []string
		for i := 0; i < nodes; i++ {
			name := fmt.Sprintf("n%d", i)
			names = append(names, name)
			h.addNode(name, "2", fmt.Sprintf("%dMi", rapid.IntRange(2, 16).Draw(rt, "mem")*256))
		}
		// ips are cluster IPs a Service may write: a free one, and those
		// the first revision's Services hold once it is admitted.
		ips := []string{"198.19.0.20"}
		revision := func(label string) string {
			var b strings.Builder
			b.WriteString(deployYAML(rapid.IntRange(0, 8).Draw(rt, label+"-replicas"), rapid.SampledFrom([]string{"nginx:1", "nginx:2"}).Draw(rt, label+"-image")))
			for i := range rapid.IntRange(0, 3).Draw(rt, label+"-pods") {
				b.WriteString(podYAML(fmt.Sprintf("p%d", i), fmt.Sprintf("%dMi", rapid.IntRange(1, 12).Draw(rt, label+"-podmem")*256)))
			}
			for _, svc := range []string{"web", "db", "cache"} {
				if !rapid.Bool().Draw(rt, label+"-"+svc) {
					continue
				}
				var extra string
				if ip := rapid.SampledFrom(append([]string{"", ""}, ips...)).Draw(rt, label+"-"+svc+"-ip"); ip != "" {
					extra += "  clusterIP: " + ip + "\n"
				}
				if port := rapid.SampledFrom([]int{-1, 0, 30001, 30002}).Draw(rt, label+"-"+svc+"-nodeport"); port >= 0 {
					extra += "  type: NodePort\n"
					if port > 0 {
						extra = strings.Replace(serviceYAML(svc, extra), "ports: [{port: 80}]", fmt.Sprintf("ports: [{port: 80, nodePort: %d}]", port), 1)
						b.WriteString(extra)
						continue
					}
				}
				b.WriteString(serviceYAML(svc, extra))
			}
			switch rapid.IntRange(0, 5).Draw(rt, label+"-notrun") {
			case 0:
				b.WriteString("---\napiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: keep}\nprovisioner: berth.dev/local\n")
			case 1:
				b.WriteString("---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: cache}\nspec:\n  accessModes: [ReadWriteOncePod]\n  resources: {requests: {storage: 1Gi}}\n")
			}
			return b.String()
		}
		h.src.push("rev-a", decodeObjs(t, revision("a")))
		h.converge(names...)
		if cordon := rapid.IntRange(-1, nodes-1).Draw(rt, "cordon"); cordon >= 0 {
			if err := h.store.Update(func(tx Tx) error {
				n, err := tx.Node(names[cordon])
				if err != nil {
					return err
				}
				n.Unschedulable = true
				return tx.PutNode(n)
			}); err != nil {
				t.Fatal(err)
			}
		}

		snap, err := NewReads(h.store, nil).WithAdmission(strategy, serviceaddr.DefaultServiceCIDR).Snapshot(h.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"default/web", "default/db", "default/cache"} {
			if a, ok := snap.Services[k]; ok && a.ClusterIP != "" {
				ips = append(ips, a.ClusterIP)
			}
		}
		b, err := json.Marshal(snap)
		if err != nil {
			t.Fatal(err)
		}
		var file api.ClusterSnapshot
		if err := json.Unmarshal(b, &file); err != nil {
			t.Fatal(err)
		}
		next := &Desired{Revision: "rev-b", Subject: "commit rev-b", Objects: decodeObjs(t, revision("b"))}
		st, err := StateOf(&file)
		if err != nil {
			t.Fatal(err)
		}
		adm, err := Admit(next, st, scheduler.Strategy(file.Strategy))
		if err != nil {
			t.Fatal(err)
		}
		reasons[adm.Reason]++

		h.src.cur = next
		h.reconcile()
		sync := h.sync()
		serverAdmitted := sync.Applied != nil && sync.Applied.SHA == "rev-b"
		if planAdmitted := adm.Rejected == nil; planAdmitted != serverAdmitted {
			t.Fatalf("plan says admitted=%t, the server admitted=%t (server: %+v, plan: %+v)", planAdmitted, serverAdmitted, sync.Rejected, adm.Rejected)
		}
		if serverAdmitted {
			return
		}
		if sync.Rejected == nil || sync.Rejected.Revision.SHA != "rev-b" {
			t.Fatalf("the server neither admitted nor refused rev-b: %+v", sync)
		}
		if !reflect.DeepEqual(sync.Rejected.Errors, adm.Rejected.Errors) {
			t.Fatalf("problems differ:\nserver %+v\nplan   %+v", sync.Rejected.Errors, adm.Rejected.Errors)
		}
		if !reflect.DeepEqual(sync.Rejected.Unplaceable, adm.Rejected.Unplaceable) {
			t.Fatalf("unplaceable pods differ:\nserver %+v\nplan   %+v", sync.Rejected.Unplaceable, adm.Rejected.Unplaceable)
		}
		if sync.Rejected.Message != adm.Rejected.Message {
			t.Fatalf("messages differ:\nserver %q\nplan   %q", sync.Rejected.Message, adm.Rejected.Message)
		}
	})
	// The test means something only if the runs met every refusal.
	for _, r := range []string{"", metrics.RefusedFit, metrics.RefusedServiceAddresses, metrics.RefusedNotRunYet} {
		if reasons[r] == 0 {
			t.Errorf("no run drew a revision with verdict %q (%v): widen the generator", r, reasons)
		}
	}
}
