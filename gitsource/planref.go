package gitsource

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
)

// planRefPrefix is where FetchRevision keeps what it fetched: outside
// refs/heads, refs/tags and refs/remotes, so nothing the Source follows
// or resolves can see it.
const planRefPrefix = "refs/berth/plan/"

// FetchRevision fetches ref from the remote into the clone, without
// changing what the Source follows, and reads its snapshot as every
// revision is read (signature, manifests, decryption). ref is a full ref
// name (refs/pull/123/head, refs/merge-requests/7/head, refs/heads/topic),
// a branch name, or a full commit SHA already in the clone. `berth plan
// --server URL --ref REF` uses it so the server plans a pull request from
// its own clone.
func (s *Source) FetchRevision(ctx context.Context, ref string) (*Snapshot, error) {
	if isFullSHA(ref) {
		return s.SnapshotAt(ref)
	}
	full := ref
	if !strings.HasPrefix(full, "refs/") {
		full = "refs/heads/" + ref
	}
	if err := checkRefName(full); err != nil {
		return nil, fmt.Errorf("fetch %q: %w: %v", ref, ErrInvalidOptions, err)
	}
	sha, err := s.fetchForPlan(ctx, full)
	if err != nil {
		return nil, err
	}
	return s.SnapshotAt(sha)
}

func (s *Source) fetchForPlan(ctx context.Context, full string) (string, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.closed {
		return "", ErrClosed
	}
	repo, err := s.openRepo()
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", full, err)
	}
	if s.stillBusy() {
		return "", s.fetchErr("fetch", ErrUnavailable, "the previous call has not ended yet")
	}
	auth, secrets, err := authFor(&s.opts, s.ep)
	if err != nil {
		return "", s.fetchErr("fetch", ErrAuth, redact(err.Error(), secrets))
	}
	local := plumbing.ReferenceName(planRefPrefix + strings.TrimPrefix(full, "refs/"))
	if err := s.fetch(ctx, repo, auth, secrets, []config.RefSpec{config.RefSpec("+" + full + ":" + string(local))}); err != nil {
		return "", err
	}
	r, err := repo.Reference(local, true)
	if err != nil {
		return "", s.fetchErr("fetch", ErrRefNotFound, fmt.Sprintf("%s is not on the remote", full))
	}
	c, err := peelToCommit(repo, r.Hash())
	if err != nil {
		return "", s.fetchErr("fetch", ErrRefNotFound, fmt.Sprintf("%s does not name a commit: %v", full, err))
	}
	return c.Hash.String(), nil
}
