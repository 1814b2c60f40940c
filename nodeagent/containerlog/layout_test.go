package containerlog

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestPaths(t *testing.T) {
	good := Pod{Namespace: "default", Name: "web", UID: "0b6c-11"}
	tests := []struct {
		name      string
		pod       Pod
		container string
		attempt   int
		want      string
		wantErr   error
	}{
		{name: "layout", pod: good, container: "nginx", attempt: 2, want: "/logs/default_web_0b6c-11/nginx/2.log"},
		{name: "first attempt", pod: good, container: "c", attempt: 0, want: "/logs/default_web_0b6c-11/c/0.log"},
		{name: "dot-dot container", pod: good, container: "..", wantErr: ErrBadName},
		{name: "slash in container", pod: good, container: "a/b", wantErr: ErrBadName},
		{name: "empty container", pod: good, container: "", wantErr: ErrBadName},
		{name: "slash in namespace", pod: Pod{Namespace: "../etc", Name: "web", UID: "u"}, container: "c", wantErr: ErrBadName},
		{name: "underscore in pod name", pod: Pod{Namespace: "default", Name: "a_b", UID: "u"}, container: "c", wantErr: ErrBadName},
		{name: "slash in uid", pod: Pod{Namespace: "default", Name: "web", UID: "x/../../y"}, container: "c", wantErr: ErrBadName},
		{name: "negative attempt", pod: good, container: "c", attempt: -1, wantErr: ErrBadName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.pod.Path("/logs", tt.container, tt.attempt)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Path error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Path = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestParsePodDir(t *testing.T) {
	tests := []struct {
		name    string
		dir     string
		want    Pod
		wantErr bool
	}{
		{name: "ok", dir: "kube-system_dns_abc-123", want: Pod{Namespace: "kube-system", Name: "dns", UID: "abc-123"}},
		{name: "uid with underscore", dir: "ns_pod_a_b", want: Pod{Namespace: "ns", Name: "pod", UID: "a_b"}},
		{name: "too few parts", dir: "ns_pod", wantErr: true},
		{name: "empty part", dir: "ns__uid", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePodDir(tt.dir)
			if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
				t.Fatalf("ParsePodDir(%q) = %+v, %v", tt.dir, got, err)
			}
		})
	}
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestListingAndRemoval(t *testing.T) {
	logDir := t.TempDir()
	old := Pod{Namespace: "default", Name: "web", UID: "old"}
	cur := Pod{Namespace: "default", Name: "web", UID: "new"}
	other := Pod{Namespace: "prod", Name: "db", UID: "u1"}
	for _, f := range []struct {
		pod       Pod
		container string
		attempt   int
	}{
		{old, "app", 0}, {cur, "app", 0}, {cur, "app", 1}, {cur, "app", 10}, {cur, "sidecar", 0}, {other, "pg", 0},
	} {
		p, err := f.pod.Path(logDir, f.container, f.attempt)
		if err != nil {
			t.Fatal(err)
		}
		touch(t, p)
	}
	touch(t, filepath.Join(logDir, "not-a-pod-dir", "x"))
	appDir, _ := cur.ContainerDir(logDir, "app")
	touch(t, filepath.Join(appDir, "10.log.1"))
	touch(t, filepath.Join(appDir, "notes.txt"))
	oldDir, _ := old.Dir(logDir)
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(oldDir, past, past); err != nil {
		t.Fatal(err)
	}

	t.Run("pods", func(t *testing.T) {
		pods, err := Pods(logDir)
		if err != nil || len(pods) != 3 {
			t.Fatalf("Pods = %v, %v", pods, err)
		}
	})
	t.Run("find the newest of a recreated pod", func(t *testing.T) {
		p, err := FindPod(logDir, "default", "web")
		if err != nil || p != cur {
			t.Fatalf("FindPod = %+v, %v; want %+v", p, err, cur)
		}
	})
	t.Run("find a missing pod", func(t *testing.T) {
		if _, err := FindPod(logDir, "default", "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("FindPod error = %v", err)
		}
	})
	t.Run("containers", func(t *testing.T) {
		cs, err := cur.Containers(logDir)
		if err != nil || !slices.Equal(cs, []string{"app", "sidecar"}) {
			t.Fatalf("Containers = %v, %v", cs, err)
		}
	})
	t.Run("attempts in numeric order, rotated files not counted", func(t *testing.T) {
		as, err := Attempts(appDir)
		if err != nil || !slices.Equal(as, []int{0, 1, 10}) {
			t.Fatalf("Attempts = %v, %v", as, err)
		}
	})
	t.Run("attempts of a missing container", func(t *testing.T) {
		as, err := Attempts(filepath.Join(logDir, "nope"))
		if err != nil || len(as) != 0 {
			t.Fatalf("Attempts = %v, %v", as, err)
		}
	})
	t.Run("remove", func(t *testing.T) {
		if err := RemovePod(logDir, cur); err != nil {
			t.Fatal(err)
		}
		dir, _ := cur.Dir(logDir)
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("pod dir still there: %v", err)
		}
		if err := RemovePod(logDir, cur); err != nil {
			t.Fatalf("second removal: %v", err)
		}
		if pods, _ := Pods(logDir); len(pods) != 2 {
			t.Fatalf("other pods touched: %v", pods)
		}
	})
	t.Run("remove refuses a bad name", func(t *testing.T) {
		if err := RemovePod(logDir, Pod{Namespace: "..", Name: "x", UID: "y"}); !errors.Is(err, ErrBadName) {
			t.Fatalf("RemovePod error = %v", err)
		}
	})
}
