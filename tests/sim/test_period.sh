#!/bin/bash
# --period-ms: invocations start that far apart (a steady offered load for
# the throughput bench), never sooner, whatever the function's own time;
# and a bad value is refused.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
tele=$(stage ext_telemetry tele_p)
run_sim --extension "$tele" --invokes 5 --fn-ms 1 --period-ms 150 --log-lines 1
want "$SIM_RC" 0 "exit code"
want "$(r '.invocations | length')" 5 "invocations"
jq -c '.[]' "$T/tele_p.tele" > "$T/items"
# platform.start times (ms since the epoch): consecutive starts >= 150 ms apart
starts=$(jq -r 'select(.type=="platform.start") | .time' "$T/items" |
    while read -r t; do date -d "$t" +%s%3N; done)
want "$(wc -l <<<"$starts")" 5 "platform.start records"
awk 'NR > 1 { if ($1 - p < 150) { print "starts " p " and " $1 " are " $1 - p " ms apart"; bad = 1 } } { p = $1 } END { exit bad }' \
    <<<"$starts" || fail "an invocation started sooner than --period-ms after the one before"
"$SIM" --period-ms -1 --invokes 1 >/dev/null 2>&1 && fail "--period-ms -1 accepted"
echo "PASS"
