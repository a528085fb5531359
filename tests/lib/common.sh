# tests/lib/common.sh — shell helpers shared by forkcap's end-to-end tests.
# Source it; it never exits on its own.

# free_tcp_port: a loopback TCP port nobody listens on right now. Tests run
# in parallel, so never hard-code a port; prefer a server's own --port 0 +
# port file where it has one.
free_tcp_port() {
    local p i
    for i in $(seq 1 200); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"; return 0
        fi
    done
    return 1
}

# wait_for_file FILE [SECONDS]: wait until FILE exists and is non-empty.
wait_for_file() {
    local f=$1 n=$(( ${2:-10} * 20 ))
    while [ ! -s "$f" ] && [ $n -gt 0 ]; do sleep 0.05; n=$((n-1)); done
    [ -s "$f" ]
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
