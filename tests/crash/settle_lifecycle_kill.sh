#!/bin/bash
# The lifecycle dies as SHUTDOWN arrives (test-hooks build: it SIGKILLs
# itself once FT_SHUTDOWN is written), before Lambda's last telemetry (the
# last invocation's records, sent after SHUTDOWN) reaches it. The supervisor
# restarts it at once to serve the telemetry listener (no /next after
# SHUTDOWN), and the settle waits for Lambda's retry to reach it, so the
# retried telemetry is taken and the final flush ships what it carries: every
# function log line and every invocation's REPORT reach the intake, and
# Lambda drops only the tail of forkcap's own output (lambda-sim names each
# record it dropped).
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

# What Lambda dropped, record by record (lambda-sim names them in its
# report, oldest first). Lambda retries the POST that failed when the
# lifecycle died, so the restarted lifecycle takes the last invocation's
# records: no function line and no platform record (the source of REPORT
# and the enhanced metrics) may be among them.
dropped=$(jq '.telemetry[0].dropped' "$R")
jq -c '.telemetry[0].dropped_records[]' "$R" > "$T/dropped.jsonl"
[ "$(wc -l < "$T/dropped.jsonl")" = "$dropped" ] || fail "the report names $(wc -l < "$T/dropped.jsonl") of $dropped dropped records"
others=$(jq -r 'select(.type != "extension") | .type + ": " + (.record // "" | .[0:120])' "$T/dropped.jsonl")
[ -z "$others" ] || fail "Lambda dropped records of the invocations (the listener was gone): $others"
function_lines > "$T/lines.tsv"
want=$(jq '.function_log_lines' "$R")
got=$(cut -f3 "$T/lines.tsv" | sort -u | wc -l)
reports=$(jq -r 'select(.kind == "logs" and .status == 202) | .body[]? | .message.message // .message
                 | tostring | capture("^REPORT RequestId: (?<r>[0-9a-f-]{36})")? | .r' "$CAP" | sort -u | wc -l)
echo "function log lines: $got distinct of $want; invocations with a REPORT: $reports of $N"
[ "$got" = "$want" ] || fail "lost $(( want - got )) function log lines"
[ "$reports" = "$N" ] || fail "REPORT lines for $reports of $N invocations"
# Lambda delivers in order, so what it dropped is exactly what came after
# the last batch the listener took: the last $dropped lines forkcap wrote
# (the report cuts records at 512 bytes). That moment may not come before
# the final flush began: until then the settle keeps the (restarted)
# listener serving while telemetry flows. From the final flush on, forkcap's
# own lines (the flush, the exit summaries) cannot reach the intake anyway,
# and Lambda may hold some of them when the listener closes for good.
jq -r '.record' "$T/dropped.jsonl" > "$T/dropped.txt"
sed -E 's/^\[forkcap(:err)?\] //' "$T/ext.log" | cut -b1-512 > "$T/ext.txt"
total=$(wc -l < "$T/ext.txt")
tail -n "$dropped" "$T/ext.txt" > "$T/tail.txt"
[ "$dropped" = 0 ] || cmp -s "$T/dropped.txt" "$T/tail.txt" ||
    fail "Lambda dropped lines that are not the tail of forkcap's output: $(diff "$T/dropped.txt" "$T/tail.txt" | head -5)"
closed_after=$(( total - dropped ))   # lines the listener took
ff=$(grep -n -m1 "| supervisor | final flush within" "$T/ext.txt" | cut -d: -f1)
[ -n "$ff" ] || fail "no final flush"
echo "the listener took forkcap's first $closed_after of $total lines; Lambda dropped the $dropped after it; the final flush began at line $ff"
[ "$closed_after" -ge $(( ff - 1 )) ] ||
    fail "the listener stopped taking telemetry before the final flush (line $ff): Lambda dropped from line $(( closed_after + 1 )): $(sed -n "$(( closed_after + 1 ))p" "$T/ext.txt" | cut -c1-100)"
echo "ok"
