package nodeagent

import (
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/berth-dev/berth/api"
)

func testConfigs() *ConfigStore {
	return NewConfigStore(
		api.BoundConfig{Kind: api.KindConfigMap, Namespace: "ns", Name: "app", Data: map[string][]byte{"color": []byte("blue"), "size": []byte("L")}},
		api.BoundConfig{Kind: api.KindSecret, Namespace: "ns", Name: "creds", Data: map[string][]byte{"password": []byte("s3cr3t")}},
		api.BoundConfig{Kind: api.KindConfigMap, Namespace: "other", Name: "app", Data: map[string][]byte{"color": []byte("red")}},
	)
}

func testPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u-1", Labels: map[string]string{"b": "2", "a": "x\"y"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c",
			Resources: corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
			},
		}}},
	}
}

func TestVolumePayload(t *testing.T) {
	mode := func(m int32) *int32 { return &m }
	tests := []struct {
		name    string
		vol     corev1.VolumeSource
		want    map[string]string
		modes   map[string]os.FileMode
		wantErr string
	}{
		{
			name:  "configMap, every key",
			vol:   corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}},
			want:  map[string]string{"color": "blue", "size": "L"},
			modes: map[string]os.FileMode{"color": 0o644},
		},
		{
			name: "configMap items with paths and modes",
			vol: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "app"}, DefaultMode: mode(0o440),
				Items: []corev1.KeyToPath{{Key: "color", Path: "conf/color.txt", Mode: mode(0o400)}, {Key: "size", Path: "size"}},
			}},
			want:  map[string]string{"conf/color.txt": "blue", "size": "L"},
			modes: map[string]os.FileMode{"conf/color.txt": 0o400, "size": 0o440},
		},
		{
			name: "configMap item with a missing key",
			vol: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "app"}, Items: []corev1.KeyToPath{{Key: "nope", Path: "x"}},
			}},
			wantErr: "configmap references non-existent configmap key: nope",
		},
		{
			name:    "missing configMap",
			vol:     corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}}},
			wantErr: `configmap "gone" not found`,
		},
		{
			name: "missing optional configMap is empty",
			vol:  corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Optional: ptr.To(true)}},
			want: map[string]string{},
		},
		{
			name: "secret",
			vol:  corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds", DefaultMode: mode(0o400)}},
			want: map[string]string{"password": "s3cr3t"}, modes: map[string]os.FileMode{"password": 0o400},
		},
		{
			name: "downwardAPI",
			vol: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
				{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
				{Path: "one", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['b']"}},
				{Path: "cpu_limit_m", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "c", Resource: "limits.cpu", Divisor: resource.MustParse("1m")}},
				{Path: "cpu_limit", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "c", Resource: "limits.cpu"}},
				{Path: "mem_mi", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "c", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
			}}},
			want: map[string]string{"labels": "a=\"x\\\"y\"\nb=\"2\"", "name": "p", "one": "2", "cpu_limit_m": "250", "cpu_limit": "1", "mem_mi": "64"},
		},
		{
			name: "projected combines sources",
			vol: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}, Items: []corev1.KeyToPath{{Key: "color", Path: "color"}}}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "ns", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
			}}},
			want: map[string]string{"color": "blue", "password": "s3cr3t", "ns": "ns"},
		},
		{
			name: "projected service account token is refused",
			vol: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
			}}},
			wantErr: "only configMap, secret and downwardAPI",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := corev1.Volume{Name: "v", VolumeSource: tc.vol}
			got, err := volumePayload(testPod(), &v, testConfigs(), "node")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("payload has %d files, want %d: %v", len(got), len(tc.want), got)
			}
			for p, v := range tc.want {
				if string(got[p].Data) != v {
					t.Fatalf("%s = %q, want %q", p, got[p].Data, v)
				}
			}
			for p, m := range tc.modes {
				if got[p].Mode != m {
					t.Fatalf("%s mode %v, want %v", p, got[p].Mode, m)
				}
			}
		})
	}
}

