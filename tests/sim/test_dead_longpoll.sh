#!/bin/bash
# A /next whose connection died stays pending, as in AWS's emulator: the
# replacement /next gets 403 Extension.InvalidExtensionState until the next
# event has been handed to the dead connection (and lost); then it works.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
ext=$(stage ext_deadpoll)
# --no-freeze: the extension retries /next while the sandbox idles
run_sim --extension "$ext" --invokes 3 --interval-ms 1500 --no-freeze
want "$SIM_RC" 0 "exit code"
n403=$(grep -c '^403 Extension.InvalidExtensionState$' "$T/ext_deadpoll.codes" || true)
[ "$n403" -ge 1 ] || fail "no 403 InvalidExtensionState while the dead /next was pending"
want "$(tail -1 "$T/ext_deadpoll.codes")" "200 INVOKE" "the retry after the lost event"
want "$(grep -vc '^[0-9]* INVOKE$\|^403' "$T/ext_deadpoll.codes" || true)" 0 "only 403s then the event"
rid1=$(r '.invocations[0].request_id'); rid2=$(r '.invocations[1].request_id'); rid3=$(r '.invocations[2].request_id')
seen=$(jq -r 'select(.eventType=="INVOKE").requestId' "$T/ext_deadpoll.events" | tr '\n' ' ')
want "$seen" "$rid1 $rid3 " "INVOKEs the extension received (the 2nd is lost)"
want "$(r '[.invocations[].status] | join(",")')" "success,success,success" "statuses"
want "$(r '.crashes | length')" 0 "crashes"
want "$(r '.extensions[0].lost_events')" 1 "lost events counted"
