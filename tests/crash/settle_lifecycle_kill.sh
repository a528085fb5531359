#!/bin/bash
# The lifecycle dies as SHUTDOWN arrives (test-hooks build: it SIGKILLs
# itself once FT_SHUTDOWN is written), before Lambda's last telemetry (the
# last invocation's records, sent after SHUTDOWN) reaches it. The supervisor
# restarts it at once to serve the telemetry listener (no /next after
# SHUTDOWN), so Lambda's retried telemetry is taken, and the final flush
# ships what it carries: every function log line and every invocation's
# REPORT reach the intake.
# Usage: settle_lifecycle_kill.sh LAMBDA_SIM FORKCAP_TESTHOOKS FAKE_INTAKE MAKE_CA
set -euo pipefail
SIM=$1 FORKCAP=$2 INTAKE=$3 MAKE_CA=$4
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
. "$(dirname "$0")/../pipeline/lib.sh"
test_tmpdir
export DD_SERVERLESS_FLUSH_STRATEGY=continuously,60000
export FORKCAP_TEST_LIFECYCLE_DIE_AT_SHUTDOWN=1
pipe_setup

N=5 LINES=4
rc=0
run_sim "$T" --invokes $N --fn-ms 5 --interval-ms 0 --log-lines $LINES --log-bytes 100 || rc=$?
pipe_stop_intake
R=$T/report.json
[ -s "$R" ] || fail "no report (lambda-sim exit $rc)"
check_all_invocations "$T" $N
[ "$(grep -c "test hook: dying at SHUTDOWN" "$T/ext.log")" = 1 ] || fail "the hook did not fire once"
grep -q "lifecycle (pid [0-9]*) killed by signal 9" "$T/ext.log" || fail "the lifecycle did not die"
grep -q "restarting lifecycle in 0 ms" "$T/ext.log" || fail "the lifecycle was not restarted at once"
! grep -q "/next" "$T/ext.log" || fail "a lifecycle asked /next after SHUTDOWN: $(grep -m1 /next "$T/ext.log")"
[ "$(jq '.extensions[0].killed' "$R")" = false ] || fail "the platform had to SIGKILL the extension"
echo "shutdown took $(jq .shutdown_ms "$R") ms (Lambda allows 2000)"

sim_dropped=$(jq '[.telemetry[].dropped] | add // 0' "$R")
function_lines > "$T/lines.tsv"
want=$(jq '.function_log_lines' "$R")
got=$(cut -f3 "$T/lines.tsv" | sort -u | wc -l)
reports=$(jq -r 'select(.kind == "logs" and .status == 202) | .body[]? | .message.message // .message
                 | tostring | capture("^REPORT RequestId: (?<r>[0-9a-f-]{36})")? | .r' "$CAP" | sort -u | wc -l)
echo "function log lines: $got distinct of $want ($sim_dropped dropped by the platform); invocations with a REPORT: $reports of $N"
[ "$got" -ge $(( want - sim_dropped )) ] || fail "lost $(( want - sim_dropped - got )) function log lines"
[ "$reports" = "$N" ] || fail "REPORT lines for $reports of $N invocations"
# Lambda retries the POST that failed when the lifecycle died; it may only
# drop what comes after the listener closed for good: forkcap's own exit
# summaries (without the restart, the whole shutdown's telemetry is dropped)
late=$(grep -c "| exiting" "$T/ext.log" || true)
[ "$sim_dropped" -le "$late" ] || fail "Lambda dropped $sim_dropped records, more than the $late written after the listener closed"
echo "ok"
