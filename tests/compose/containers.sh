#!/bin/bash
# shellcheck disable=SC2016 # jq programs in single quotes take their $vars via --arg
# containers.sh ROOT — deploy/compose/docker-compose.yml in real containers:
# Debian's podman (runc, cgroupfs) behind its Docker-compatible API, driven
# by Debian's docker-compose, with images built from ROOT by the repository's
# own Dockerfile. `make compose` and the ctest test `compose_containers`.
#
#   1. base images debian:bookworm and debian:bookworm-slim, made once with
#      debootstrap (minbase) from the machine's Debian mirror, then the
#      compose image (deploy/compose/Dockerfile), all in an image store of
#      their own: $FORKCAP_COMPOSE_CACHE (default /var/cache/forkcap-compose),
#      outside the clone, under a lock (several clones share it). The image
#      build is the only step on the machine's network (apt-get inside).
#   2. the run, in namespaces made for it: a network namespace with only
#      loopback up (no test traffic touches the machine's network; the
#      compose networks, their bridges and firewall rules live in it), a PID
#      namespace (nothing outlives the run, even after a SIGKILL) and a mount
#      namespace; podman's containers, volumes and networks in a store of the
#      run's own (a temporary folder; the cached images are read from theirs).
#      `docker-compose up`, then the checks twin.sh makes (checks.sh), on the
#      capture and report read from the `out` volume; then that the lambda
#      service resolves the proxy but not the intake and has no route out;
#      then a second lambda run in which `podman exec … kill -9` kills
#      forkcap's lifecycle and flusher processes, and the same checks on what
#      that run shipped. `docker-compose down -v` and the run's store go at
#      exit, however the run ends.
#
# podman runs no health checks without systemd (it arms them with systemd
# timers): the run plays the timer, running each starting container's own
# health check (`podman healthcheck run`) at the compose file's interval.
#
# Needs root (podman with runc, namespaces); installs podman, runc, netavark,
# aardvark-dns, catatonit and debootstrap when missing (they are not in
# deploy/deps.sh: the compose image's build stage runs that). Exit 77 (skip)
# where containers cannot run. COMPOSE_KEEP=1 keeps the run's folder.
set -euo pipefail
ROOT=$(readlink -f "${1:?usage: containers.sh ROOT}")
here=$(cd "$(dirname "$0")" && pwd)
CACHE=${FORKCAP_COMPOSE_CACHE:-/var/cache/forkcap-compose}
COMPOSE_FILE=$ROOT/deploy/compose/docker-compose.yml
IMAGE=localhost/forkcap-compose:local # the compose file's image
RUN_TARGET=lambda
KILL_INVOKES=40 # the kill run: long enough that both kills land mid-run
skip() { echo "SKIP: $*"; exit 77; }
: "${COMPOSE_T0:=$(date +%s%N)}"; export COMPOSE_T0
say() { local d=$(( ($(date +%s%N) - COMPOSE_T0) / 100000000 )); echo "compose | +$((d / 10)).$((d % 10)) s | $*" >&2; }

if [ -z "${FORKCAP_COMPOSE_STAGE:-}" ]; then
    [ "$(id -u)" = 0 ] || skip "podman runs the compose file's containers as root here; run as root"
    [ -f "$COMPOSE_FILE" ] || { echo "no $COMPOSE_FILE" >&2; exit 2; }
    pkgs="podman runc netavark aardvark-dns catatonit iptables debootstrap docker-compose"
    missing=""
    for p in $pkgs; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        say "installing$missing"
        export DEBIAN_FRONTEND=noninteractive
        # shellcheck disable=SC2086
        { apt-get update -qq -o DPkg::Lock::Timeout=300 &&
          apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 $missing >/dev/null; } ||
            skip "could not install$missing"
    fi
    # a mount namespace of our own: podman's fixed run-time folders
    # (/run/containers, /run/netns) become private tmpfs, the machine's stay
    # untouched
    unshare -m --propagation private true 2>/dev/null || skip "cannot create a mount namespace here"
    FORKCAP_COMPOSE_STAGE=images exec unshare -m --propagation private bash "$0" "$@"
fi

. "$here/../lib/common.sh"

