#!/bin/bash
# SHUTDOWN carries the reason and a deadline; an extension ignoring it is
# SIGKILLed with its whole process group at the deadline and reported killed.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
st=$(stage ext_stubborn); good=$(stage ext_good)
run_sim --extension "$st" --extension "$good" --invokes 2 --shutdown-reason SandboxTerminated
want "$SIM_RC" 0 "exit code"
[ -e "$T/ext_stubborn.got_shutdown" ] || fail "SHUTDOWN not delivered"
want "$(r '.extensions[0].killed') $(r '.extensions[0].exit_status')" "true null" "stubborn extension"
want "$(r '.extensions[1].killed') $(r '.extensions[1].exit_status')" "false 0" "good extension"
want "$(r '.shutdown_reason')" SandboxTerminated "shutdown_reason"
want "$(jq -r .shutdownReason "$T/ext_good.event")" SandboxTerminated "reason in the event"
# the deadline is the behaviour under test: shutdown lasts until it
# (the runtime's part comes first: the extensions' part ends at the same 2 s deadline)
awk -v ms="$(r .shutdown_ms)" -v rt="$(r .runtime_shutdown_ms)" 'BEGIN{exit !(ms + rt >= 1900)}' \
    || fail "killed before the 2 s deadline"
dl=$(jq -r .deadlineMs "$T/ext_good.event"); [[ "$dl" =~ ^[0-9]+$ ]] || fail "deadlineMs not an integer"
want "$(r '.crashes | length')" 0 "crashes"
gone "$(cat "$T/ext_stubborn.child")" || fail "child of the killed extension survived"
