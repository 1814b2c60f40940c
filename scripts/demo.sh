#!/usr/bin/env bash
# berth on this machine, on examples-repo/ of this repository's own Git
# history: a private containerd, a registry on 127.0.0.1:5000 filled with
# busybox built from Debian's busybox-static, and `berth server` with its
# embedded agent. Ctrl-C stops everything and leaves nothing running.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
berth="$root/bin/berth"
demo=${BERTH_DEMO_DIR:-/tmp/berth-demo}   # short: it holds a unix socket
listen=${BERTH_DEMO_LISTEN:-127.0.0.1:7070}
registry=127.0.0.1:5000

if [ "$(id -u)" != 0 ]; then echo "just demo needs root (containerd, network namespaces)" >&2; exit 1; fi
if ! git -C "$root" rev-parse HEAD >/dev/null 2>&1; then echo "the demo follows this repository's Git history: run it from a clone" >&2; exit 1; fi

pids=()
cleanup() {
    trap - EXIT INT TERM
    echo
    echo "stopping berth (its agent removes every pod), the registry and containerd..."
    for ((i=${#pids[@]}-1; i>=0; i--)); do
        kill -TERM "${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
    done
    ip link del berth0 2>/dev/null || true
    # containerd leaves the namespace's parent cgroups behind
    find /sys/fs/cgroup/*/berth-demo -depth -type d -exec rmdir {} + 2>/dev/null || true
    rm -rf "$demo"
    echo "stopped; nothing left running."
}
trap cleanup EXIT
# Ctrl-C is how the demo is meant to end: clean up and exit 0.
trap 'exit 0' INT TERM

rm -rf "$demo"
mkdir -p "$demo/registry"
echo "== starting a private containerd in $demo/ctd"
# Each daemon runs in its own session, so Ctrl-C reaches only this script,
# which then stops them in order: berth first (its agent needs containerd to
# remove the pods), then the registry, then containerd.
setsid "$berth" agent containerd --dir "$demo/ctd" >"$demo/containerd.log" 2>&1 &
pids+=($!)
echo "== starting a registry on $registry"
cat >"$demo/registry.yml" <<YAML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $demo/registry}}
http: {addr: $registry}
YAML
setsid docker-registry serve "$demo/registry.yml" >"$demo/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    [ -S "$demo/ctd/containerd.sock" ] && curl -fs "http://$registry/v2/" >/dev/null && break
    sleep 0.1
done
"$berth" agent push-images --registry "$registry"

echo "== starting berth server on $root (path examples-repo), API on $listen"
setsid "$berth" server --repo "$root" --path examples-repo --interval 2s \
    --data "$demo/data" --listen "$listen" --insecure-http \
    --agent-node-name demo --agent-namespace berth-demo --agent-drain-on-exit \
    --agent-containerd-socket "$demo/ctd/containerd.sock" --agent-runc-root "$demo/ctd/runc" \
    --agent-run-dir "$demo/run" --agent-log-dir "$demo/logs" --agent-cni-conf "$demo/cni/berth.conflist" >"$demo/server.log" 2>&1 &
pids+=($!)
export BERTH_SERVER="http://$listen"
for _ in $(seq 100); do [ -s "$demo/data/admin.token" ] && break; sleep 0.1; done
BERTH_TOKEN=$(cat "$demo/data/admin.token")
export BERTH_TOKEN

echo "== waiting until every example pod runs (up to 3 minutes)"
deadline=$((SECONDS + 180))
while :; do
    out=$("$berth" get pods 2>/dev/null || true)
    running=$(grep -c ' Running ' <<<"$out" || true)
    # two-containers, webapp, logging and the 3 web replicas
    if [ "$running" -ge 6 ]; then break; fi
    if [ $SECONDS -ge $deadline ]; then
        echo "not all pods run after 3 minutes; the server's log is in $demo/server.log:" >&2
        tail -n 30 "$demo/server.log" >&2
        "$berth" get pods -o wide >&2 || true
        exit 1
    fi
    sleep 2
done
"$berth" get pods -o wide
echo
cat <<TXT
berth runs examples-repo/ from this repository's Git history. Try, in another shell:

  export BERTH_SERVER=$BERTH_SERVER BERTH_TOKEN=\$(cat $demo/data/admin.token)
  $berth status
  $berth get deployments
  $berth logs logging -c log-shipper -f
  $berth get pod two-containers -o wide     # then: curl http://<its IP>/

Then change what runs, the GitOps way:

  sed -i 's/hello from web v1/hello from web v2/' examples-repo/apps/web-deployment.yaml
  git commit -am 'web: v2' && $berth rollout status deployment web

Ctrl-C here stops everything.
TXT
wait "${pids[2]}"
