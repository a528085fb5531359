#!/bin/bash
# --freeze stops every extension's process group between invocations
# (state T) and continues it before the next event.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
good=$(stage ext_good)
"$SIM" --port 0 --report "$T/report.json" --quiet --ext-log "$T/ext.log" --extension "$good" \
    --invokes 3 --interval-ms 700 --freeze > "$T/sim.out" 2> "$T/sim.err" &
simpid=$!
wait_for_file "$T/ext_good.pid" 10 || fail "extension did not start"
pid=$(cat "$T/ext_good.pid")
states=""
for i in $(seq 150); do
    s=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo X)
    states="$states$s"
    [ "$s" = X ] && break
    sleep 0.02
done
wait $simpid || fail "simulator failed"
[[ "$states" == *T* ]] || fail "never saw the extension stopped (states: $states)"
[[ "$states" =~ T+[SR]+ ]] || fail "never saw it continue after a freeze (states: $states)"
want "$(r '[.invocations[].status] | join(",")')" "success,success,success" "statuses"
want "$(jq -r 'select(.eventType=="INVOKE") | .requestId' "$T/ext_good.events" | wc -l)" 3 "INVOKEs received"
