//go:build !berth_agent

package main

import (
	"log/slog"
	"net/http"

	"k8s.io/utils/clock"

	"github.com/berth-dev/berth/apiserver"
	"github.com/berth-dev/berth/internal/version"
	"github.com/berth-dev/berth/reconciler"
)

// apiParts are the HTTP API and the node membership it registers nodes
// with; run both (membership writes the heartbeats).
type apiParts struct {
	api        *apiserver.Server
	membership *reconciler.Membership
}

// newAPI builds the HTTP API over the store: membership, the agents' pod
// lists (with the configs the reconciler publishes to configs, when not
// nil), the status sink and the users' reads (reads), all reconciler's, and the
// cluster network state (nil: not served).
func newAPI(store reconciler.Store, reads *reconciler.Reads, configs *reconciler.ConfigFeed, tokens reconciler.Tokens, mc reconciler.MembershipConfig,
	hooks map[string]http.Handler, network apiserver.NetworkFeed, ops apiserver.Operator, planner apiserver.Planner, clk clock.WithTicker, log *slog.Logger) (*apiParts, error) {
	mc.Store, mc.Clock, mc.Logger = store, clk, log
	m, err := reconciler.NewMembership(mc)
	if err != nil {
		return nil, err
	}
	pods := reconciler.NewAgentPods(store)
	if configs != nil {
		pods = reconciler.NewAgentPodsWithConfigs(store, configs)
	}
	cfg := apiserver.Config{
		Nodes: m, Pods: pods, Status: reconciler.NewPodReports(store, clk), Reads: reads,
		Claims:    reconciler.NewClaimAdmin(store, reads, clk),
		Network:   network,
		JoinToken: tokens.Agent, AdminToken: tokens.Admin, Hooks: hooks, Clock: clk, Logger: log,
		Build: version.Get(), Ops: ops, Planner: planner,
		NodeCerts: mc.CertOnly,
	}
	if tokens.Bootstrap != nil {
		cfg.Tokens = tokens.Bootstrap
	}
	if mc.CA != nil {
		if cfg.AgentTLS, err = apiserver.AgentTLS(mc.CA); err != nil {
			return nil, err
		}
	}
	srv, err := apiserver.New(cfg)
	if err != nil {
		return nil, err
	}
	return &apiParts{api: srv, membership: m}, nil
}
