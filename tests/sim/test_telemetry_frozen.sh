#!/bin/bash
# No telemetry is delivered while the sandbox is frozen: platform.report is
# emitted when the last extension calls /next (right before the freeze) and
# reaches a listener only at the next thaw, --interval-ms later.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
"$LISTENER" --port-file "$T/lport" --out "$T/outside.tele" --stamp &
wait_for_file "$T/lport" 10 || fail "listener did not start"
export SIMTEST_LPORT=$(cat "$T/lport")
ext=$(stage ext_telemetry)
run_sim --extension "$ext" --invokes 3 --interval-ms 800 --freeze
want "$SIM_RC" 0 "exit code"
# arrival (listener clock) minus emission ("time") of every platform.report, in ms
gaps=$(while read -r at body; do
    echo "$body" | jq -r --argjson at "$at" '.[] | select(.type=="platform.report")
        | ($at - ((.time | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601) * 1000 + (.time | capture("\\.(?<ms>[0-9]+)Z$").ms | tonumber)))'
done < "$T/outside.tele")
want "$(echo "$gaps" | grep -c .)" 3 "platform.report records delivered"
for g in $gaps; do
    # held for the frozen interval (a lower bound: a slow machine only adds to it)
    awk -v g="$g" 'BEGIN{exit !(g >= 600)}' || fail "platform.report delivered while frozen (after $g ms)"
done
