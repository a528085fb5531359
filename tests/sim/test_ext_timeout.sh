#!/bin/bash
# The function timeout covers the extensions' post-invocation work: an
# extension that never calls /next times the invocation out; the sandbox is
# reset (SHUTDOWN "timeout"), the stuck extension is killed at the shutdown
# deadline, and the next invocation is a cold start.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
hang=$(stage ext_hang); good=$(stage ext_good)
run_sim --extension "$hang" --extension "$good" --invokes 3 --timeout-ms 400
want "$SIM_RC" 0 "exit code"
want "$(r '[.invocations[].status] | join(",")')" "timeout,success,success" "statuses"
want "$(r '.invocations[0].error_type')" Sandbox.Timeout "error type"
awk -v x="$(r '.invocations[0].duration_ms')" 'BEGIN{exit !(x >= 400)}' || fail "timed out before the deadline"
awk -v x="$(r '.invocations[0].extension_overhead_ms')" 'BEGIN{exit !(x > 300)}' || fail "the stuck extension's overhead"
want "$(r '.resets')" 1 "resets"
want "$(r '.extensions[0].killed')" true "stuck extension killed"
want "$(r '[.invocations[].cold_start] | join(",")')" "true,true,false" "cold starts"
want "$(jq -r 'select(.eventType=="SHUTDOWN").shutdownReason' "$T/ext_good.events" | tr '\n' ' ')" "timeout spindown " "SHUTDOWN reasons"
want "$(r '.crashes | length')" 0 "crashes"
