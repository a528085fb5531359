#!/bin/bash
# Telemetry records in Lambda's shape: initStart with runtimeVersion (from
# --runtime-id), runtimeVersionArn, functionArn, instanceId,
# instanceMaxMemory; init order initRuntimeDone -> platform.extension ->
# initReport; runtimeDone spans from the runtime's real /response
# (responseLatency, responseDuration) and none without a response; no empty
# spans array anywhere; extensionOverhead on every report; a timed-out
# invocation capped at the timeout with Sandbox.Timeout; runtimeDone
# "error" when an extension crashes.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
tele=$(stage ext_telemetry tele_all)
cp "$DIR/rt_simple.sh" "$T/rt_simple.sh"; chmod +x "$T/rt_simple.sh"
items() { jq -c '.[]' "$T/tele_all.tele" > "$T/items"; }
# rec TYPE RID COND: exactly one record of TYPE for request RID, and COND holds
rec() { jq -s -e --arg t "$1" --arg r "$2" "[.[] | select(.type==\$t and .record.requestId==\$r) | .record | ($3)] | length==1 and all" "$T/items" > /dev/null; }

# A. an external runtime
run_sim --extension "$tele" --invokes 2 --runtime "exec $T/rt_simple.sh" --runtime-id nodejs20.x --memory-mb 512
want "$SIM_RC" 0 "exit code"
items
jall "$T/items" platform.initStart '.runtimeVersion=="nodejs:20.v13"
    and (.runtimeVersionArn|test("^arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}$"))
    and .functionArn=="arn:aws:lambda:us-east-1:123456789012:function:forkcap-sim-fn"
    and (.instanceId|test("^[0-9a-f-]{36}$")) and .instanceMaxMemory==512
    and .functionName=="forkcap-sim-fn" and .functionVersion=="$LATEST"' || fail "initStart fields"
order=$(jq -r 'select(.type|test("^platform\\.(init|extension)")) | .type' "$T/items" | uniq | tr '\n' ' ')
want "$order" "platform.initStart platform.initRuntimeDone platform.extension platform.initReport " "init record order"
jall "$T/items" platform.runtimeDone '.status=="success" and .metrics.producedBytes==11
    and ([.spans[].name]==["responseLatency","responseDuration"])
    and all(.spans[]; (.durationMs|type=="number") and .durationMs >= 0 and (.start|test("Z$")))' \
    || fail "runtimeDone spans from the runtime's response"
jall "$T/items" platform.report '[.spans[].name]==["extensionOverhead"] and .spans[0].durationMs >= 0' \
    || fail "extensionOverhead on every report"
jq -s -e '[.[] | .record | objects | select(has("spans")) | .spans | length == 0] | any | not' "$T/items" > /dev/null \
    || fail "an empty spans array"

# B. a timeout: duration capped at the timeout, Sandbox.Timeout, no response spans
rm -f "$T/tele_all.tele"
run_sim --extension "$tele" --invokes 2 --timeout-every 2 --timeout-ms 600 --fn-ms 20
want "$SIM_RC" 0 "exit code (timeout)"
items
want "$(r '.invocations[1] | "\(.status) \(.error_type) \(.duration_ms)"')" "timeout Sandbox.Timeout 600" "timed-out invocation"
rid=$(r '.invocations[1].request_id')
rec platform.report "$rid" '.status=="timeout" and .errorType=="Sandbox.Timeout" and .metrics.durationMs==600
    and .metrics.billedDurationMs==600' || fail "timed-out report record"
rec platform.runtimeDone "$rid" '.status=="timeout" and (has("spans")|not)' || fail "timed-out runtimeDone"
rec platform.runtimeDone "$(r '.invocations[0].request_id')" '.spans | length==2' || fail "synthetic response spans"

# C. an extension crash during the invocation: runtimeDone "error", Extension.Crash
rm -rf "$T/tele_all.tele" "$T/ext"
tele=$(stage ext_telemetry tele_all); crash=$(stage ext_crash)
run_sim --extension "$tele" --extension "$crash" --invokes 2 --fn-ms 200
want "$SIM_RC" 3 "exit code (crash)"
items
rid=$(r '.invocations[1].request_id')
want "$(r '.invocations[1].status')" failure "crashed invocation"
rec platform.runtimeDone "$rid" '.status=="error" and .errorType=="Extension.Crash"' || fail "runtimeDone on Extension.Crash"
