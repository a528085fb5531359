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
states="" seen_at=""
for i in $(seq 150); do
    s=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo X)
    states="$states$s"
    # events it had written when first seen stopped (it cannot write while stopped)
    [ "$s" = T ] && [ -z "$seen_at" ] && seen_at=$(grep -c eventType "$T/ext_good.events" || true)
    [ "$s" = X ] && break
    sleep 0.02
done
wait $simpid || fail "simulator failed"
[[ "$states" == *T* ]] || fail "never saw the extension stopped (states: $states)"
# continued after the freeze: it received more events later (the rest and SHUTDOWN)
total=$(grep -c eventType "$T/ext_good.events")
[ "$total" -gt "$seen_at" ] || fail "no event handled after the freeze ($seen_at then $total)"
want "$total" 4 "events (3 INVOKE + SHUTDOWN)"
want "$(r '[.invocations[].status] | join(",")')" "success,success,success" "statuses"
want "$(jq -r 'select(.eventType=="INVOKE") | .requestId' "$T/ext_good.events" | wc -l)" 3 "INVOKEs received"