func TestContainerEnvFromConfigs(t *testing.T) {
	ref := func(name string) corev1.LocalObjectReference { return corev1.LocalObjectReference{Name: name} }
	tests := []struct {
		name        string
		env         []corev1.EnvVar
		envFrom     []corev1.EnvFromSource
		want        []string
		wantErr     string
		configError bool
	}{
		{
			name:    "envFrom with prefix, then env refers to it",
			envFrom: []corev1.EnvFromSource{{Prefix: "APP_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: ref("app")}}},
			env:     []corev1.EnvVar{{Name: "X", Value: "$(APP_color)-x"}},
			want:    []string{"APP_color=blue", "APP_size=L", "X=blue-x"},
		},
		{
			name:    "env overrides envFrom in place",
			envFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: ref("creds")}}},
			env:     []corev1.EnvVar{{Name: "password", Value: "plain"}},
			want:    []string{"password=plain"},
		},
		{
			name: "key refs",
			env: []corev1.EnvVar{
				{Name: "C", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: ref("app"), Key: "color"}}},
				{Name: "P", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: ref("creds"), Key: "password"}}},
				{Name: "L", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: resource.MustParse("1m")}}},
			},
			want: []string{"C=blue", "P=s3cr3t", "L=100"},
		},
		{
			name: "optional misses are left unset",
			env: []corev1.EnvVar{
				{Name: "A", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: ref("gone"), Key: "k", Optional: ptr.To(true)}}},
				{Name: "B", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: ref("creds"), Key: "nokey", Optional: ptr.To(true)}}},
			},
			envFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: ref("gone"), Optional: ptr.To(true)}}},
			want:    []string{},
		},
		{
			name:        "missing configMap",
			env:         []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: ref("gone"), Key: "k"}}}},
			wantErr:     `configmap "gone" not found`,
			configError: true,
		},
		{
			name:        "missing secret key",
			env:         []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: ref("creds"), Key: "nokey"}}}},
			wantErr:     "couldn't find key nokey in Secret ns/creds",
			configError: true,
		},
		{
			name:        "missing envFrom secret",
			envFrom:     []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: ref("nope")}}},
			wantErr:     `secret "nope" not found`,
			configError: true,
		},
		{
			name:    "another namespace's object is not seen",
			envFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: ref("app")}}},
			env:     []corev1.EnvVar{{Name: "N", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}},
			want:    []string{"color=blue", "size=L", "N=ns"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPod()
			c := &pod.Spec.Containers[0]
			c.Env, c.EnvFrom = tc.env, tc.envFrom
			got, err := containerEnv(pod, c, "198.18.0.9", "node", testConfigs())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if isConfigError(err) != tc.configError {
					t.Fatalf("isConfigError(%v) = %v", err, !tc.configError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("env %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReadTail(t *testing.T) {
	p := t.TempDir() + "/msg"
	tests := []struct {
		name    string
		content string
		max     int64
		want    string
	}{
		{name: "short", content: "done", max: 4096, want: "done"},
		{name: "over the limit keeps the end", content: "abcdef", max: 4, want: "cdef"},
		{name: "empty", content: "", max: 4096, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := readTail(p, tc.max); got != tc.want {
				t.Fatalf("readTail = %q, want %q", got, tc.want)
			}
		})
	}
	if got := readTail(p+"-missing", 10); got != "" {
		t.Fatalf("missing file gave %q", got)
	}
}

func TestDiskUsageCountsBlocksOnce(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/a", make([]byte, 256*1024), 0o644); err != nil {
		t.Fatal(err)
	}
	empty, err := diskUsage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	one, err := diskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if one-empty < 256*1024 {
		t.Fatalf("a 256 KiB file adds %d bytes", one-empty)
	}
	if err := os.Link(dir+"/a", dir+"/b"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/sparse", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(dir+"/sparse", 1<<30); err != nil {
		t.Fatal(err)
	}
	linked, err := diskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if linked-one > 64*1024 {
		t.Fatalf("a hard link and a sparse 1 GiB file added %d bytes; usage counts allocated blocks, each inode once", linked-one)
	}
}
