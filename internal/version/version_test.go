package version

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/berth-dev/berth/api"
)

func TestFromBuild(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef"},
		{Key: "vcs.time", Value: "2026-12-01T00:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	tests := []struct {
		name                string
		version, commit, dt string
		bi                  *debug.BuildInfo
		want                api.BuildInfo
	}{
		{name: "ldflags win", version: "v1.2.3", commit: "abc", dt: "2026-12-03", bi: vcs,
			want: api.BuildInfo{Version: "v1.2.3", Commit: "abc", Date: "2026-12-03", GoVersion: "go1.26.8"}},
		{name: "toolchain fallback marks a dirty tree", bi: vcs,
			want: api.BuildInfo{Version: "devel", Commit: "0123456789abcdef-dirty", Date: "2026-12-01T00:00:00Z", GoVersion: "go1.26.8"}},
		{name: "go install of a tag", bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.9.0"}},
			want: api.BuildInfo{Version: "v0.9.0", GoVersion: "go1.26.8"}},
		{name: "no build info", want: api.BuildInfo{Version: "devel"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fromBuild(tt.version, tt.commit, tt.dt, tt.bi)
			if tt.want.GoVersion == "" {
				tt.want.GoVersion = got.GoVersion
			}
			tt.want.Platform = got.Platform
			tt.want.Protocol = api.ProtocolVersion
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	s := String(api.BuildInfo{Version: "v1.0.0", Commit: "0123456789abcdef", Date: "2026-12-03", GoVersion: "go1.26.8", Platform: "linux/amd64", Protocol: 1})
	if want := "berth v1.0.0 (0123456789ab, 2026-12-03) go1.26.8 linux/amd64 protocol 1"; s != want {
		t.Errorf("got %q, want %q", s, want)
	}
}

func TestCheckAgentProtocol(t *testing.T) {
	server := api.BuildInfo{Version: "v2.0.0", Protocol: api.ProtocolVersion}
	tests := []struct {
		name    string
		agent   api.BuildInfo
		wantErr string
	}{
		{name: "same protocol", agent: api.BuildInfo{Version: "v1.9.0", Protocol: api.ProtocolVersion}},
		{name: "agent before versioning", agent: api.BuildInfo{}},
		{name: "agent newer than server", agent: api.BuildInfo{Version: "v3.0.0", Protocol: api.ProtocolVersion + 1},
			wantErr: "agent v3.0.0 speaks protocol 2, server v2.0.0 speaks protocols 1 to 1: upgrade the server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := api.CheckAgentProtocol(server, tt.agent)
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("got %v, want %q", err, tt.wantErr)
			}
		})
	}
}
