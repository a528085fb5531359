#!/bin/bash
# Shutdown as Lambda runs it: the runtime first (SIGTERM; SIGKILL if it is
# still there after 300 ms), then SHUTDOWN to the extensions with the
# deadline set when the shutdown began (start + 2000 ms), so they get what
# the runtime left. With no extension registered the runtime is SIGKILLed.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
ext=$(stage ext_shut)
cp "$DIR/rt_simple.sh" "$T/rt_simple.sh"; chmod +x "$T/rt_simple.sh"

# 1. a runtime that exits on SIGTERM: it has it before the extension has SHUTDOWN
SIMTEST_RT_TERM=handle run_sim --extension "$ext" --invokes 2 --runtime "exec $T/rt_simple.sh"
want "$SIM_RC" 0 "exit code"
[ -s "$T/rt.term" ] || fail "the runtime got no SIGTERM"
term=$(cat "$T/rt.term") got=$(cat "$T/ext_shut.shutdown_at")
[ "$term" -le "$got" ] || fail "SHUTDOWN ($got) reached the extension before the runtime's SIGTERM ($term)"
dl=$(jq -r 'select(.eventType=="SHUTDOWN") | .deadlineMs' "$T/ext_shut.events")
# the deadline was set before the runtime's SIGTERM: at most 2000 ms after it
[ $((dl - term)) -le 2000 ] || fail "deadlineMs $dl is more than 2000 ms after the runtime's SIGTERM $term"
awk -v l="$(r .shutdown_left_ms)" 'BEGIN{exit !(l > 0 && l <= 2000)}' || fail "shutdown_left_ms"

# 2. a runtime that ignores SIGTERM: SIGKILLed after its 300 ms, then SHUTDOWN
rm -f "$T/rt.term" "$T/ext_shut.events"
SIMTEST_RT_TERM=ignore run_sim --extension "$ext" --invokes 1 --runtime "exec $T/rt_simple.sh"
want "$SIM_RC" 0 "exit code (runtime ignoring SIGTERM)"
awk -v rt="$(r .runtime_shutdown_ms)" 'BEGIN{exit !(rt >= 300)}' || fail "runtime killed before its 300 ms: $(r .runtime_shutdown_ms)"
awk -v l="$(r .shutdown_left_ms)" 'BEGIN{exit !(l <= 1700)}' || fail "the extension got more than the runtime left: $(r .shutdown_left_ms)"
gone "$(cat "$T/rt.pid")" || fail "runtime still alive"
want "$(jq -r 'select(.eventType=="SHUTDOWN") | .shutdownReason' "$T/ext_shut.events")" spindown "SHUTDOWN delivered after the kill"

# 3. the synthetic function's runtime takes --runtime-shutdown-ms (default 300, Lambda's limit)
run_sim --extension "$ext" --invokes 1
awk -v rt="$(r .runtime_shutdown_ms)" -v l="$(r .shutdown_left_ms)" 'BEGIN{exit !(rt >= 300 && l <= 1700)}' \
    || fail "synthetic runtime: runtime_shutdown_ms $(r .runtime_shutdown_ms), left $(r .shutdown_left_ms)"
run_sim --extension "$ext" --invokes 1 --runtime-shutdown-ms 0
awk -v rt="$(r .runtime_shutdown_ms)" 'BEGIN{exit !(rt < 300)}' || fail "--runtime-shutdown-ms 0 still waited"

# 4. no extension registered: no SIGTERM, the runtime is SIGKILLed at once
rm -f "$T/rt.term"
SIMTEST_RT_TERM=handle run_sim --invokes 1 --runtime "exec $T/rt_simple.sh"
want "$SIM_RC" 0 "exit code (no extension)"
[ -e "$T/rt.term" ] && fail "the runtime got SIGTERM with no extension registered"
gone "$(cat "$T/rt.pid")" || fail "runtime still alive (no extension)"
true
