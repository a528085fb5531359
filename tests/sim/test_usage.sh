#!/bin/bash
# Usage and set-up errors exit 2; --invokes 0 with no extension is a clean run.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
rc=0; "$SIM" --bogus > /dev/null 2>&1 || rc=$?; want $rc 2 "unknown option"
rc=0; "$SIM" --invokes x > /dev/null 2>&1 || rc=$?; want $rc 2 "bad number"
rc=0; "$SIM" --arch sparc > /dev/null 2>&1 || rc=$?; want $rc 2 "bad arch"
rc=0; "$SIM" --extension "$T/missing" > /dev/null 2>&1 || rc=$?; want $rc 2 "missing extension file"
rc=0; "$SIM" --report "$T/no/such/dir/r.json" > /dev/null 2>&1 || rc=$?; want $rc 2 "report folder missing"
rc=0; "$SIM" --statsd-per-invoke 2 > /dev/null 2>&1 || rc=$?; want $rc 2 "statsd count without port"
rc=0; "$SIM" --traces-per-invoke 2 > /dev/null 2>&1 || rc=$?; want $rc 2 "traces count without port"
rc=0; "$SIM" --freeze-method ice > /dev/null 2>&1 || rc=$?; want $rc 2 "bad freeze method"
rc=0; "$SIM" --runtime-shutdown-ms 301 > /dev/null 2>&1 || rc=$?; want $rc 2 "runtime shutdown over Lambda's 300 ms"
rc=0; "$SIM" --runtime-version "" > /dev/null 2>&1 || rc=$?; want $rc 2 "empty runtime version"
# a port in use is a set-up error
"$LISTENER" --port-file "$T/busy" --out "$T/x" &
wait_for_file "$T/busy" 10
rc=0; "$SIM" --port "$(cat "$T/busy")" --quiet > /dev/null 2>&1 || rc=$?; want $rc 2 "port in use"
run_sim --invokes 0
want "$SIM_RC" 0 "empty run"
want "$(r '.invocations | length') $(r '.init_error')" "0 null" "empty run report"
# SIGTERM to the simulator: it exits and takes every extension's process group with it
good=$(stage ext_stubborn)
"$SIM" --port 0 --quiet --ext-log "$T/ext.log" --extension "$good" --invokes 100000 --interval-ms 50 \
    --report "$T/term.json" 2>/dev/null &
simpid=$!
wait_for_file "$T/ext_stubborn.child" 10 || fail "extension did not start"
sleep 0.2
kill -TERM $simpid
rc=0; wait $simpid || rc=$?
want $rc 2 "exit code after SIGTERM"
[ -s "$T/term.json" ] || fail "no report after SIGTERM"
for i in $(seq 50); do gone "$(cat "$T/ext_stubborn.pid")" && gone "$(cat "$T/ext_stubborn.child")" && break; sleep 0.05; done
gone "$(cat "$T/ext_stubborn.pid")" || fail "extension left running"
gone "$(cat "$T/ext_stubborn.child")" || fail "extension's child left running"
