package testenv_test

import (
	"context"
	"net/http"
	"os"
	"testing"

	"github.com/containerd/containerd"

	"github.com/berth-dev/berth/internal/testenv"
)

func TestContainerdAnswersAndCleansUp(t *testing.T) {
	var dir string
	t.Run("start", func(t *testing.T) {
		c := testenv.NewContainerd(t)
		dir = c.Dir
		cl, err := containerd.New(c.Address)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		v, err := cl.Version(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if v.Version == "" {
			t.Fatal("containerd reported no version")
		}
	})
	if dir == "" {
		return
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("containerd dir %s left behind: %v", dir, err)
	}
}

func TestRegistryAnswers(t *testing.T) {
	r := testenv.NewRegistry(t)
	resp, err := http.Get("http://" + r.Host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v2/: %s", resp.Status)
	}
}
