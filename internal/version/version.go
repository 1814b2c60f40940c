// Package version says which build of berth is running: the version,
// Git commit and build date that `just build` stamps in with -ldflags -X,
// or, for a plain `go build`/`go install`, what the Go toolchain recorded
// in the binary (module version, vcs.revision, vcs.time).
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/berth-dev/berth/api"
)

// Set at link time by `just build`:
//
//	-ldflags "-X github.com/berth-dev/berth/internal/version.version=v0.3.0
//	          -X github.com/berth-dev/berth/internal/version.commit=abc123
//	          -X github.com/berth-dev/berth/internal/version.date=2026-12-03T10:00:00Z"
var version, commit, date string

// Get returns this build's information.
func Get() api.BuildInfo {
	bi, _ := debug.ReadBuildInfo()
	return fromBuild(version, commit, date, bi)
}

// fromBuild merges the link-time values with what the toolchain recorded;
// link-time values win, and a build nothing stamped is "devel".
func fromBuild(v, c, d string, bi *debug.BuildInfo) api.BuildInfo {
	info := api.BuildInfo{
		Version: v, Commit: c, Date: d,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
		Protocol:  api.ProtocolVersion,
	}
	if bi != nil {
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if info.Commit == "" {
					info.Commit = s.Value
				}
			case "vcs.time":
				if info.Date == "" {
					info.Date = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && c == "" && info.Commit != "" && !strings.HasSuffix(info.Commit, "-dirty") {
			info.Commit += "-dirty"
		}
	}
	if info.Version == "" {
		info.Version = "devel"
	}
	return info
}

// String is the one line `berth --version` prints.
func String(i api.BuildInfo) string {
	s := "berth " + i.Version
	if i.Commit != "" {
		c := i.Commit
		if len(c) > 12 && !strings.HasSuffix(c, "-dirty") {
			c = c[:12]
		}
		s += " (" + c
		if i.Date != "" {
			s += ", " + i.Date
		}
		s += ")"
	}
	return fmt.Sprintf("%s %s %s protocol %d", s, i.GoVersion, i.Platform, i.Protocol)
}
