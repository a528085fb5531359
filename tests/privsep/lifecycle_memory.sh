#!/bin/bash
# Least privilege: the lifecycle child parses Lambda's JSON and serves the
# listeners; it has no use for the API key or the proxy credentials, so
# its memory must not hold them (a bug there must not leak them). The
# supervisor only hands them to each flusher it starts: it keeps them in a
# sealed memfd, not in its memory. Runs forkcap under lambda-sim with a
# distinctive key and proxy password, reads the lifecycle's and the
# supervisor's memory through /proc/<pid>/maps + /proc/<pid>/mem (root) and
# finds neither; the same scan of the flusher, which needs the key, finds
# it (the scan works). Then the flusher is killed: the one the supervisor
# starts instead has the key again (read back from the sealed copy), the
# supervisor still has none, and every invocation is delivered. Skipped
# (exit 77, shown as skipped) when not root.
# Usage: lifecycle_memory.sh LAMBDA_SIM FORKCAP MEMSCAN
set -euo pipefail
SIM=$1 FORKCAP=$2 MEMSCAN=$3
HERE=$(dirname "$0")
. "$HERE/../lib/common.sh"
. "$HERE/../e2e/e2e_lib.sh"
if [ "$(id -u)" != 0 ]; then
    echo "not root: /proc/<pid>/mem of another process is not readable; skipped"
    exit 77
fi
test_tmpdir
KEY=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
PASS="pw$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
export DD_API_KEY=$KEY
export DD_PROXY_HTTPS="http://proxyuser:$PASS@127.0.0.1:1"
d=$T/run
ext_setup "$d"
run_sim "$d" --invokes 6 --interval-ms 1000 --fn-ms 5 --no-freeze &
SIM_PID=$!
for _ in $(seq 1 200); do
    [ "$(jq -r '.phase // ""' "$d/stats.json" 2>/dev/null)" = ready ] && break
    sleep 0.05
done
[ "$(jq -r .phase "$d/stats.json")" = ready ] || fail "forkcap never got ready" || exit 1
SUP=$(stat_of "$d" .pid) LC=$(stat_of "$d" .lifecycle.pid) FL=$(stat_of "$d" .flusher.pid)
[ "$SUP" -gt 0 ] && [ "$LC" -gt 0 ] && [ "$FL" -gt 0 ] || fail "no pids in the stats file" || exit 1
lc=$("$MEMSCAN" "$LC" "$KEY" "$PASS" 2>"$T/lc.scan") || fail "cannot read the lifecycle's memory: $(cat "$T/lc.scan")" || exit 1
sup=$("$MEMSCAN" "$SUP" "$KEY" "$PASS" 2>"$T/sup.scan") || fail "cannot read the supervisor's memory: $(cat "$T/sup.scan")" || exit 1
fl=$("$MEMSCAN" "$FL" "$KEY" 2>"$T/fl.scan") || fail "cannot read the flusher's memory" || exit 1
echo "lifecycle (pid $LC): key found $(echo "$lc" | sed -n 1p), proxy password $(echo "$lc" | sed -n 2p) ($(cat "$T/lc.scan"))"
echo "supervisor (pid $SUP): key found $(echo "$sup" | sed -n 1p), proxy password $(echo "$sup" | sed -n 2p) ($(cat "$T/sup.scan"))"
echo "flusher (pid $FL), which needs the key: found $(echo "$fl" | sed -n 1p)"
# a new flusher gets the key from the sealed copy, and the supervisor
# still holds none after starting it
kill -KILL "$FL"
FL2=""
for _ in $(seq 1 200); do
    FL2=$(stat_of "$d" .flusher.pid)
    [ "$FL2" -gt 0 ] && [ "$FL2" != "$FL" ] && [ "$(stat_of "$d" .flusher.state)" = up ] && break
    sleep 0.05
done
[ "$FL2" -gt 0 ] && [ "$FL2" != "$FL" ] || fail "no new flusher after killing pid $FL" || exit 1
fl2=""
for _ in $(seq 1 100); do  # it reads the key back first thing; its log masking comes with it
    fl2=$("$MEMSCAN" "$FL2" "$KEY" 2>"$T/fl2.scan") || fail "cannot read the new flusher's memory" || exit 1
    [ "$(echo "$fl2" | sed -n 1p | cut -d' ' -f1)" -ge 1 ] && break
    sleep 0.05
done
sup2=$("$MEMSCAN" "$SUP" "$KEY" "$PASS" 2>"$T/sup2.scan") || fail "cannot read the supervisor's memory" || exit 1
echo "restarted flusher (pid $FL2): key found $(echo "$fl2" | sed -n 1p); supervisor after the restart: key $(echo "$sup2" | sed -n 1p), password $(echo "$sup2" | sed -n 2p)"
wait "$SIM_PID" || fail "lambda-sim exit $?"
check_all_invocations "$d" 6
[ "$(echo "$fl" | sed -n 1p | cut -d' ' -f1)" -ge 1 ] || fail "the scan does not find the key even in the flusher"
[ "$(echo "$fl2" | sed -n 1p | cut -d' ' -f1)" -ge 1 ] || fail "the restarted flusher has no API key"
for who in lc sup sup2; do
    r=${!who}
    [ "$(echo "$r" | sed -n 1p | cut -d' ' -f1)" = 0 ] || fail "$who holds the API key: $(echo "$r" | sed -n 1p)"
    [ "$(echo "$r" | sed -n 2p | cut -d' ' -f1)" = 0 ] || fail "$who holds the proxy password: $(echo "$r" | sed -n 2p)"
done
grep -q 'cannot seal the API key' "$d/ext.log" && fail "the supervisor could not seal the key away"
echo "ok"
