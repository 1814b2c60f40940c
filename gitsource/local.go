package gitsource

import (
	"fmt"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/render"
)

// Reader reads revisions of a local repository exactly as the server
// reads a commit: the commit's tree (no work tree), .berth.yaml, the same
// loader and renderer. Like the server it keeps one loader, so a second
// revision decodes only the files that differ from the first. With ids
// nil, SOPS-encrypted Secrets stay encrypted (their keys are known, not
// their values); otherwise they are decrypted as the server does.
type Reader struct {
	repo   *git.Repository
	dir    string
	path   string
	ids    manifest.IdentitySource
	loader *manifest.Loader
}

// NewReader opens the repository at dir (a clone, bare or not, or a
// directory inside one) to read path of its revisions.
func NewReader(dir, path string, ids manifest.IdentitySource) (*Reader, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	p, err := cleanPath(path)
	if err != nil {
		return nil, err
	}
	return &Reader{repo: repo, dir: dir, path: p, ids: ids, loader: &manifest.Loader{Renderer: render.New(render.Limits{})}}, nil
}

// Read reads revision rev (a branch, tag, SHA or any revision git
// rev-parse takes, such as origin/main or HEAD~1). Invalid manifests are
// a *RejectedError whose Errors name file:line.
func (r *Reader) Read(rev string) (*Snapshot, error) {
	h, err := r.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("resolve %q in %s: %w: %v", rev, r.dir, ErrRefNotFound, err)
	}
	commit, err := peelToCommit(r.repo, *h)
	if err != nil {
		return nil, fmt.Errorf("resolve %q in %s: %w", rev, r.dir, err)
	}
	snap, rej := loadCommit(r.repo, commit, r.path, r.loader, r.ids, r.ids != nil)
	if rej != nil {
		return nil, rej
	}
	return snap, nil
}

// File returns the content of file (named from the repository's root) in
// revision sha, or nil when it cannot be read.
func (r *Reader) File(sha, file string) []byte {
	commit, err := r.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return nil
	}
	f, err := commit.File(file)
	if err != nil {
		return nil
	}
	s, err := f.Contents()
	if err != nil {
		return nil
	}
	return []byte(s)
}