if [ "$FORKCAP_COMPOSE_STAGE" = images ]; then
    for d in /run/containers /run/netns; do
        mkdir -p "$d"; mount -t tmpfs -o mode=755 tmpfs "$d"
    done
    test_tmpdir
    if [ -n "${COMPOSE_KEEP:-}" ]; then trap 'echo "kept $T" >&2' EXIT; fi
    mkdir -p "$CACHE" "$T/tmp" "$T/networks" "$T/log"
    # podman's settings for this machine: no ulimits to raise (the sandbox
    # forbids raising RLIMIT_NOFILE), cgroupfs and runc (crun refuses the
    # hybrid cgroup layout), no systemd (journald, timers); every folder
    # podman writes in is the run's
    cat > "$T/containers.conf" <<EOF
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"
tmp_dir = "$T/tmp"
[network]
network_backend = "netavark"
network_config_dir = "$T/networks"
EOF
    cat > "$T/cache-storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$CACHE/storage"
runroot = "$T/cache-run"
EOF
    cat > "$T/run-storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$T/storage"
runroot = "$T/run"
[storage.options]
additionalimagestores = ["$CACHE/storage"]
EOF
    export CONTAINERS_CONF=$T/containers.conf
    cpodman() { CONTAINERS_STORAGE_CONF=$T/cache-storage.conf podman "$@"; }

    # ---- 1. images, under the cache's lock (exclusive to change the store,
    # shared while a run reads it, so no build re-tags an image in use)
    exec 8>"$CACHE/lock"
    flock -w 1800 8 || fail "$CACHE/lock: held for 30 minutes"
    for tag in bookworm bookworm-slim; do
        cpodman image exists "docker.io/library/debian:$tag" || { base=missing; break; }
    done
    if [ "${base:-}" = missing ]; then
        mirror=$(apt-get indextargets --format '$(SITE) $(RELEASE) $(TARGET_OF)' | awk '$2 == "bookworm" && $3 == "deb" {print $1; exit}')
        security=$(apt-get indextargets --format '$(SITE) $(RELEASE) $(TARGET_OF)' | awk '$2 == "bookworm-security" && $3 == "deb" {print $1; exit}')
        [ -n "$mirror" ] || skip "no Debian bookworm mirror in the apt sources to debootstrap the base image from"
        say "base image: debootstrap --variant=minbase bookworm from $mirror (once; cached in $CACHE)"
        t0=$(date +%s)
        rootfs=$CACHE/rootfs.tmp
        rm -rf "$rootfs"
        debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$T/log/debootstrap.log" 2>&1 ||
            { rm -rf "$rootfs"; tail -20 "$T/log/debootstrap.log" >&2; skip "debootstrap failed (no mirror reachable?)"; }
        # as Debian's own images: the mirror's three suites, no package lists or apt caches
        { echo "deb $mirror bookworm main"; echo "deb $mirror bookworm-updates main"
          [ -z "$security" ] || echo "deb $security bookworm-security main"; } > "$rootfs/etc/apt/sources.list"
        rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
        tar -C "$rootfs" -c . | cpodman import -q - docker.io/library/debian:bookworm >/dev/null
        cpodman tag docker.io/library/debian:bookworm docker.io/library/debian:bookworm-slim
        rm -rf "$rootfs"
        say "base image: $(( $(date +%s) - t0 )) s"
    fi
    # the compose image, with the repository's own Dockerfile and ignore
    # file; the build stage tagged too, so that pruning keeps its cached
    # layers (deps.sh's packages) and drops only what older sources left
    say "building $IMAGE from $ROOT (deploy/compose/Dockerfile)"
    t0=$(date +%s)
    for target in build ""; do
        tag=$IMAGE; [ -z "$target" ] || tag=localhost/forkcap-compose-$target:local
        if ! cpodman build --network host --pull=never --layers ${target:+--target "$target"} \
                --ignorefile "$ROOT/deploy/compose/Dockerfile.dockerignore" \
                -f "$ROOT/deploy/compose/Dockerfile" -t "$tag" "$ROOT" >> "$T/log/build.log" 2>&1; then
            tail -30 "$T/log/build.log" >&2
            fail "podman build of deploy/compose/Dockerfile failed (above)"
        fi
    done
    cpodman image prune -f >/dev/null
    say "images ready in $(( $(date +%s) - t0 )) s ($(du -sh "$CACHE" | cut -f1) in $CACHE)"

    if [ "${COMPOSE_LAYER:-}" = 1 ]; then
        # the layer Dockerfile's Debian stage (`build`: deploy/layer/build.sh,
        # both arches) into ROOT/dist; its Amazon Linux 2023 stage (`check`)
        # needs amazonlinux:2023, which no registry here serves
        say "building deploy/layer/Dockerfile --target build (the zips; Debian sources, both arches)"
        t0=$(date +%s)
        if ! cpodman build --network host --pull=never --layers --target build \
                --ignorefile "$ROOT/deploy/layer/Dockerfile.dockerignore" \
                -f "$ROOT/deploy/layer/Dockerfile" -t localhost/forkcap-layer-build:local "$ROOT" > "$T/log/layer.log" 2>&1; then
            tail -30 "$T/log/layer.log" >&2
            fail "podman build of deploy/layer/Dockerfile --target build failed (above)"
        fi
        grep -E 'layer \||^-rw' "$T/log/layer.log" | tail -6 >&2
        c=$(cpodman create --pull=never localhost/forkcap-layer-build:local true)
        mkdir -p "$ROOT/dist"
        for a in x86_64 arm64; do cpodman cp "$c:/out/forkcap-layer-$a.zip" "$ROOT/dist/"; done
        cpodman rm "$c" >/dev/null
        cpodman image prune -f >/dev/null
        say "layer zips from the Dockerfile's Debian stage in $(( $(date +%s) - t0 )) s:"
        ls -l "$ROOT"/dist/forkcap-layer-*.zip >&2
        say "not run: its Amazon Linux 2023 stage (\`check\`, FROM amazonlinux:2023): no registry serves"
        say "that image here and debootstrap makes only Debian; the static binary is tested by tests/layer"
        exit 0
    fi
    flock -s 8

    # ---- 2. the run
    unshare -n -p -f --kill-child --mount-proc true 2>/dev/null || skip "cannot create network and PID namespaces here"
    rc=0
    FORKCAP_COMPOSE_STAGE=run T=$T unshare -n -p -f --kill-child --mount-proc bash "$0" "$@" || rc=$?
    exit $rc
