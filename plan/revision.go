package plan

import (
	"errors"
	"path"

	"github.com/berth-dev/berth/gitsource"
	"github.com/berth-dev/berth/manifest"
)

// RevisionOf turns what gitsource.Reader.Read returned into one side of
// a plan: invalid manifests become the revision's Errors, any other error
// is returned. Files are named from the repository's root (the loader
// names them from dir), as CI annotations and reviewers need them.
func RevisionOf(snap *gitsource.Snapshot, err error, dir string) (Revision, error) {
	var rej *gitsource.RejectedError
	if errors.As(err, &rej) {
		errs := make(manifest.ErrorList, 0, len(rej.Errors))
		for _, e := range rej.Errors {
			c := *e
			c.File = rooted(dir, c.File)
			errs = append(errs, &c)
		}
		if len(errs) == 0 {
			errs = append(errs, &manifest.Error{File: dir, Message: rej.Err.Error()})
		}
		return Revision{SHA: rej.Revision, Subject: rej.Subject, Errors: errs}, nil
	}
	if err != nil {
		return Revision{}, err
	}
	objs := make([]manifest.Object, len(snap.Objects))
	for i, o := range snap.Objects {
		o.File = rooted(dir, o.File)
		objs[i] = o
	}
	return Revision{SHA: snap.Revision, Subject: snap.Subject, Objects: objs}, nil
}

func rooted(dir, file string) string {
	if dir == "" || dir == "." || file == "" {
		return file
	}
	return path.Join(dir, file)
}
