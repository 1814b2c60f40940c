#!/usr/bin/env bash
# berth on this machine, on examples-repo/ of this repository's own Git
# history: a private containerd, a registry on 127.0.0.1:5000 filled with
# busybox built from Debian's busybox-static, and `berth server` with its
# embedded agent. However it is stopped (Ctrl-C in a terminal or tmux, with
# its output piped through tee, `kill` of the script or of `just`, the
# terminal closing) it stops everything and leaves nothing running.
#
# The BERTH_DEMO_* variables move what it makes, so a test can run it
# beside other work; the examples' images need the registry on port 5000.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
berth="${BERTH_DEMO_BIN:-$root/bin}/berth"
demo=${BERTH_DEMO_DIR:-/tmp/berth-demo}   # short: it holds a unix socket
listen=${BERTH_DEMO_LISTEN:-127.0.0.1:7070}
registry=${BERTH_DEMO_REGISTRY:-127.0.0.1:5000}
namespace=${BERTH_DEMO_NAMESPACE:-berth-demo}   # containerd namespace and cgroup parent
network=${BERTH_DEMO_NETWORK:-berth}            # CNI network
bridge=${BERTH_DEMO_BRIDGE:-berth0}
cidr=${BERTH_DEMO_CIDR:-198.18.0.0/16}
service_cidr=${BERTH_DEMO_SERVICE_CIDR:-198.19.0.0/16}   # cluster DNS on its tenth address

if [ "$(id -u)" != 0 ]; then echo "just demo needs root (containerd, network namespaces)" >&2; exit 1; fi
if ! git -C "$root" rev-parse HEAD >/dev/null 2>&1; then echo "the demo follows this repository's Git history: run it from a clone" >&2; exit 1; fi

# Ctrl-C, Ctrl-\ and Ctrl-Z go to the terminal's foreground process group,
# which holds `just` (and a `| tee`) as well as this script. just from npm
# (rust-just) is a node wrapper around the just binary: on Ctrl-C it exits
# at once and the shell prompt comes back while the cleanup is still
# running. So, when this script runs in the terminal's foreground, it moves
# into a process group of its own and makes that the foreground one: the
# terminal's signals then reach this script alone, `just` and tee keep
# running, and the prompt returns once everything is stopped. The cleanup
# gives the terminal back. Perl (perl-base is Essential in Debian) does
# what bash has no builtin for: setpgid and tcsetpgrp.
if [ -z "${BERTH_DEMO_TTY_PGRP+set}" ]; then
    exec perl -MPOSIX -e '
        $ENV{BERTH_DEMO_TTY_PGRP} = "";
        $SIG{TTOU} = "IGNORE";
        my $pg = getpgrp();
        if (open(my $tty, "+<", "/dev/tty")) {
            my $fd = fileno($tty);
            my $fg = tcgetpgrp($fd);
            if (defined $fg && $fg == $pg && setpgid(0, 0)) {
                if (tcsetpgrp($fd, $$)) {
                    $ENV{BERTH_DEMO_TTY_PGRP} = $pg;
                } else {
                    setpgid(0, $pg);
                }
            }
            close($tty);
        }
        $SIG{TTOU} = "DEFAULT";
        exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\n";
    ' "$0" "$@"
fi
# give_back_terminal makes the process group that had the terminal before
# (just's) its foreground again, if this script's still is.
give_back_terminal() {
    [ -n "$BERTH_DEMO_TTY_PGRP" ] || return 0
    perl -MPOSIX -e '
        $SIG{TTOU} = "IGNORE";
        open(my $tty, "+<", "/dev/tty") or exit 0;
        my $fg = tcgetpgrp(fileno($tty));
        tcsetpgrp(fileno($tty), $ARGV[0]) if defined $fg && $fg == getpgrp();
    ' "$BERTH_DEMO_TTY_PGRP" 2>/dev/null || true
}
# Ctrl-Z would stop the script while just, not stopped, keeps the shell
# waiting: ignore it, and the terminal's stop signals for a background
# write or read once the terminal is given back.
trap '' TSTP TTIN TTOU