fi

[ "$FORKCAP_COMPOSE_STAGE" = run ] || { echo "containers.sh: unknown stage" >&2; exit 2; }
export CONTAINERS_STORAGE_CONF=$T/run-storage.conf CONTAINERS_CONF=$T/containers.conf
ip link set lo up
P=forkcapcompose
dc() { timeout 300 docker-compose -p "$P" -f "$COMPOSE_FILE" "$@"; }
export DOCKER_HOST=unix://$T/podman.sock
# as PID 1 of the namespace: clean up with errexit off, whatever failed
cleanup() {
    set +e
    if [ -S "$T/podman.sock" ]; then
        dc down -v --remove-orphans > "$T/log/down.log" 2>&1 ||
            { dc down -v --remove-orphans >> "$T/log/down.log" 2>&1 || cat "$T/log/down.log" >&2; }
        # whatever compose left (it removes in parallel, and a container
        # sharing another's network namespace can make that fail)
        podman rm -af -t 0 >/dev/null 2>&1
        podman volume prune -f >/dev/null 2>&1
        podman network prune -f >/dev/null 2>&1
    fi
    jobs -p | xargs -r kill 2>/dev/null
}
trap 'cleanup; say "cleaned up"' EXIT

# podman, in this namespace, on a socket in the run's folder
podman run --rm --pull=never --network none --entrypoint true "$IMAGE" > "$T/log/probe.log" 2>&1 ||
    skip "podman cannot run a container here: $(tail -3 "$T/log/probe.log")"
podman system service --time=0 "unix://$T/podman.sock" > "$T/log/podman.log" 2>&1 &
n=100
until curl -sf --unix-socket "$T/podman.sock" http://d/_ping >/dev/null 2>&1; do
    n=$((n - 1)); [ $n -gt 0 ] || fail "podman's API socket did not answer: $(tail -5 "$T/log/podman.log")"
    sleep 0.1
done

say "podman API up"
dc config > "$T/config.yml" || fail "docker-compose config failed"
python3 -c 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)' < "$T/config.yml" > "$T/config.json"
C=$T/config.json
q() { jq -r "$@" "$C"; }

# the health-check timer podman cannot arm without systemd: every starting
# container's own check, at the shortest interval the compose file sets
interval=$(q '[.services[].healthcheck.interval // empty | capture("^(?<n>[0-9.]+)(?<u>ms|s)$")
    | (.n | tonumber) / (if .u == "ms" then 1000 else 1 end)] | min // 1')
