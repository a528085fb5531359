#!/bin/bash
# shellcheck disable=SC2016 # jq programs in single quotes take their $vars via --arg
# twin.sh COMPOSE_FILE SIM FORKCAP FAKE_INTAKE MAKE_CA —
# deploy/compose/docker-compose.yml run without containers: every service's
# command, environment, volumes, extra_hosts, network_mode and depends_on
# conditions (health checks included) are read from `docker-compose config`
# and run as local processes, in a private network namespace (loopback
# only: the compose file's fixed ports cannot collide with other tests)
# where each service has its own /etc/hosts (service names and extra_hosts
# -> 127.0.0.1, as its container would resolve them). The image's files are
# the build's binaries at the paths the Dockerfile copies them to. A service
# key the twin does not model fails the test, so the two cannot drift.
#
# Asserts: lambda-sim runs every invocation with forkcap and no crash, no
# ERROR from forkcap; the lambda service cannot resolve the intake's name
# (no way round the proxy); every TLS connection the intake saw is a tunnel
# the proxy logged (CONNECT intake.forkcap.test:443) and every request was
# answered 2xx over verified TLS for that name; by the end of SHUTDOWN
# forkcap shipped each function log line once, a REPORT line per
# invocation, aws.lambda.enhanced.invocations = N and the shutdowns metric,
# tagged with the service's DD_SERVICE/DD_ENV. TWIN_KEEP=1 keeps the files.
set -euo pipefail
abs() { readlink -f "$1"; }
COMPOSE=$(abs "$1") SIM=$(abs "$2") FORKCAP=$(abs "$3") INTAKE=$(abs "$4") MAKECA=$(abs "$5")
here=$(cd "$(dirname "$0")" && pwd)
RUN_TARGET=lambda # the service `docker compose run` starts, as README.md shows

if [ -z "${FORKCAP_TWIN_NS:-}" ]; then
    # a PID namespace too: when this script dies, however it dies (ctest's
    # timeout kill), the kernel kills every service process with it
    ns=(unshare -m -n -p -f --kill-child --mount-proc)
    [ "$(id -u)" = 0 ] || ns+=(-r)
    if ! "${ns[@]}" true 2>/dev/null; then
        echo "SKIP: cannot create mount and network namespaces here"; exit 77
    fi
    FORKCAP_TWIN_NS=1 exec "${ns[@]}" bash "$0" "$@"
fi

. "$here/../lib/common.sh"
test_tmpdir
# our own EXIT trap: errexit is off in it (as PID 1 of the namespace, reaped
# jobs can stay listed, and a failed kill must not skip the clean-up)
trap 'set +e; jobs -p | xargs -r kill 2>/dev/null; sleep 0.1; jobs -p | xargs -r kill -9 2>/dev/null
      if [ -n "${TWIN_KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi' EXIT
ip link set lo up

# ---- the compose file, resolved by docker-compose itself
cdir=$(cd "$(dirname "$COMPOSE")" && pwd)
docker-compose -f "$COMPOSE" config > "$T/config.yml" || fail "docker-compose config failed"
python3 -c 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)' \
    < "$T/config.yml" > "$T/config.json"
C=$T/config.json
q() { jq -r "$@" "$C"; }
modelled='["build","image","command","environment","volumes","networks","network_mode",
    "extra_hosts","depends_on","healthcheck","init"]'
extra=$(q --argjson m "$modelled" '[.services | to_entries[] | .key as $s | .value | keys[]
    | select(. as $k | $m | index($k) | not) | "\($s).\(.)"] | join(" ")')
[ -z "$extra" ] || fail "compose keys the twin does not model (teach twin.sh): $extra"

