#!/bin/bash
# Telemetry API delivery: every subscriber gets JSON arrays of
# {time,type,record} with the types it asked for, in order, one platform.start,
# runtimeDone and report per invocation with matching request ids; a listener
# answering 500 is retried until the batch lands; counts match the report.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
all=$(stage ext_telemetry tele_all); plat=$(stage ext_telemetry tele_plat)
export SIMTEST_TYPES_tele_plat='["platform"]'
export SIMTEST_LISTENER_ARGS="--fail-first 2"
run_sim --extension "$all" --extension "$plat" --invokes 3 --log-lines 2 --log-bytes 60
want "$SIM_RC" 0 "exit code"
want "$(cat "$T/tele_all.subcode")" 200 "subscribe status"
want "$(cat "$T/tele_all.subresp")" '"OK"' "subscribe body"

# every line the listener got is one POSTed JSON array of {time,type,record}
for n in tele_all tele_plat; do
    jq -s -e 'all(.[]; type=="array" and length>0 and all(.[]; (.time|test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")) and has("type") and has("record")))' \
        "$T/$n.tele" > /dev/null || fail "$n: malformed batch"
    jq -c '.[]' "$T/$n.tele" > "$T/$n.items"
    # report counts match what arrived
    want "$(r ".telemetry[] | select(.extension==\"$n\") | .records")" "$(wc -l < "$T/$n.items")" "$n records count"
    want "$(r ".telemetry[] | select(.extension==\"$n\") | .batches")" "$(wc -l < "$T/$n.tele")" "$n batches count"
    awk -v x="$(r ".telemetry[] | select(.extension==\"$n\") | .retries")" 'BEGIN{exit !(x >= 2)}' || fail "$n: retries not counted"
    awk -v x="$(r ".telemetry[] | select(.extension==\"$n\") | .failed_posts")" 'BEGIN{exit !(x >= 2)}' || fail "$n: failed posts not counted"
    for i in 0 1 2; do
        rid=$(r ".invocations[$i].request_id")
        seq=$(jq -r --arg r "$rid" 'select(.record.requestId? == $r) | .type' "$T/$n.items" | tr '\n' ' ')
        want "$seq" "platform.start platform.runtimeDone platform.report " "$n: records of invocation $i in order"
    done
    for t in platform.initStart platform.initRuntimeDone platform.initReport platform.extension platform.telemetrySubscription; do
        grep -q "\"type\":\"$t\"" "$T/$n.items" || fail "$n: no $t"
    done
done
# type filtering
want "$(jq -r 'select(.type=="function" or .type=="extension") | .type' "$T/tele_plat.items" | wc -l)" 0 "platform-only subscriber got other types"
want "$(jq -r 'select(.type=="function") | .record' "$T/tele_all.items" | wc -l)" 6 "function records"
rid=$(r '.invocations[1].request_id')
want "$(jq -r --arg r "$rid" 'select(.type=="function") | .record | select(startswith($r))' "$T/tele_all.items" | wc -l)" 2 "function lines carry the request id"
grep -q '"type":"extension","record":"hello from tele_all"' "$T/tele_all.items" || fail "extension record missing"
want "$(r '.function_log_lines')" 6 "function_log_lines"

# realistic report records
jall "$T/tele_all.items" platform.report '.metrics | (.durationMs|type=="number") and (.billedDurationMs == (.durationMs|ceil)) and .memorySizeMB==128 and (.maxMemoryUsedMB|type=="number") and .maxMemoryUsedMB > 0' \
    || fail "platform.report metrics"
want "$(jq -r 'select(.type=="platform.report") | .record.metrics | has("initDurationMs")' "$T/tele_all.items" | tr '\n' ' ')" "true false false " "initDurationMs only on the first"
# the extensions sleep 50 ms after INVOKE: overhead is there, and reported as a span
jall "$T/tele_all.items" platform.report '.spans | any(.[]; .name=="extensionOverhead" and .durationMs > 0)' \
    || fail "no extensionOverhead span"
awk -v x="$(r '.invocations[0].extension_overhead_ms')" 'BEGIN{exit !(x > 0)}' || fail "extension_overhead_ms is 0"
jall "$T/tele_all.items" platform.runtimeDone '.status=="success" and (.metrics.durationMs|type=="number") and (.metrics.producedBytes|type=="number")' \
    || fail "runtimeDone fields"
jall "$T/tele_all.items" platform.initReport '.metrics.durationMs > 0 and .status=="success"' || fail "initReport metrics"
jall "$T/tele_all.items" platform.start '.version=="$LATEST" and (.requestId|type=="string") and .tracing.type=="X-Amzn-Trace-Id"' || fail "platform.start fields"
jall "$T/tele_all.items" platform.extension '(.name|test("^tele_")) and .state=="Ready" and .events==["INVOKE","SHUTDOWN"]' || fail "platform.extension fields"
jany "$T/tele_all.items" platform.telemetrySubscription '.name=="tele_plat" and .state=="Subscribed" and .types==["platform"]' || fail "telemetrySubscription fields"
jall "$T/tele_all.items" platform.initStart '.initializationType=="on-demand" and .phase=="init" and .functionName=="forkcap-sim-fn"' || fail "initStart fields"
