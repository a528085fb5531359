#!/bin/bash
# Least privilege: the lifecycle child parses Lambda's JSON and serves the
# listeners; it has no use for the API key or the proxy credentials, so
# its memory must not hold them (a bug there must not leak them). Runs
# forkcap under lambda-sim with a distinctive key and proxy password,
# reads the lifecycle's memory through /proc/<pid>/maps + /proc/<pid>/mem
# (root) and finds neither; the same scan of the flusher, which needs the
# key, finds it (the scan works). Skipped (exit 77, shown as skipped) when not
# root.
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
run_sim "$d" --invokes 4 --interval-ms 1000 --fn-ms 5 --no-freeze &
SIM_PID=$!
for _ in $(seq 1 200); do
    [ "$(jq -r '.phase // ""' "$d/stats.json" 2>/dev/null)" = ready ] && break
    sleep 0.05
done
[ "$(jq -r .phase "$d/stats.json")" = ready ] || fail "forkcap never got ready" || exit 1
LC=$(stat_of "$d" .lifecycle.pid) FL=$(stat_of "$d" .flusher.pid)
[ "$LC" -gt 0 ] && [ "$FL" -gt 0 ] || fail "no child pids in the stats file" || exit 1
lc=$("$MEMSCAN" "$LC" "$KEY" "$PASS" 2>"$T/lc.scan") || fail "cannot read the lifecycle's memory: $(cat "$T/lc.scan")" || exit 1
fl=$("$MEMSCAN" "$FL" "$KEY" 2>"$T/fl.scan") || fail "cannot read the flusher's memory" || exit 1
echo "lifecycle (pid $LC): key found $(echo "$lc" | sed -n 1p), proxy password $(echo "$lc" | sed -n 2p) ($(cat "$T/lc.scan"))"
echo "flusher (pid $FL), which needs the key: found $(echo "$fl" | sed -n 1p)"
wait "$SIM_PID" || fail "lambda-sim exit $?"
check_all_invocations "$d" 4
[ "$(echo "$fl" | sed -n 1p | cut -d' ' -f1)" -ge 1 ] || fail "the scan does not find the key even in the flusher"
[ "$(echo "$lc" | sed -n 1p | cut -d' ' -f1)" = 0 ] || fail "the lifecycle holds the API key: $(echo "$lc" | sed -n 1p)"
[ "$(echo "$lc" | sed -n 2p | cut -d' ' -f1)" = 0 ] || fail "the lifecycle holds the proxy password: $(echo "$lc" | sed -n 2p)"
echo "ok"
