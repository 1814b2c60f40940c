package nodeagent

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-dev/berth/nodeagent/localstorage"
)

// TestClaimVolumeOutlivesThePod: a claim is provisioned under the storage
// dir on first use, and a later pod (web-0 again, after a scale down and
// up) finds what the first wrote; an agent without --storage-dir fails
// the pod by name.
func TestClaimVolumeOutlivesThePod(t *testing.T) {
	storage, err := localstorage.Open(filepath.Join(t.TempDir(), "storage"))
	if err != nil {
		t.Fatal(err)
	}
	pod := func(uid string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-0", UID: types.UID("u" + uid)},
			Spec: corev1.PodSpec{Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-web-0"}}}}},
		}
	}
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	first, err := prepareVolumes(pod("1"), podDir(t.TempDir()), false, storage, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(first["data"], "ordinal"), []byte("0"), 0o644); err != nil {
		t.Fatal(err)
	}
	second, err := prepareVolumes(pod("2"), podDir(t.TempDir()), false, storage, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(second["data"], "ordinal")); err != nil || string(b) != "0" {
		t.Fatalf("the second pod of data-web-0 reads %q, %v", b, err)
	}
	if _, err := prepareVolumes(pod("3"), podDir(t.TempDir()), false, nil, now); !errors.Is(err, errNoStorageDir) {
		t.Fatalf("without --storage-dir: %v, want errNoStorageDir", err)
	}
}
