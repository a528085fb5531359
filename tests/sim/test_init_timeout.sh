#!/bin/bash
# An extension that never registers fails init at the init limit; it and
# its process group are killed; nothing is invoked; no process is left.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
bad=$(stage ext_noregister); good=$(stage ext_good)
run_sim --extension "$bad" --extension "$good" --init-timeout-ms 400 --invokes 3
want "$SIM_RC" 3 "exit code"
want "$(r '.init_error')" "Sandbox.Timedout" "init_error"
want "$(r '.invocations | length')" 0 "invocations"
want "$(r '.extensions[0].killed')" true "never-registered extension killed"
want "$(r '.extensions[0].register_ms')" null "register_ms of the never-registered one"
want "$(jq -r .shutdownReason "$T/ext_good.event")" failure "the registered one got SHUTDOWN failure"
gone "$(cat "$T/ext_noregister.pid")" || fail "extension still running"
gone "$(cat "$T/ext_noregister.child")" || fail "its child still running"
