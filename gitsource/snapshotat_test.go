package gitsource

import (
	"errors"
	"slices"
	"testing"
)

func TestSnapshotAtAnOlderRevision(t *testing.T) {
	u := newUpstream(t)
	first := u.commitPush("first", map[string]string{"a.yaml": pod("a")})
	s, _ := newTestSource(t, u.bare, nil)
	mustSync(t, s)
	second := u.commitPush("second", map[string]string{"b.yaml": pod("b")})
	if snap := mustSync(t, s); snap.Revision != second {
		t.Fatalf("current %s, want %s", snap.Revision, second)
	}

	old, err := s.SnapshotAt(first)
	if err != nil {
		t.Fatal(err)
	}
	if old.Revision != first || old.Subject != "first" || !slices.Equal(names(old), []string{"Pod default/a"}) {
		t.Fatalf("snapshot at first: %s %q %v", old.Revision, old.Subject, names(old))
	}
	// The newest revision stays current, and its decode cache intact.
	if cur := s.Current(); cur.Revision != second {
		t.Fatalf("SnapshotAt changed the current revision to %s", cur.Revision)
	}

	for _, rev := range []string{"main", "0123456789012345678901234567890123456789"} {
		if _, err := s.SnapshotAt(rev); !errors.Is(err, ErrRefNotFound) {
			t.Errorf("SnapshotAt(%q): want ErrRefNotFound, got %v", rev, err)
		}
	}
}
