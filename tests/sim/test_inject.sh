#!/bin/bash
# --error-every: a handled function error (status "error", no reset);
# --timeout-every: the function runs past its deadline (status "timeout"),
# the extensions get SHUTDOWN "timeout" and the sandbox is reset.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
good=$(stage ext_good)
export SIMTEST_FEATURE=""   # no Lambda-Extension-Accept-Feature: no accountId
run_sim --extension "$good" --invokes 7 --error-every 2 --timeout-every 3 --timeout-ms 800 --fn-ms 120
want "$SIM_RC" 0 "exit code"
want "$(r '[.invocations[].status] | join(",")')" "success,error,timeout,error,success,timeout,success" "statuses"
want "$(r '[.invocations[].error_type] | map(. // "-") | join(",")')" "-,Handled,Sandbox.Timeout,Handled,-,Sandbox.Timeout,-" "error types"
want "$(r '.resets')" 2 "resets (after each timeout)"
want "$(r '[.invocations[].cold_start] | join(",")')" "true,false,false,true,false,false,true" "cold starts"
awk -v x="$(r '.invocations[2].duration_ms')" 'BEGIN{exit !(x >= 800)}' || fail "timeout before the deadline"
want "$(jq -r 'select(.eventType=="SHUTDOWN").shutdownReason' "$T/ext_good.events" | tr '\n' ' ')" "timeout timeout spindown " "SHUTDOWN reasons"
want "$(r '.crashes | length')" 0 "crashes"
want "$(jq -r 'has("accountId")' "$T/ext_good.register.json")" false "accountId without the feature header"
# the synthetic function runs --fn-ms (a lower bound: the timer never fires early)
jq -e '[.invocations[] | select(.status=="success" or .status=="error") | .runtime_ms >= 120] | all' "$T/report.json" > /dev/null \
    || fail "function shorter than --fn-ms"
