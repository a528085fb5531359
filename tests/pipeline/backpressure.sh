#!/bin/bash
# Backpressure (README "Backpressure"): the intake is slow (every logs post
# held 400 ms), the function writes more than forkcap can deliver. The
# spool's high-water mark is reached, the listener answers Lambda 503 (the
# simulator retries), and every line forkcap accepted reaches the intake:
# the flusher drops nothing, the spool drops nothing, and the lines not
# delivered are exactly those the platform dropped on its side.
# Usage: backpressure.sh LAMBDA_SIM FORKCAP FAKE_INTAKE MAKE_CA
set -euo pipefail
SIM=$1 FORKCAP=$2 INTAKE=$3 MAKE_CA=$4
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
. "$(dirname "$0")/lib.sh"
test_tmpdir
export DD_SERVERLESS_FLUSH_STRATEGY=continuously,200
pipe_setup
intake_ctl '{"path":"/api/v2/logs","delay_ms":400}'

N=12 LINES=4000
rc=0
run_sim "$T" --invokes $N --fn-ms 1 --interval-ms 0 --log-lines $LINES --log-bytes 80 || rc=$?
pipe_stop_intake
R=$T/report.json
check_all_invocations "$T" $N
[ "$rc" = 0 ] || fail "lambda-sim exit $rc"
on=$(jq '.spool.pressure_on' "$T/stats.json")
spool_dropped=$(jq '.spool.dropped' "$T/stats.json")
retries=$(jq '[.telemetry[].retries] | add // 0' "$R")
sim_dropped=$(jq '[.telemetry[].dropped] | add // 0' "$R")
grep -q "backpressure on:" "$T/ext.log" || fail "backpressure never turned on"
[ "$on" -ge 1 ] || fail "stats: pressure_on $on"
[ "$retries" -ge 1 ] || fail "the platform never had to retry (no 503 reached it)"
[ "$spool_dropped" = 0 ] || fail "the spool dropped $spool_dropped frames"
fl_dropped=$(grep -o 'exiting: [0-9]* log records ([0-9]* dropped' "$T/ext.log" | awk '{ s += substr($5, 2) } END { print s + 0 }')
[ "$fl_dropped" = 0 ] || fail "the flusher dropped $fl_dropped records"
written=$(jq '.function_log_lines' "$R")
function_lines > "$T/lines.tsv"
got=$(cut -f3 "$T/lines.tsv" | sort -u | wc -l)
echo "backpressure: $got of $written lines delivered; the platform retried $retries posts and dropped $sim_dropped records; forkcap dropped 0"
# every line the platform did not drop was accepted by forkcap, so delivered
[ "$got" -ge $(( written - sim_dropped )) ] || fail "lost $(( written - sim_dropped - got )) accepted lines"
echo "ok"
