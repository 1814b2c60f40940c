package gitsource

import (
	"time"

	"github.com/berth-dev/berth/manifest"
)

// Snapshot is one applied revision: the commit and every object decoded
// from its tree under Options.Path. Snapshots are immutable and share
// decoded objects with each other (an unchanged file keeps its objects
// from one revision to the next), so callers must treat Objects and
// everything they point to as read-only.
type Snapshot struct {
	// Revision is the commit SHA.
	Revision string `json:"revision"`
	// Ref is the full ref name the revision was read from
	// (refs/heads/main), or the SHA when pinned to a commit.
	Ref string `json:"ref"`
	// CommitTime is the committer time.
	CommitTime time.Time `json:"commitTime"`
	// Author is "Name <email>".
	Author string `json:"author"`
	// Subject is the first line of the commit message.
	Subject string `json:"subject"`
	// Signer names the trusted key that signed the commit; nil when
	// verification is off.
	Signer *Signer `json:"signer,omitempty"`
	// Objects are the decoded manifests, in file order, then document order.
	Objects []manifest.Object `json:"-"`
	// Skipped are the objects of kinds .berth.yaml's skipKinds lists:
	// decoded, listed by berth status as "skipped (not run by berth)",
	// never run.
	Skipped []manifest.Object `json:"-"`
	// Warnings are what the revision was accepted with but should change,
	// such as a Secret in clear text in Git (berth status shows them).
	Warnings manifest.ErrorList `json:"warnings,omitempty"`
}
