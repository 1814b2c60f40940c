package gitsource

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// TestFetchRevision: a pull request's ref is fetched into the clone and
// read, and what the Source follows does not move.
func TestFetchRevision(t *testing.T) {
	u := newUpstream(t)
	mainSHA := u.commitPush("main", map[string]string{"pod.yaml": pod("web")})
	prSHA := u.commit("pr", map[string]string{"pod.yaml": pod("web"), "pod2.yaml": pod("api")})
	u.git(u.work, "push", "-q", "origin", "HEAD:refs/pull/7/head")
	log, _ := testLogger(t)
	s, err := New(Options{URL: u.bare, Dir: filepath.Join(t.TempDir(), "clone"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	snap, err := s.FetchRevision(context.Background(), "refs/pull/7/head")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != prSHA || len(snap.Objects) != 2 {
		t.Errorf("snapshot %s with %d objects, want %s with 2", snap.Revision, len(snap.Objects), prSHA)
	}
	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := s.Current().Revision; got != mainSHA {
		t.Errorf("the source follows %s after planning a pull request, want %s", got, mainSHA)
	}
	if _, err := s.FetchRevision(context.Background(), "refs/pull/8/head"); !errors.Is(err, ErrRefNotFound) {
		t.Errorf("a missing ref: %v, want ErrRefNotFound", err)
	}
	if _, err := s.FetchRevision(context.Background(), "refs/../x"); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("a bad ref name: %v, want ErrInvalidOptions", err)
	}
}
