#!/bin/bash
# A listener that does not keep up cannot make the simulator buffer without
# bound: past 8 MiB per subscriber records are dropped, counted in the
# report, and announced with platform.logsDropped once there is room again.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
ext=$(stage ext_telemetry)
export SIMTEST_TYPES_ext_telemetry='["platform","function"]'
export SIMTEST_LISTENER_ARGS="--fail-first 2"
# 700 lines of 16 kB (11 MB) arrive at once while the first POSTs fail
run_sim --extension "$ext" --invokes 2 --interval-ms 1500 --log-lines 700 --log-bytes 16000
want "$SIM_RC" 0 "exit code"
want "$(r '.function_log_lines')" 1400 "function lines emitted"
[ "$(r '.telemetry[0].dropped')" -gt 0 ] || fail "nothing dropped past the queue limit"
jq -c '.[]' "$T/ext_telemetry.tele" > "$T/items"
jany "$T/items" platform.logsDropped '.droppedRecords > 0 and .droppedBytes > 0 and (.reason|type=="string")' \
    || fail "no platform.logsDropped record"
delivered=$(grep -c '"type":"function"' "$T/items")
[ "$delivered" -gt 0 ] && [ "$delivered" -lt 1400 ] || fail "delivered $delivered function records"
# the announcement comes first, then what was accepted again: the next invocation's start
rid2=$(r '.invocations[1].request_id')
order=$(jq -r --arg r "$rid2" 'select(.type=="platform.logsDropped" or (.type=="platform.start" and .record.requestId==$r)) | .type' "$T/items" | head -2 | tr '\n' ' ')
want "$order" "platform.logsDropped platform.start " "logsDropped before the next invocation's records"
