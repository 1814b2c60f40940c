package gitsource

import (
	"fmt"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/render"
)

// ReadRevision reads revision rev (a branch, tag, SHA or any revision git
// rev-parse takes, such as origin/main or HEAD~1) of the local repository
// at dir, under path, exactly as the server reads a commit: the commit's
// tree (no work tree), .berth.yaml, the same loader and renderer. With ids
// nil, SOPS-encrypted Secrets stay encrypted (their keys are known, not
// their values); otherwise they are decrypted as the server does.
//
// Invalid manifests are a *RejectedError whose Errors name file:line.
func ReadRevision(dir, rev, path string, ids manifest.IdentitySource) (*Snapshot, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("resolve %q in %s: %w: %v", rev, dir, ErrRefNotFound, err)
	}
	commit, err := peelToCommit(repo, *h)
	if err != nil {
		return nil, fmt.Errorf("resolve %q in %s: %w", rev, dir, err)
	}
	p, err := cleanPath(path)
	if err != nil {
		return nil, err
	}
	loader := &manifest.Loader{Renderer: render.New(render.Limits{})}
	snap, rej := loadCommit(repo, commit, p, loader, ids, ids != nil)
	if rej != nil {
		return nil, rej
	}
	return snap, nil
}
