#!/bin/bash
# A listener that drops a kept-alive connection just as the next POST comes
# (its keep-alive timer firing): the POST is sent again at once on a new
# connection, as HTTP clients do, and is not a failed POST; nothing is lost.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
tele=$(stage ext_telemetry tele_all)
export SIMTEST_LISTENER_ARGS="--drop-reused"
run_sim --extension "$tele" --invokes 4 --log-lines 2
want "$SIM_RC" 0 "exit code"
want "$(r '.telemetry[0] | "\(.failed_posts) \(.retries)"')" "0 0" "failed POSTs and retries"
[ "$(r '.telemetry[0].reconnects')" -ge 1 ] || fail "no POST was resent on a new connection: $(r -c '.telemetry[0]')"
jq -c '.[]' "$T/tele_all.tele" > "$T/items"
want "$(r '.telemetry[0].records')" "$(wc -l < "$T/items")" "records delivered"
for i in 0 1 2; do
    rid=$(r ".invocations[$i].request_id")
    want "$(jq -r --arg r "$rid" 'select(.record.requestId? == $r) | .type' "$T/items" | tr '\n' ' ')" \
        "platform.start platform.runtimeDone platform.report " "invocation $i delivered once, in order"
done
