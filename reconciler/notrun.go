package reconciler

import (
	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/manifest"
)

// notRunKinds are the kinds manifest validates but this loop does not run
// yet (none today: StatefulSets, claims and StorageClasses run since
// issue 15). A kind added to manifest before its controller is wired
// belongs here until it is.
var notRunKinds = map[manifest.Kind]bool{}

// notRunYet lists the objects of kinds in notRunKinds. A revision holding
// one is refused with them named at their file and line, so nothing in
// Git is silently ignored; the previous revision keeps running.
func notRunYet(d *Desired) []api.ManifestError {
	var out []api.ManifestError
	for i := range d.Objects {
		o := &d.Objects[i]
		if notRunKinds[o.Kind] {
			out = append(out, api.ManifestError{File: o.File, Line: o.Line, Field: "kind",
				Message: string(o.Kind) + " is valid but this server does not run it yet"})
		}
	}
	return out
}
