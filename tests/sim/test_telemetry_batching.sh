#!/bin/bash
# Batches never exceed maxItems or maxBytes: a full buffer is sent at once
# (not at timeoutMs), the rest when due or at SHUTDOWN; nothing is lost.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
ext=$(stage ext_telemetry)
export SIMTEST_TYPES_ext_telemetry='["function"]'
export SIMTEST_BUFFERING='{"maxItems":1000,"maxBytes":262144,"timeoutMs":30000}'
run_sim --extension "$ext" --invokes 1 --log-lines 1500 --log-bytes 40
want "$SIM_RC" 0 "exit code"
want "$(jq -r 'length' "$T/ext_telemetry.tele" | tr '\n' ' ')" "1000 500 " "batch sizes (maxItems)"
want "$(jq -c '.[]' "$T/ext_telemetry.tele" | wc -l)" 1500 "records delivered"
# maxBytes: 400 lines of ~1000 bytes do not fit in one 262144-byte batch
rm -f "$T/ext_telemetry.tele" "$T/report.json"
run_sim --extension "$ext" --invokes 1 --log-lines 400 --log-bytes 1000
want "$(jq -c '.[]' "$T/ext_telemetry.tele" | wc -l)" 400 "records delivered"
[ "$(wc -l < "$T/ext_telemetry.tele")" -ge 2 ] || fail "one batch over maxBytes"
while read -r line; do
    # the batch's records add up to at most maxBytes (the array adds a comma per record)
    [ $(( ${#line} - $(echo "$line" | jq length) - 1 )) -le 262144 ] || fail "batch over maxBytes (${#line} bytes)"
done < "$T/ext_telemetry.tele"
want "$(r '.telemetry[0].records')" 400 "report records"