# say prints a line if anyone still reads: after Ctrl-C a `| tee` is gone
# and the terminal may be too, and the cleanup must go on regardless.
say() { printf '%s\n' "$*" 2>/dev/null || true; }

pids=()
cleanup() {
    # Nothing stops the cleanup half-way: a second Ctrl-C, the terminal
    # closing (SIGHUP), a closed pipe (SIGPIPE) or another kill are ignored
    # from here on, and so by every command started below.
    trap '' INT TERM HUP PIPE QUIT
    trap - EXIT
    set +e
    say
    say "stopping berth (its agent removes every pod), the registry and containerd..."
    for ((i=${#pids[@]}-1; i>=0; i--)); do
        stop "${pids[i]}"
    done
    ip link del "$bridge" 2>/dev/null
    # containerd leaves the namespace's parent cgroups behind, host-local
    # its lease directory
    find /sys/fs/cgroup/*/"$namespace" -depth -type d -exec rmdir {} + 2>/dev/null
    rm -rf "/var/lib/cni/networks/$network"
    rm -rf "$demo"
    say "stopped; nothing left running."
    give_back_terminal
}
# stop ends one daemon: TERM, up to a minute to finish (berth drains its
# pods), then KILL.
stop() {
    kill -TERM "$1" 2>/dev/null || return 0
    for _ in $(seq 600); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
trap cleanup EXIT
# Ctrl-C is how the demo is meant to end: clean up and exit 0. The same for
# kill, the terminal closing and the reader of our output going away.
trap 'exit 0' INT TERM HUP PIPE QUIT
# `just` forwards a kill (SIGTERM) to us; if it was killed outright
# instead, we notice our parent is gone while we wait and stop too.
parent=$PPID

rm -rf "$demo"
mkdir -p "$demo/registry"
echo "== starting a private containerd in $demo/ctd"
# Each daemon runs in its own session, so Ctrl-C reaches only this script,
# which then stops them in order: berth first (its agent needs containerd to
# remove the pods), then the registry, then containerd.
setsid "$berth" agent containerd --dir "$demo/ctd" </dev/null >"$demo/containerd.log" 2>&1 &
pids+=($!)
echo "== starting a registry on $registry"
cat >"$demo/registry.yml" <<YAML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $demo/registry}}
http: {addr: $registry}
YAML
setsid docker-registry serve "$demo/registry.yml" </dev/null >"$demo/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    [ -S "$demo/ctd/containerd.sock" ] && curl -fs "http://$registry/v2/" >/dev/null && break
    sleep 0.1
done
"$berth" agent push-images --registry "$registry"

echo "== starting berth server on $root (path examples-repo), API on $listen"
setsid "$berth" server --repo "$root" --path examples-repo --interval 2s \
    --data "$demo/data" --listen "$listen" --insecure-http --cluster-cidr "$cidr" --service-cidr "$service_cidr" \
    --agent-node-name demo --agent-namespace "$namespace" --agent-drain-on-exit \
    --agent-network "$network" --agent-bridge "$bridge" --agent-pod-network auto \
    --agent-containerd-socket "$demo/ctd/containerd.sock" --agent-runc-root "$demo/ctd/runc" \
    --agent-run-dir "$demo/run" --agent-log-dir "$demo/logs" --agent-cni-conf "$demo/cni/$network.conflist" </dev/null >"$demo/server.log" 2>&1 &
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
  git commit -am 'web: v2' && $berth sync --wait && $berth rollout status deployment web

Ctrl-C here stops everything.
TXT
# Wait for Ctrl-C (the traps end the script), the server ending, or our
# parent going away.
while kill -0 "${pids[2]}" 2>/dev/null; do
    ppid=$(cut -d' ' -f4 /proc/$$/stat)
    if [ "$ppid" != "$parent" ]; then
        say "the shell that started the demo is gone"
        exit 0
    fi
    sleep 1 &
    wait $! || true
done
say "berth server stopped; its log is in $demo/server.log:"
tail -n 20 "$demo/server.log" 2>/dev/null || true
exit 1