# ---- the image: what the Dockerfile copies, at the same paths
df=$cdir/Dockerfile
ext_path=$(q --arg s "$RUN_TARGET" '.services[$s].command as $c
    | [range(0; $c|length) | select($c[.] == "--extension") | $c[. + 1]] | .[0] // empty')
[ -n "$ext_path" ] || fail "the $RUN_TARGET service starts no --extension"
grep -qE "^COPY --from=build /build/supervisor/forkcap $ext_path\$" "$df" ||
    fail "the Dockerfile does not put forkcap at $ext_path"
grep -qE '^COPY --from=build /build/deploy/sim/lambda-sim /build/deploy/intake/fake-intake /usr/local/bin/$' "$df" ||
    fail "the Dockerfile does not put lambda-sim and fake-intake in /usr/local/bin"
grep -qE '^COPY tests/lib/make-ca.sh /usr/local/bin/make-ca.sh$' "$df" || fail "make-ca.sh not in the image"
# private /srv and /opt (this mount namespace only) hold volumes and image files
mount -t tmpfs -o mode=755 tmpfs /srv
mount -t tmpfs -o mode=755 tmpfs /opt
mkdir -p "$(dirname "$ext_path")"
cp "$FORKCAP" "$ext_path"
mkdir -p "$T/bin"
ln -s "$SIM" "$T/bin/lambda-sim"; ln -s "$INTAKE" "$T/bin/fake-intake"; ln -s "$MAKECA" "$T/bin/make-ca.sh"
IMAGE_PATH=$T/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# ---- per service: hosts file, mounts, environment
services=$(q '.services | keys[]')
nets_of() { q --arg s "$1" '.services[$s] | if .network_mode then empty
    else ((.networks // {"default": null}) | keys[]) end'; }
mkdir -p "$T/svc" "$T/vol" "$T/bind" "$T/log"
for s in $services; do
    h=$T/svc/$s.hosts
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' > "$h"
    q --arg s "$s" '.services[$s].extra_hosts // [] | .[] | capture("^(?<n>[^:]+):(?<ip>.+)$")
        | "\(.ip)\t\(.n)"' >> "$h"
    for n in $(nets_of "$s"); do
        for o in $services; do
            [ "$o" != "$s" ] || continue
            if nets_of "$o" | grep -qx "$n"; then printf '127.0.0.1\t%s\n' "$o" >> "$h"; fi
        done
    done
    : > "$T/svc/$s.mounts"
    q --arg s "$s" '.services[$s].volumes // [] | .[]' | while IFS= read -r v; do
        IFS=: read -r src dst mode <<< "$v"
        mode=${mode:-rw}
        if [ "${src:0:1}" = / ]; then
            # a host path: files of the compose folder read-only as they are,
            # anything writable becomes a fresh folder (the repo stays untouched)
            case $src in "$cdir"/*) [ "$mode" = ro ] || src=$T/bind/${src//\//_};; *) src=$T/bind/${src//\//_};; esac
            [ -e "$src" ] || mkdir -p "$src"
        else
            mkdir -p "$T/vol/$src"; src=$T/vol/$src
        fi
        printf '%s\t%s\t%s\n' "$src" "$dst" "$mode" >> "$T/svc/$s.mounts"
    done
    q --arg s "$s" '.services[$s].environment // {} | to_entries[] | "\(.key)=\(.value)"' > "$T/svc/$s.env"
done
# network_mode "service:X": X's network namespace, so X's hosts file
for s in $services; do
    m=$(q --arg s "$s" '.services[$s].network_mode // ""')
    case $m in
        service:*) cp "$T/svc/${m#service:}.hosts" "$T/svc/$s.hosts";;
        ""|none) ;;
        *) fail "network_mode $m: not modelled by the twin";;
    esac
done

# in_svc S CMD...: CMD as service S's container runs it (only its
# environment). IN_SVC_EXEC=exec replaces the calling (background) subshell,
# so that the job's pid is the service's own and the EXIT trap kills it.
in_svc() {
    local s=$1; shift
    local -a envs=()
    mapfile -t envs < "$T/svc/$s.env"
    ${IN_SVC_EXEC:-} unshare -m bash "$here/svc_ns.sh" "$T/ns/$s" "$T/svc/$s.hosts" "$T/svc/$s.mounts" -- \
        env -i PATH="$IMAGE_PATH" HOME=/root "${envs[@]}" "$@"
}
cmd_of() { q --arg s "$1" '.services[$s].command | if type == "array" then .[] else error("command must be a list") end'; }
healthy() {
    local -a t
    mapfile -t t < <(q --arg s "$1" '.services[$s].healthcheck.test // [] | .[]')
    [ "${t[0]:-}" = CMD ] || fail "service $1: healthcheck test must be a CMD list"
    in_svc "$1" "${t[@]:1}" >/dev/null 2>&1
}

# ---- start in depends_on order, honouring each condition
declare -A state pid
deps_of() { q --arg s "$1" '.services[$s].depends_on // {} | keys[]'; }
oneshot() { q --arg s "$1" '[.services[] | .depends_on // {} | to_entries[]
    | select(.key == $s and .value.condition == "service_completed_successfully")] | length > 0'; }
wait_deps() {
    local s=$1 d cond n
    for d in $(deps_of "$s"); do
        cond=$(q --arg s "$s" --arg d "$d" '.services[$s].depends_on[$d].condition')
        case $cond in
            service_completed_successfully) [ "${state[$d]}" = "done" ] || fail "$s: $d did not complete" || return 1;;
            service_started) [ "${state[$d]}" = running ] || fail "$s: $d is not running" || return 1;;
            service_healthy)
                n=100
                until healthy "$d"; do
                    kill -0 "${pid[$d]:-0}" 2>/dev/null || fail "$d exited: $(tail -5 "$T/log/$d.log")" || return 1
                    n=$((n - 1)); [ $n -gt 0 ] || fail "$d never became healthy: $(tail -5 "$T/log/$d.log")" || return 1
                    sleep 0.1
                done;;
            *) fail "$s: depends_on condition $cond is not modelled by the twin"; return 1;;
        esac
    done
}
for s in $services; do state[$s]=""; done
pending=$(echo "$services" | grep -vx "$RUN_TARGET")
while [ -n "$pending" ]; do
    next=""
    for s in $pending; do
        ok=1
        for d in $(deps_of "$s"); do [ -n "${state[$d]}" ] || ok=0; done
        if [ $ok = 1 ]; then next=$s; break; fi
    done
    [ -n "$next" ] || fail "depends_on has a cycle among: $pending"
    wait_deps "$next"
    mapfile -t cmd < <(cmd_of "$next")
    if [ "$(oneshot "$next")" = true ]; then
        in_svc "$next" "${cmd[@]}" > "$T/log/$next.log" 2>&1 || fail "one-shot $next failed: $(tail -5 "$T/log/$next.log")"
        state[$next]="done"
    else
        IN_SVC_EXEC="exec" in_svc "$next" "${cmd[@]}" > "$T/log/$next.log" 2>&1 &
        pid[$next]=$!; state[$next]=running
    fi
    pending=$(echo "$pending" | grep -vx "$next" || true)
done

# ---- the run target in the foreground, as `docker compose run lambda`
wait_deps "$RUN_TARGET"
mapfile -t cmd < <(cmd_of "$RUN_TARGET")
rc=0
in_svc "$RUN_TARGET" "${cmd[@]}" > "$T/log/$RUN_TARGET.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "lambda-sim exit $rc: $(tail -15 "$T/log/$RUN_TARGET.log")"

# ---- what happened
# host_path S PATH: where PATH inside service S's container is, here
host_path() {
    local src dst mode
    while IFS=$'\t' read -r src dst mode; do
        case $2 in "$dst"/*) echo "$src/${2#"$dst"/}"; return;; "$dst") echo "$src"; return;; esac
    done < "$T/svc/$1.mounts"
    echo "$2"
}
arg_of() { q --arg s "$1" --arg f "$2" '.services[$s].command as $c
    | [range(0; $c|length) | select($c[.] == $f) | $c[. + 1]] | .[0] // empty'; }
report=$(host_path "$RUN_TARGET" "$(arg_of "$RUN_TARGET" --report)")
capture=$(host_path intake "$(arg_of intake --capture)")
invokes=$(arg_of "$RUN_TARGET" --invokes)
lam=$T/log/$RUN_TARGET.log

# the lambda service has no route to the intake but the proxy
if in_svc "$RUN_TARGET" getent hosts intake.forkcap.test >/dev/null; then
    fail "intake.forkcap.test resolves in the $RUN_TARGET service: the proxy could be bypassed"
fi
in_svc "$RUN_TARGET" getent hosts proxy >/dev/null || fail "proxy does not resolve in the $RUN_TARGET service"

sleep 0.3 # the intake appends its capture line after answering
# what the run shipped: the same checks as the containers run (checks.sh)
. "$here/checks.sh"
compose_checks "compose twin" "$invokes" "$report" "$capture" "$lam" "$T/log/proxy.log"
echo ok
