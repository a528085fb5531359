#!/bin/bash
# SIGKILL of the flusher while it posts the final logs payload at SHUTDOWN:
# the supervisor restarts it at once, replays the spool to it and runs the
# final flush again with the time left, so every function log line Lambda
# delivered still reaches the intake, before the deadline, without a crash.
# Nothing is flushed before SHUTDOWN (a background flush every 60 s), and
# the intake holds the first logs post (the final one) far longer than the
# shutdown lasts: without the restart those lines would be lost.
# Usage: final_flush_kill.sh LAMBDA_SIM FORKCAP FAKE_INTAKE MAKE_CA
set -euo pipefail
SIM=$1 FORKCAP=$2 INTAKE=$3 MAKE_CA=$4
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
. "$(dirname "$0")/../pipeline/lib.sh"
test_tmpdir
export DD_SERVERLESS_FLUSH_STRATEGY=continuously,60000
pipe_setup
intake_ctl '{"path":"/api/v2/logs","delay_ms":5000,"count":1}'

N=5 LINES=4
run_sim "$T" --invokes $N --fn-ms 5 --interval-ms 20 --log-lines $LINES --log-bytes 100 &
SIMPID=$!
wait_for_file "$T/stats.json" 10 || fail "no stats file"
# the event: the final logs post has fully arrived and waits for its answer
held=0
for _ in $(seq 1 1000); do
    held=$(curl -sS --noproxy '*' --max-time 5 "http://127.0.0.1:$HTTP_PORT/_intake/stats" | jq .delayed) || held=0
    [ "$held" -ge 1 ] && break
    sleep 0.01
done
[ "$held" -ge 1 ] || fail "the final logs post never reached the intake"
pid=$(stat_of "$T" .flusher.pid)
[ "$(stat_of "$T" .shutdown.phase)" = final_flush ] || fail "logs posted outside the final flush ($(stat_of "$T" .shutdown.phase))"
kill -9 "$pid" || fail "flusher $pid already gone"
echo "killed flusher $pid while it posted the final logs payload"
rc=0
wait $SIMPID || rc=$?
pipe_stop_intake
R=$T/report.json
[ -s "$R" ] || fail "no report (lambda-sim exit $rc)"
check_all_invocations "$T" $N
echo "shutdown took $(jq .shutdown_ms "$R") ms (Lambda allows 2000)"
[ "$(jq '.extensions[0].killed' "$R")" = false ] || fail "the platform had to SIGKILL the extension"
[ "$(jq '.extensions[0].exit_status' "$R")" = 0 ] || fail "exit status $(jq '.extensions[0].exit_status' "$R")"
grep -q "flusher lost during the final flush: restarting it" "$T/ext.log" || fail "no restart during the final flush"
flushes=$(stat_of "$T" .shutdown.final_flushes)
echo "final flushes asked: $flushes; flusher restarts: $(stat_of "$T" .flusher.restarts)"
[ "$flushes" -ge 2 ] || fail "the final flush was not asked again"
# the two budgets differ by the time between the two requests: the post
# until the kill landed, the restart and the spool replay
budgets=$(grep -o "final flush within [0-9]* ms" "$T/ext.log" | grep -o "[0-9]*" | tr '\n' ' ')
echo "final flush budgets: $budgets(ms); $(grep -o "asked again [0-9.]* ms after it was lost" "$T/ext.log")"

sim_dropped=$(jq '[.telemetry[].dropped] | add // 0' "$R")
function_lines > "$T/lines.tsv"
want=$(jq '.function_log_lines' "$R")
got=$(cut -f3 "$T/lines.tsv" | sort -u | wc -l)
echo "function log lines at the intake: $got distinct of $want written ($sim_dropped dropped by the platform)"
[ "$want" -ge $(( N * LINES )) ] || fail "the function wrote $want lines, expected $(( N * LINES ))"
[ "$got" -ge $(( want - sim_dropped )) ] || fail "lost $(( want - sim_dropped - got )) lines"
[ "$(jq -s '[.[] | select(.kind == "logs" and .status != 202)] | length' "$CAP")" -ge 1 ] ||
    fail "the held post was answered: the kill did not land mid-post"
echo "ok"