(
    while :; do
        for c in $(podman ps -q --filter health=starting 2>/dev/null); do
            podman healthcheck run "$c" >/dev/null 2>&1 || true
        done
        sleep "$interval"
    done
) &

cid_of() { dc ps -q "$1" | head -1; }
vol_path() { podman volume inspect "${P}_$1" --format '{{.Mountpoint}}'; }
arg_of() { q --arg s "$1" --arg f "$2" '.services[$s].command as $c
    | [range(0; $c|length) | select($c[.] == $f) | $c[. + 1]] | .[0] // empty'; }
# PATH inside the container -> where the `out`/`certs` volume holds it here
in_volume() {
    local svc=$1 path=$2 v name dst
    for v in $(q --arg s "$svc" '.services[$s].volumes // [] | .[] | if type == "string" then . else "\(.source):\(.target)" end'); do
        IFS=: read -r name dst _ <<< "$v"
        case $path in "$dst"/*) echo "$(vol_path "$name")/${path#"$dst"/}"; return;; esac
    done
    fail "$path of $svc is in no named volume"
}
invokes=$(arg_of "$RUN_TARGET" --invokes)
report_in=$(arg_of "$RUN_TARGET" --report)

# ---- run 1: the compose file as it is
say "docker-compose up (ca, proxy, intake, $RUN_TARGET) in a private network namespace"
t0=$(date +%s%N)
dc up -d --no-build > "$T/log/up.log" 2>&1 || fail "docker-compose up failed: $(tail -15 "$T/log/up.log")"
lam_id=$(cid_of "$RUN_TARGET")
[ -n "$lam_id" ] || fail "no $RUN_TARGET container: $(tail -15 "$T/log/up.log")"
rc=$(timeout 120 podman wait "$lam_id") || fail "the $RUN_TARGET container did not exit"
t1=$(date +%s%N)
podman logs "$lam_id" > "$T/log/lambda.log" 2>&1
podman logs "$(cid_of proxy)" > "$T/log/proxy.log" 2>&1
[ "$rc" = 0 ] || fail "lambda-sim exit $rc: $(tail -15 "$T/log/lambda.log")"
capture=$(in_volume intake "$(arg_of intake --capture)")
report=$(in_volume "$RUN_TARGET" "$report_in")
mkdir -p "$T/run1"
cp "$capture" "$T/run1/capture.jsonl"; cp "$report" "$T/run1/report.json"
say "$RUN_TARGET exited"
. "$here/checks.sh"
compose_checks "compose containers" "$invokes" "$T/run1/report.json" "$T/run1/capture.jsonl" \
    "$T/log/lambda.log" "$T/log/proxy.log"
echo "  up to $RUN_TARGET's exit: $(( (t1 - t0) / 1000000 )) ms"
say "checked"

# ---- run 2: the lambda service again, with --invokes $KILL_INVOKES, and
# forkcap's lifecycle and flusher each killed once with kill -9 mid-run
before=$(wc -l < "$capture")
mapfile -t cmd < <(q --arg s "$RUN_TARGET" --arg n "$KILL_INVOKES" '.services[$s].command as $c
    | [range(0; $c|length) | if $c[. - 1] == "--invokes" and . > 0 then $n else $c[.] end] | .[]')
kill_id=$(dc run -d --no-deps "$RUN_TARGET" "${cmd[@]}" 2> "$T/log/kill-run.log") ||
    fail "docker-compose run failed: $(tail -5 "$T/log/kill-run.log")"
kill_id=$(podman inspect --format '{{.Id}}' "$kill_id")
# pid_of TITLE: the pid of forkcap's child with that process title, in the container
pid_of() {
    podman exec "$kill_id" bash -c 'for d in /proc/[0-9]*; do
        [ "$(tr -d "\0" < "$d/cmdline" 2>/dev/null)" = "$1" ] && echo "${d#/proc/}"; done; true' _ "$1" 2>/dev/null | head -1
}
# wait_log PATTERN: until the container's output shows PATTERN (or it ended)
wait_log() {
    local n=300
    until podman logs "$kill_id" 2>&1 | grep -qE "$1"; do
        [ "$(podman inspect --format '{{.State.Running}}' "$kill_id")" = true ] ||
            fail "the run ended before: $1 (kill the children earlier, or raise KILL_INVOKES)"
        n=$((n - 1)); [ $n -gt 0 ] || fail "never saw: $1"
        sleep 0.1
    done
}
wait_log 'supervisor \| ready in'
say "kill run: forkcap ready"
for child in lifecycle flusher; do
    pid=$(pid_of "forkcap: $child")
    [ -n "$pid" ] || fail "no forkcap $child process in the $RUN_TARGET container"
    podman exec "$kill_id" bash -c "kill -9 $pid" || fail "kill -9 $child ($pid) failed"
    echo "  killed forkcap's $child (pid $pid in the container) with podman exec … kill -9"
    wait_log "restarting $child"
done
say "kill run: both children killed"
rc=$(timeout 120 podman wait "$kill_id") || fail "the kill run's container did not exit"
say "kill run: exited"
podman logs "$kill_id" > "$T/log/lambda-kill.log" 2>&1
podman logs "$(cid_of proxy)" > "$T/log/proxy.log" 2>&1
[ "$rc" = 0 ] || fail "lambda-sim exit $rc in the kill run: $(tail -15 "$T/log/lambda-kill.log")"
grep -qE 'exiting \(.*restarts: lifecycle [1-9][0-9]*, flusher [1-9][0-9]*' "$T/log/lambda-kill.log" ||
    fail "forkcap did not count a lifecycle and a flusher restart: $(grep -E 'exiting|restart' "$T/log/lambda-kill.log" | tail -3)"
mkdir -p "$T/run2"
tail -n +"$((before + 1))" "$capture" > "$T/run2/capture.jsonl"
cp "$report" "$T/run2/report.json"
# every invocation counted once (checks.sh: aws.lambda.enhanced.invocations
# = KILL_INVOKES at the intake), an INVOKE the lifecycle lost in /next from
# its platform.start record, and forkcap's own count is the same
compose_checks "compose containers, children killed" "$KILL_INVOKES" "$T/run2/report.json" "$T/run2/capture.jsonl" \
    "$T/log/lambda-kill.log" "$T/log/proxy.log"
seen=$(sed -nE 's/.*supervisor \| exiting \(([0-9]+) invocations.*/\1/p' "$T/log/lambda-kill.log")
from_start=$(sed -nE 's/.*supervisor \| exiting \([0-9]+ invocations, ([0-9]+) of them from platform\.start.*/\1/p' "$T/log/lambda-kill.log")
inv=$(_compose_sketch_cnt "$T/run2/capture.jsonl" aws.lambda.enhanced.invocations)
[ "$seen" = "$KILL_INVOKES" ] || fail "forkcap counted $seen invocations, $KILL_INVOKES ran"
[ "$inv" = "$seen" ] || fail "forkcap counted $seen invocations but the intake counted $inv"
echo "  forkcap: $(grep -oE 'restarts: lifecycle [0-9]+, flusher [0-9]+' "$T/log/lambda-kill.log"); counted $seen of $KILL_INVOKES invocations (${from_start:-?} from platform.start: INVOKE lost in /next), $inv at the intake"
say "kill run checked"

# the lambda service resolves the proxy, not the intake, and has no route out
# (its network is internal: no default route). A container of its own: an
# exec into a running lambda container would be frozen with the sandbox.
dc run --rm --no-deps "$RUN_TARGET" bash -c \
    'getent hosts proxy >/dev/null || { echo "proxy does not resolve"; exit 1; }
     if getent hosts intake.forkcap.test; then echo "intake.forkcap.test resolves"; exit 1; fi
     if grep -qE "^[^[:space:]]+[[:space:]]+00000000[[:space:]]" /proc/net/route; then echo "a default route:"; cat /proc/net/route; exit 1; fi' \
    > "$T/log/isolation.log" 2>&1 ||
    fail "the $RUN_TARGET service is not isolated behind the proxy: $(tail -5 "$T/log/isolation.log")"
echo "  $RUN_TARGET service: resolves proxy, not intake.forkcap.test; no default route"
say "isolation checked"

# ---- the summary `make compose` shows
echo "lambda-sim (first run):"
grep -E '^(lambda-sim:|  )' "$T/log/lambda.log" | sed 's/^/  /'
echo "capture (first run), requests by kind and status:"
jq -r '"\(.kind) \(.status)"' "$T/run1/capture.jsonl" | sort | uniq -c | sed 's/^/  /'
echo ok
