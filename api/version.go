package api

import "fmt"

// ProtocolVersion is the version of the agent protocol (register,
// heartbeat, pod watch, status) this build speaks. It is raised only when
// a change breaks agents or servers of the previous number; the server
// accepts agents from MinProtocolVersion up to its own.
const ProtocolVersion = 1

// MinProtocolVersion is the oldest agent protocol a server of this build
// still speaks.
const MinProtocolVersion = 1

// BuildInfo says which build of berth a process is: `berth version`,
// `berth version --server` and an agent's register request carry it.
type BuildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Date      string `json:"date,omitempty"`
	GoVersion string `json:"goVersion,omitempty"`
	Platform  string `json:"platform,omitempty"`
	// Protocol is the agent protocol version the build speaks.
	Protocol int `json:"protocol"`
}

// CheckAgentProtocol returns nil when a server of build server can speak
// with an agent of build agent, and otherwise an error naming both. An
// agent that sends no protocol number predates versioning and spoke
// protocol 1.
func CheckAgentProtocol(server, agent BuildInfo) error {
	p := agent.Protocol
	if p == 0 {
		p = 1
	}
	if p >= MinProtocolVersion && p <= server.Protocol {
		return nil
	}
	return fmt.Errorf("agent %s speaks protocol %d, server %s speaks protocols %d to %d: upgrade the %s",
		orUnknown(agent.Version), p, orUnknown(server.Version), MinProtocolVersion, server.Protocol, olderSide(p, server.Protocol))
}

func olderSide(agent, server int) string {
	if agent > server {
		return "server"
	}
	return "agent"
}

func orUnknown(v string) string {
	if v == "" {
		return "(unknown version)"
	}
	return v
}

// PathVersion answers GET with the server's BuildInfo (any valid token).
const PathVersion = "/berth/v1/version"

// VersionResponse is what `berth version --server` gets.
type VersionResponse struct {
	Server BuildInfo `json:"server"`
}
