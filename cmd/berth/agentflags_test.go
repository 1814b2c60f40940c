package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/berth-dev/berth/nodeagent"
)

func TestParseAllocatable(t *testing.T) {
	machine := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("2"),
		corev1.ResourceMemory: resource.MustParse("8Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	tests := []struct {
		name    string
		flag    map[string]string
		want    corev1.ResourceList
		wantErr string
	}{
		{name: "not given keeps the machine", flag: nil, want: nil},
		{
			name: "named resources replace the machine's",
			flag: map[string]string{"cpu": "500m", "memory": "1Gi"},
			want: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("500m"),
				corev1.ResourceMemory: resource.MustParse("1Gi"),
				corev1.ResourcePods:   resource.MustParse("110"),
			},
		},
		{name: "unknown resource", flag: map[string]string{"gpu": "1"}, wantErr: "want cpu, memory"},
		{name: "bad quantity", flag: map[string]string{"cpu": "lots"}, wantErr: "cpu=lots"},
		{name: "negative", flag: map[string]string{"memory": "-1Gi"}, wantErr: "must not be negative"},
		{name: "more than the machine", flag: map[string]string{"cpu": "3"}, wantErr: "more than the machine has"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseAllocatable(tc.flag, machine)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for name, q := range tc.want {
				if g, ok := got[name]; !ok || g.Cmp(q) != 0 {
					t.Errorf("%s: got %v, want %s", name, got[name], q.String())
				}
			}
			if _, err := parseAllocatable(tc.flag, machine); err != nil || machine.Cpu().String() != "2" {
				t.Errorf("the machine's list was changed: %v", machine)
			}
		})
	}
}

// TestNodeIPRefused: a --node-ip that is not an IPv4 address stops the
// agent before it joins.
func TestNodeIPRefused(t *testing.T) {
	for _, tc := range []struct{ name, ip string }{
		{name: "not an address", ip: "node-a"},
		{name: "IPv6", ip: "fd00::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := nodeagent.Config{NodeName: "n1", RunDir: t.TempDir(), LogDir: t.TempDir()}
			err := runJoined(context.Background(), "http://127.0.0.1:1", "token", &http.Client{}, cfg, joinOptions{nodeIP: tc.ip, logListen: defaultLogListen})
			if err == nil || !strings.Contains(err.Error(), "--node-ip") {
				t.Fatalf("runJoined with --node-ip %s: %v, want the flag named", tc.ip, err)
			}
		})
	}
}
