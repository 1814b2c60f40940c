# berth — run `just` to list recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

export PATH := env_var("PATH") + ":/usr/local/go/bin:" + env_var_or_default("HOME", "/root") + "/go/bin:/usr/sbin:/sbin"

debs := "gcc linux-libc-dev containerd runc containernetworking-plugins docker-registry busybox-static iptables nftables git gnupg openssh-client openssh-server iproute2 curl systemd tmux"

# What `berth version` reports: the nearest tag (or the commit when there
# is none), the commit, and the commit's date so a rebuild is reproducible.
version := `git describe --tags --always --dirty 2>/dev/null || echo devel`
commit := `git rev-parse HEAD 2>/dev/null || true`
builddate := `git log -1 --format=%cI 2>/dev/null || true`
ldflags := "-X github.com/berth-dev/berth/internal/version.version=" + version + " -X github.com/berth-dev/berth/internal/version.commit=" + commit + " -X github.com/berth-dev/berth/internal/version.date=" + builddate

# List the recipes.
default:
    @just --list

# Install what berth needs (Debian packages, Go tools); safe to run again.
deps:
    #!/usr/bin/env bash
    set -euo pipefail
    missing=""
    for p in {{debs}}; do
        dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        echo "installing Debian packages:$missing"
        if [ "$(id -u)" != 0 ]; then echo "need root to install:$missing" >&2; exit 1; fi
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    fi
    command -v staticcheck >/dev/null || go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
    echo "deps: ok"

# Build into bin/: berth (server, CLI and agent); berth-agent, the agent
# alone (-tags berth_agent: no control-plane packages, stripped) for nodes;
# berth-pause (each pod sandbox's first process, C without a C library);
# and berth-logger (opt-in --logger-binary: a per-container log writer run
# by the shim; by default the agent writes logs itself).
build:
    go build -ldflags="{{ldflags}}" -o bin/berth ./cmd/berth
    go build -tags berth_agent -trimpath -ldflags="-s -w {{ldflags}}" -o bin/berth-agent ./cmd/berth
    gcc -Os -static -nostdlib -fno-stack-protector -fno-asynchronous-unwind-tables -Wl,--build-id=none -s -o bin/berth-pause nodeagent/pause/csrc/pause.c
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/berth-logger ./nodeagent/containerlog/logger

# gofmt, go vet and staticcheck.
lint: deps
    #!/usr/bin/env bash
    set -euo pipefail
    bad=$(gofmt -l $(git ls-files '*.go' ; git ls-files --others --exclude-standard '*.go'))
    if [ -n "$bad" ]; then echo "gofmt needed:"; echo "$bad"; exit 1; fi
    go vet ./...
    staticcheck ./...
    # the lean agent build leaves the control plane out: keep it building
    go vet -tags berth_agent ./cmd/berth
    staticcheck -tags berth_agent ./cmd/berth

# Lint, then every test (unit, integration against real parts, race detector).
test: lint
    go test -race -timeout 40m ./...

# Print the benchmark figures as a table.
bench: deps
    go test -run '^$' -bench . -benchtime 1x -timeout 60m ./... 2>&1 | go run ./internal/benchtable

# internal/chaos: a server and three agents in their own network
# namespaces under a seeded schedule of Git changes and faults, ending with
# a table of faults, convergence times, invariant violations, leaks and the
# longest two-copies overlap. Each run prints its seed; SEED=N replays it.
# `just test` runs a short run (60 s, then until every fault type ran once),
# without the clock faults: they jump the whole machine's wall clock, so
# only runs under the lock make them.
# flock -o: the daemons the test starts do not inherit (and keep) the lock.
# Run the chaos harness for DURATION (e.g. 10m; SEED=N replays a run).
chaos DURATION="10m" SEED="0" TIMEOUT="3h":
    flock -o /tmp/berth-it.lock go test -count=1 -timeout {{TIMEOUT}} -run '^TestChaos$' -v ./internal/chaos -args -chaos.duration={{DURATION}} -chaos.seed={{SEED}}

# Acceptance on a repository nobody here wrote: kubernetes/examples'
# cassandra validates as published and, its image swapped for a stand-in
# built from local files, runs three ordered pods with their own claims on
# two agents. EXAMPLES is a clone of kubernetes/examples (work tree or bare).
accept EXAMPLES="/work/.mirror/kubernetes+examples/repo": deps
    BERTH_KUBERNETES_EXAMPLES={{EXAMPLES}} flock -o /tmp/berth-it.lock go test -tags accept -count=1 -timeout 20m -run '^TestAccept' -v ./internal/e2e

# Run every fuzz target for FUZZTIME each (default 1m).
fuzz FUZZTIME="1m":
    #!/usr/bin/env bash
    set -euo pipefail
    for pkg in $(go list ./...); do
        dir=$(go list -f '{{{{.Dir}}' "$pkg")
        for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
            echo "== $pkg $f for {{FUZZTIME}}"
            go test -run '^$' -fuzz "^$f\$" -fuzztime {{FUZZTIME}} "$pkg"
        done
    done

# Run berth on examples-repo/ (this repository's own Git history) with a
# private containerd and a registry on 127.0.0.1:5000; Ctrl-C stops it all.
demo: deps build demo-prebuilt

# The demo on binaries already built (in $BERTH_DEMO_BIN, default bin/):
# what `demo` runs after building, and what its stop test drives
# (internal/demo; all the ways of stopping it: `just test-demo-stop`).
demo-prebuilt:
    "${BERTH_DEMO_BIN:-bin}/berth" validate examples-repo
    ./scripts/demo.sh

# Stop the demo every way a user does (Ctrl-C in a terminal, in tmux, piped
# through tee, twice, kill of just, the terminal or tmux window closing) with
# pods running, and check each time that just returns only once nothing is
# left. Takes about three minutes (`just test` runs two of the ways).
test-demo-stop: deps
    flock /tmp/berth-it.lock go test -count=1 -timeout 20m -run TestDemoStops ./internal/demo -demo.all
