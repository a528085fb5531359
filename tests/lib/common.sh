# tests/lib/common.sh — shell helpers shared by forkcap's end-to-end tests.
# Source it; it never exits on its own.

# Ports. Tests run in parallel (ctest -j), so no test picks a "free" port
# before binding it: every server binds port 0 and reports what it got —
# forkcap in its stats file ("ports", FORKCAP_STATS_FILE), lambda-sim and
# fake-intake in their --port-file. A port that must refuse connections
# (a dead proxy, an intake nobody serves) is REFUSED_PORT: port 1, which is
# privileged and which nothing in the project ever binds.
REFUSED_PORT=1

# fc_port STATS_FILE NAME [SECONDS]: the port forkcap bound for NAME
# (telemetry, dogstatsd, apm, lambda), once its stats file reports it.
fc_port() {
    local f=$1 name=$2 n=$(( ${3:-10} * 20 )) p
    while [ $n -gt 0 ]; do
        p=$(jq -r ".ports.$name // 0" "$f" 2>/dev/null || echo 0)
        [ "${p:-0}" -gt 0 ] 2>/dev/null && { echo "$p"; return 0; }
        sleep 0.05; n=$((n - 1))
    done
    return 1
}

# tinyproxy_start CONF: start `tinyproxy -d` with the settings in file CONF
# plus a Port line; sets TINYPROXY_PORT and TINYPROXY_PID (stop it yourself,
# or let test_tmpdir's trap do it). tinyproxy cannot bind port 0, so ports
# are tried below the kernel's ephemeral range (where every port-0 socket
# and every outgoing connection lives): if another test holds the port,
# tinyproxy exits and the next one is tried. The proxy counts as started
# only once `ss` shows THIS process listening, so another test's proxy on
# the same port is never mistaken for ours.
tinyproxy_start() {
    local conf=$1 lo p i n
    read -r lo _ < /proc/sys/net/ipv4/ip_local_port_range
    [ "$lo" -gt 12000 ] || lo=32768
    for i in $(seq 1 40); do
        p=$(( 10000 + (RANDOM * 32768 + RANDOM) % (lo - 10000) ))
        { cat "$conf"; echo "Port $p"; } > "$conf.run"
        tinyproxy -d -c "$conf.run" >>"$conf.out" 2>&1 &
        TINYPROXY_PID=$!
        for n in $(seq 1 200); do
            if ss -Hltnp "sport = :$p" 2>/dev/null | grep -q "pid=$TINYPROXY_PID,"; then
                TINYPROXY_PORT=$p
                return 0
            fi
            kill -0 "$TINYPROXY_PID" 2>/dev/null || break
            sleep 0.02
        done
        kill "$TINYPROXY_PID" 2>/dev/null || true
        wait "$TINYPROXY_PID" 2>/dev/null || true
    done
    return 1
}

# wait_for_file FILE [SECONDS]: wait until FILE exists and is non-empty.
wait_for_file() {
    local f=$1 n=$(( ${2:-10} * 20 ))
    while [ ! -s "$f" ] && [ $n -gt 0 ]; do sleep 0.05; n=$((n-1)); done
    [ -s "$f" ]
}

# intake_ctl JSON: a failure rule (a status, a delay, a reset; or
# {"clear":true}) through fake-intake's control endpoint on 127.0.0.1:$HTTP_PORT;
# fails unless the intake took it.
intake_ctl() {
    curl -sS --noproxy '*' --max-time 5 -o /dev/null -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' -d "$1" "http://127.0.0.1:$HTTP_PORT/_intake/fail" |
        grep -q '^2' || fail "intake control refused $1"
}

# fail MSG: print and return non-zero (use as `cond || fail "why"`).
fail() { echo "FAIL: $*" >&2; return 1; }

# test_tmpdir: sets T to a fresh temporary folder and, in the calling shell,
# an EXIT trap that kills the shell's background jobs and removes T. Call it
# plainly (`test_tmpdir`), never as `$(test_tmpdir)`: a trap set inside a
# command substitution would fire at once, in the subshell.
test_tmpdir() {
    T=$(mktemp -d "${TMPDIR:-/tmp}/forkcap-test.XXXXXX")
    # shellcheck disable=SC2064
    trap "set +e +o pipefail; jobs -p | xargs -r kill 2>/dev/null; sleep 0.1; jobs -p | xargs -r kill -9 2>/dev/null; rm -rf '$T'" EXIT
}
