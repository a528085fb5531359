#!/bin/bash
# An extension exiting (status 0) during an invocation is Extension.Crash:
# that invocation fails, the other extension gets SHUTDOWN "failure", the
# sandbox is reset and the next invocation is a cold start with new processes.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
crash=$(stage ext_crash); good=$(stage ext_good)
run_sim --extension "$crash" --extension "$good" --invokes 4
want "$SIM_RC" 3 "exit code after a crash"
want "$(r '[.invocations[].status] | join(",")')" "success,failure,success,success" "statuses"
want "$(r '.invocations[1].error_type')" "Extension.Crash" "failed invocation's error type"
want "$(r '.crashes | length')" 1 "crashes"
want "$(r '.crashes[0] | "\(.name) \(.phase) \(.exit_status) \(.signal)"')" "ext_crash invoke 0 null" "crash record"
want "$(r '.resets')" 1 "resets"
want "$(r '[.invocations[].cold_start] | join(",")')" "true,false,true,false" "cold starts"
[ "$(r '.invocations[2].init_duration_ms')" != null ] || fail "no init_duration_ms after the reset"
want "$(r '.invocations[3].init_duration_ms')" null "init_duration_ms on a warm invocation"
want "$(r '[.extensions[].registrations] | join(",")')" "2,2" "registrations (fresh init)"
want "$(r '.extensions[0].crashed') $(r '.extensions[1].crashed')" "true false" "crashed flags"
reasons=$(jq -r 'select(.eventType=="SHUTDOWN").shutdownReason' "$T/ext_good.events" | tr '\n' ' ')
want "$reasons" "failure spindown " "SHUTDOWN reasons the other extension got"
