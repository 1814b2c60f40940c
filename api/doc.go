// Package api holds the wire types of berth's HTTP API (nodes, pod bindings,
// pod status, events), shared by the server, the agent and the CLI. It
// imports no other berth package.
package api
