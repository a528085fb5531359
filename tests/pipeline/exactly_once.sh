#!/bin/bash
# Exactly-once enhanced "invocations": counted from the INVOKEs the
# lifecycle received (FT_INVOCATION, spooled and acknowledged only once the
# drain that counted it was delivered), not from telemetry. Part 1: the
# flusher is killed several times during the run. Part 2: telemetry lags far
# behind the invocations (the intake holds every logs post, so backpressure
# makes the platform retry and the platform.* records arrive late). Both:
# aws.lambda.enhanced.invocations at the intake equals the invocations.
# Usage: exactly_once.sh LAMBDA_SIM FORKCAP FAKE_INTAKE MAKE_CA
set -euo pipefail
SIM=$1 FORKCAP=$2 INTAKE=$3 MAKE_CA=$4
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
. "$(dirname "$0")/lib.sh"
test_tmpdir
BASE=$T
E=aws.lambda.enhanced

# ---- part 1: flusher restarts
T=$BASE/restarts
mkdir -p "$T"
pipe_setup
N=40
run_sim "$T" --invokes $N --fn-ms 5 --interval-ms 120 --log-lines 5 &
SIMPID=$!
wait_for_file "$T/stats.json" 10 || fail "no stats file"
kill_loop "$T" flusher 6
rc=0
wait $SIMPID || rc=$?
pipe_stop_intake
check_all_invocations "$T" $N
kills=$(grep -c "killed flusher" "$T/kills.log" || true)
restarts=$(jq '.flusher.restarts' "$T/stats.json")
got=$(sketch_stat $E.invocations cnt)
echo "restarts: $kills kills, $restarts flusher restarts; invocations counted $got of $N"
[ "$kills" -ge 2 ] || fail "too few kills landed ($kills)"
[ "$got" = $N ] || fail "invocations: $got, want $N"
[ "$(sketch_stat $E.duration cnt)" = $N ] || fail "duration: $(sketch_stat $E.duration cnt) reports, want $N"

# ---- part 2: telemetry lag
T=$BASE/lag
mkdir -p "$T"
unset DD_DD_URL DD_LOGS_CONFIG_LOGS_DD_URL
pipe_setup
intake_ctl '{"path":"/api/v2/logs","delay_ms":300}'
N=70
run_sim "$T" --invokes $N --fn-ms 1 --interval-ms 0 --log-lines 5000 --log-bytes 80 || true
pipe_stop_intake
check_all_invocations "$T" $N
got=$(sketch_stat $E.invocations cnt)
retries=$(jq '[.telemetry[].retries] | add // 0' "$T/report.json")
echo "lag: the platform retried $retries telemetry posts; invocations counted $got of $N"
[ "$got" = $N ] || fail "invocations: $got, want $N"
echo "ok"
