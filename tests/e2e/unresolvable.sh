#!/bin/bash
# A Runtime API address that does not resolve: the lifecycle exits with
# "restart cannot help", the supervisor does not crash-loop it and stays
# alive (exiting before SHUTDOWN would be Extension.Crash), and still
# shuts down in order on SIGTERM.
set -euo pipefail
FORKCAP=$1
. "$(dirname "$0")/../lib/common.sh"
test_tmpdir
mkdir -p "$T/extensions"; cp "$FORKCAP" "$T/extensions/forkcap"
export FORKCAP_TELEMETRY_PORT=0 DD_DOGSTATSD_PORT=0 DD_APM_RECEIVER_PORT=0 FORKCAP_LAMBDA_PORT=0
export FORKCAP_STATS_FILE=$T/stats.json DD_API_KEY=abcdef0123456789
export AWS_LAMBDA_RUNTIME_API=no-such-host.invalid:9001
"$T/extensions/forkcap" 2> "$T/ext.log" &
pid=$!
for _ in $(seq 1 100); do grep -q "not restarting it" "$T/ext.log" && break; sleep 0.05; done
grep -q "ERROR | supervisor | lifecycle cannot run; not restarting it" "$T/ext.log" || fail "no give-up line: $(cat "$T/ext.log")"
sleep 0.5
kill -0 "$pid" 2>/dev/null || fail "supervisor exited before shutdown"
[ "$(jq .lifecycle.restarts "$T/stats.json")" = 0 ] || fail "lifecycle was restarted"
[ "$(jq -r .lifecycle.state "$T/stats.json")" = gone ] || fail "lifecycle slot not left empty"
kill -TERM "$pid"
wait "$pid" || fail "exit status $? after SIGTERM"
echo "ok"
