#!/bin/bash
# AWS's public samples, as fixtures that keep their protocol
# (tests/sim/aws_samples): the bash extension pair and the bash custom
# runtime of custom-runtime-extension-demo (it finds its handler through
# LAMBDA_TASK_ROOT and _HANDLER), and the Python Telemetry API sample's
# pattern (a BaseHTTPRequestHandler listener: HTTP/1.0, closed after every
# answer; with or without Content-Length). Everything completes, nothing crashes, and telemetry reaches the
# Python listener with 0 failed POSTs and 0 retries.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
command -v python3 > /dev/null || fail "python3 is needed"
S="$DIR/aws_samples"
mkdir -p "$T/opt/extensions" "$T/task"
cp "$S/extension1.sh" "$S/extension2.sh" "$S/python_telemetry_ext" "$T/opt/extensions/"
cp "$S/bootstrap" "$S/function.sh" "$T/task/"
N=30
run_sim --extension "$T/opt/extensions/extension1.sh" --extension "$T/opt/extensions/extension2.sh" \
    --extension "$T/opt/extensions/python_telemetry_ext" \
    --runtime "exec $T/task/bootstrap" --runtime-id provided.al2023 --handler function.handler \
    --task-root "$T/task" --invokes "$N" --interval-ms 20
want "$SIM_RC" 0 "exit code"
want "$(r '[.invocations[].status] | unique | join(",")')" success "statuses"
want "$(r '.invocations | length')" "$N" "invocations"
want "$(r '.crashes | length')" 0 "crashes"
want "$(r '[.extensions[] | "\(.exit_status) \(.killed)"] | unique | join(",")')" "0 false" "extensions exited by themselves"
for e in extension1.sh extension2.sh; do
    want "$(grep -c '"eventType":"INVOKE"' "$T/$e.events")" "$N" "$e: INVOKE events"
    want "$(grep -c '"eventType":"SHUTDOWN"' "$T/$e.events")" 1 "$e: SHUTDOWN"
done
want "$(grep -c 'registered: {' "$T/ext.log")" 2 "bash extensions' register answers"
# the Python listener: every POST answered, none failed or retried
want "$(r '.telemetry[0] | "\(.extension) \(.failed_posts) \(.retries)"')" "python_telemetry_ext 0 0" "python listener POSTs"
jq -c '.[]' "$T/python_telemetry_ext.tele" > "$T/items"
want "$(r '.telemetry[0].batches')" "$(wc -l < "$T/python_telemetry_ext.tele")" "batches the listener wrote"
# every invocation's report but the last (its batch races the sample's exit at SHUTDOWN) arrived
for i in $(seq 0 $((N - 2))); do
    rid=$(r ".invocations[$i].request_id")
    grep -q "\"type\":\"platform.report\",\"record\":{\"requestId\":\"$rid\"" "$T/items" || fail "no report for invocation $i"
done
# the handler's stderr lines (bootstrap sources it) arrived as function records
[ "$(jq -r 'select(.type=="function") | .record' "$T/items" | grep -c '^\[function\] event:')" -ge $((N - 1)) ] \
    || fail "function records"

# High volume: 400 KB of function logs per invocation make batches go back to
# back, so the next POST follows the listener's answer at once: it must go on
# a new connection (with or without Content-Length in the answer).
for cl in 0 1; do
    rm -f "$T/python_telemetry_ext.tele"
    SIMTEST_PY_CONTENT_LENGTH=$cl run_sim --extension "$T/opt/extensions/python_telemetry_ext" --invokes 10 \
        --log-lines 200 --log-bytes 2000
    want "$SIM_RC" 0 "exit code (volume, Content-Length $cl)"
    want "$(r '.telemetry[0] | "\(.failed_posts) \(.retries)"')" "0 0" "failed POSTs and retries (volume, Content-Length $cl)"
    [ "$(r '.telemetry[0].batches')" -gt 10 ] || fail "batches did not follow each other: $(r '.telemetry[0].batches')"
    want "$(r '.telemetry[0].records')" "$(jq -c '.[]' "$T/python_telemetry_ext.tele" | wc -l)" "records the listener got (Content-Length $cl)"
done
