package nodeagent

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "alpha", "B": "$(A)", "EMPTY": ""}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	tests := []struct {
		name, in, want string
	}{
		{name: "no reference", in: "plain text", want: "plain text"},
		{name: "one reference", in: "x-$(A)-y", want: "x-alpha-y"},
		{name: "values are not expanded again", in: "$(B)", want: "$(A)"},
		{name: "undefined stays as written", in: "$(NOPE)", want: "$(NOPE)"},
		{name: "escaped", in: "$$(A)", want: "$(A)"},
		{name: "double dollar alone", in: "cost $$5", want: "cost $5"},
		{name: "unterminated", in: "$(A", want: "$(A"},
		{name: "empty name", in: "$()", want: "$()"},
		{name: "empty value", in: "[$(EMPTY)]", want: "[]"},
		{name: "lone dollar", in: "a$b$", want: "a$b$"},
		{name: "shell syntax untouched", in: "${HOME} $HOME", want: "${HOME} $HOME"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := expand(tc.in, lookup); got != tc.want {
				t.Fatalf("expand(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "$(A)", "$$(A)", "$(", "a$(B)c$(A", "$$$$", "$($(A))"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		none := func(string) (string, bool) { return "", false }
		// With nothing defined, only $$ escapes change the text.
		got := expand(s, none)
		if !strings.Contains(s, "$$") && got != s {
			t.Fatalf("expand(%q) with no variables = %q", s, got)
		}
		same := func(n string) (string, bool) { return "$(" + n + ")", true }
		if !strings.Contains(s, "$$") && expand(s, same) != s {
			t.Fatalf("expand(%q) with identity variables changed it", s)
		}
	})
}

func TestCheckSubPath(t *testing.T) {
	tests := []struct {
		name, sub string
		ok        bool
	}{
		{name: "plain", sub: "a/b", ok: true},
		{name: "dot", sub: "./a", ok: true},
		{name: "dotdot inside name", sub: "a..b", ok: true},
		{name: "absolute", sub: "/etc", ok: false},
		{name: "parent", sub: "../x", ok: false},
		{name: "parent in the middle", sub: "a/../../x", ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkSubPath(tc.sub); (err == nil) != tc.ok {
				t.Fatalf("checkSubPath(%q) = %v, want ok=%v", tc.sub, err, tc.ok)
			}
		})
	}
}

func TestVolumeMountsStayInsideVolume(t *testing.T) {
	vol := t.TempDir()
	tests := []struct {
		name    string
		mount   corev1.VolumeMount
		wantErr string
		wantSrc string
	}{
		{name: "whole volume", mount: corev1.VolumeMount{Name: "v", MountPath: "/v"}, wantSrc: vol},
		{name: "subPath made", mount: corev1.VolumeMount{Name: "v", MountPath: "/v", SubPath: "a/b"}, wantSrc: vol + "/a/b"},
		{name: "escape", mount: corev1.VolumeMount{Name: "v", MountPath: "/v", SubPath: "../../etc"}, wantErr: "'..'"},
		{name: "unknown volume", mount: corev1.VolumeMount{Name: "w", MountPath: "/w"}, wantErr: "names no volume"},
		{name: "relative mount path", mount: corev1.VolumeMount{Name: "v", MountPath: "v"}, wantErr: "absolute"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &corev1.Container{Name: "c", VolumeMounts: []corev1.VolumeMount{tc.mount}}
			ms, err := volumeMounts(c, map[string]string{"v": vol})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ms[0].Source != tc.wantSrc {
				t.Fatalf("source %s, want %s", ms[0].Source, tc.wantSrc)
			}
		})
	}
}

func TestContainerEnv(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u-1"}}
	tests := []struct {
		name    string
		env     []corev1.EnvVar
		want    []string
		wantErr bool
	}{
		{name: "refers to earlier", env: []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "$(A)2"}}, want: []string{"A=1", "B=12"}},
		{name: "later is not seen", env: []corev1.EnvVar{{Name: "B", Value: "$(A)"}, {Name: "A", Value: "1"}}, want: []string{"B=$(A)", "A=1"}},
		{name: "field refs", env: []corev1.EnvVar{
			{Name: "N", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		}, want: []string{"N=p", "IP=198.18.0.9"}},
		{name: "secret ref with no such secret", env: []corev1.EnvVar{{Name: "S", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{}}}}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := containerEnv(pod, &corev1.Container{Name: "c", Env: tc.env}, "198.18.0.9", "node", nil)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("env %v, want %v", got, tc.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "defaults", cfg: Config{PauseBinary: "/x"}},
		{name: "subnet outside the test range", cfg: Config{PodSubnet: "10.0.0.0/24"}, wantErr: "198.18.0.0/15"},
		{name: "subnet too wide", cfg: Config{PodSubnet: "198.0.0.0/8"}, wantErr: "198.18.0.0/15"},
		{name: "relative run dir", cfg: Config{RunDir: "run"}, wantErr: "absolute"},
		{name: "bad namespace", cfg: Config{Namespace: "Bad_NS"}, wantErr: "namespace"},
		{name: "long bridge", cfg: Config{Bridge: "a-very-long-bridge-name"}, wantErr: "bridge"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.cfg.Namespace != "berth" || tc.cfg.PodSubnet != "198.18.0.0/24" {
					t.Fatalf("defaults not filled: %+v", tc.cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestDefaultConflist(t *testing.T) {
	cfg := Config{NetworkName: "n1", Bridge: "br1", PodSubnet: "198.18.7.0/24", RunDir: "/run/x"}
	b, err := defaultConflist(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		CNIVersion string `json:"cniVersion"`
		Name       string
		Plugins    []map[string]any
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, p := range got.Plugins {
		types = append(types, p["type"].(string))
	}
	if got.CNIVersion != "1.0.0" || got.Name != "n1" || strings.Join(types, ",") != "bridge,portmap,loopback" {
		t.Fatalf("conflist %s", b)
	}
	if !strings.Contains(string(b), `"198.18.7.0/24"`) || !strings.Contains(string(b), `"br1"`) || !strings.Contains(string(b), "/run/x/ipam") {
		t.Fatalf("conflist lacks subnet, bridge or lease dir: %s", b)
	}
	if got.Plugins[0]["ipMasq"] != true {
		t.Fatalf("without the pod network, pod traffic is masqueraded: %s", b)
	}
	cfg.PodNetwork = true
	if b, err = defaultConflist(&cfg); err != nil || !strings.Contains(string(b), `"ipMasq": false`) {
		t.Fatalf("with the pod network, pod traffic keeps its source: %s %v", b, err)
	}
}

func TestContainerIDs(t *testing.T) {
	long := strings.Repeat("x", 63)
	tests := []struct {
		name, uid, container string
		attempt              int
	}{
		{name: "short", uid: "u", container: "app", attempt: 0},
		{name: "longest name", uid: "0123-4567", container: long, attempt: 9999},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := containerID(tc.uid, tc.container, tc.attempt)
			if len(id) > 76 {
				t.Fatalf("id %q is %d characters; containerd allows 76", id, len(id))
			}
			if !strings.HasPrefix(id, sandboxID(tc.uid)+"-") {
				t.Fatalf("id %q does not start with its sandbox's", id)
			}
			if seen[id] {
				t.Fatalf("id %q repeats", id)
			}
			seen[id] = true
		})
	}
	if containerID("u", long, 0) == containerID("u", long[:62]+"y", 0) {
		t.Fatal("two long names give one ID")
	}
}

func TestStaticUID(t *testing.T) {
	base := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}
	edited := base.DeepCopy()
	edited.Spec.Containers[0].Image = "j"
	tests := []struct {
		name  string
		a, b  *corev1.Pod
		nodeA string
		nodeB string
		same  bool
	}{
		{name: "same file, same node", a: base, b: base.DeepCopy(), nodeA: "n", nodeB: "n", same: true},
		{name: "other node", a: base, b: base, nodeA: "n", nodeB: "m", same: false},
		{name: "edited spec is a new pod", a: base, b: edited, nodeA: "n", nodeB: "n", same: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if (staticUID(tc.nodeA, tc.a) == staticUID(tc.nodeB, tc.b)) != tc.same {
				t.Fatalf("same=%v expected", tc.same)
			}
		})
	}
}

func TestResolvConfDropsLoopback(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{DNSPolicy: corev1.DNSNone, DNSConfig: &corev1.PodDNSConfig{
		Nameservers: []string{"198.18.0.53"}, Searches: []string{"svc.local"},
	}}}
	got := resolvConf(pod, &Config{})
	if got != "# Managed by berth.\nnameserver 198.18.0.53\nsearch svc.local\n" {
		t.Fatalf("resolv.conf:\n%s", got)
	}
}

// TestResolvConfClusterFirst: with the node's cluster DNS address, a
// ClusterFirst pod gets Kubernetes' resolv.conf; without one, the host's.
func TestResolvConfClusterFirst(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop"}, Spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst}}
	got := resolvConf(pod, &Config{ClusterDNS: "198.19.0.10", ClusterDomain: "cluster.local"})
	for _, line := range []string{"nameserver 198.19.0.10\n", "search shop.svc.cluster.local svc.cluster.local cluster.local", "options ndots:5\n"} {
		if !strings.Contains(got, line) {
			t.Errorf("resolv.conf lacks %q:\n%s", line, got)
		}
	}
	if got := resolvConf(pod, &Config{ClusterDomain: "cluster.local"}); strings.Contains(got, "198.19.0.10") || strings.Contains(got, "ndots:5") {
		t.Errorf("without cluster DNS, resolv.conf is the host's:\n%s", got)
	}
}

// TestNextBackoff: sandbox, image and container creation retry after 10s,
// doubling to 5 min, as the kubelet's back-off does.
func TestNextBackoff(t *testing.T) {
	tests := []struct {
		name       string
		last, want time.Duration
	}{
		{name: "first failure waits the initial 10s", last: 0, want: 10 * time.Second},
		{name: "each further failure doubles", last: 40 * time.Second, want: 80 * time.Second},
		{name: "doubling stops at the 5 min cap", last: 160 * time.Second, want: 5 * time.Minute},
		{name: "at the cap it stays", last: 5 * time.Minute, want: 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextBackoff(tt.last); got != tt.want {
				t.Fatalf("nextBackoff(%s) = %s, want %s", tt.last, got, tt.want)
			}
		})
	}
}
