//go:build !berth_agent

package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/reconciler"
)

func TestStatus(t *testing.T) {
	tests := []struct {
		name   string
		status api.SyncStatus
		pods   []*reconciler.PodRecord
		want   string
	}{
		{
			name: "before the first sync",
			want: `Repository:  <none>
Applied:     <none yet>
Last fetch:  never
Sync:        Unknown
`,
		},
		{
			name: "a bad commit and a commit that does not fit",
			status: api.SyncStatus{
				Repository: "http://git.local/app.git", Ref: "main", Path: "deploy",
				Applied:   &api.Revision{SHA: "0123456789abcdef0123", Subject: "web: 3 replicas", Applied: t0.Add(-10 * time.Minute)},
				LastFetch: t0.Add(-5 * time.Second), LastFetchError: "dial tcp: connection refused", LastFetchSuccess: t0.Add(-2 * time.Minute),
				State: "Rejected",
				Rejected: &api.RejectedRevision{
					Revision: api.Revision{SHA: "fedcba9876543210", Subject: "web: 30 replicas"},
					Errors:   []api.ManifestError{{File: "deploy/web.yaml", Line: 12, Field: "spec.replicas", Message: "must be greater than or equal to 0"}},
					Unplaceable: []api.UnplaceablePod{
						{Namespace: "default", Name: "web-x-7", Message: "0/2 nodes are available: 2 Insufficient memory.", Shortfall: "memory 512Mi"},
					},
				},
			},
			pods: []*reconciler.PodRecord{{Unschedulable: "0/2 nodes are available: 1 node(s) were unschedulable.", Created: t0}},
			want: `Repository:            http://git.local/app.git (main), path deploy
Applied:               0123456789ab "web: 3 replicas", applied 10m ago
Last fetch:            5s ago (failed: dial tcp: connection refused; last success 2m ago)
Sync:                  Rejected
Rejected:              fedcba987654 "web: 30 replicas", not applied
  deploy/web.yaml:12:  spec.replicas: must be greater than or equal to 0

Pods of fedcba987654 that do not fit (nothing of it was applied):
NAMESPACE   NAME      SHORTFALL      REASON
default     web-x-7   memory 512Mi   0/2 nodes are available: 2 Insufficient memory.

Pods placed on no node:
NAMESPACE   NAME     SHORTFALL   REASON
jobs        pi-0-x   <none>      0/2 nodes are available: 1 node(s) were unschedulable.
`,
		},
		{
			name: "kinds the repository skips on purpose",
			status: api.SyncStatus{
				Repository: "http://git.local/app.git", State: "Synced",
				Skipped: []api.SkippedObject{{Kind: "Ingress", Namespace: "web", Name: "front", File: "web/ingress.yaml", Line: 3}},
			},
			want: `Repository:  http://git.local/app.git
Applied:     <none yet>
Last fetch:  never
Sync:        Synced

Skipped (not run by berth; .berth.yaml skipKinds):
KIND      NAMESPACE   NAME    FILE
Ingress   web         front   web/ingress.yaml:3
`,
		},
		{
			name: "a revision applied with a warning",
			status: api.SyncStatus{
				Repository: "http://git.local/app.git", Ref: "main",
				Applied:   &api.Revision{SHA: "0123456789abcdef0123", Subject: "db", Applied: t0.Add(-time.Minute)},
				LastFetch: t0.Add(-5 * time.Second), LastFetchSuccess: t0.Add(-5 * time.Second), State: "Synced",
				Warnings: []api.ManifestError{{File: "db.yaml", Line: 4, Field: "stringData", Message: "this Secret's values are in Git in clear text"}},
			},
			want: `Repository:   http://git.local/app.git (main)
Applied:      0123456789ab "db", applied 60s ago
Last fetch:   5s ago
Sync:         Synced
Warnings:     1
  db.yaml:4:  stringData: this Secret's values are in Git in clear text
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newCLIServer(t)
			s.update(func(tx reconciler.Tx) error {
				if tc.status.Repository != "" {
					if err := tx.PutSync(&reconciler.SyncRecord{Status: tc.status}); err != nil {
						return err
					}
				}
				for _, p := range tc.pods {
					p.Pod.Namespace, p.Pod.Name = "jobs", "pi-0-x"
					if err := tx.PutPod(p); err != nil {
						return err
					}
				}
				return nil
			})
			var out bytes.Buffer
			if err := runStatus(context.Background(), s.admin(), &out, t0); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Fatalf("got:\n%s\nwant:\n%s", out.String(), tc.want)
			}
		})
	}
}
