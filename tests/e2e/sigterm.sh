#!/bin/bash
# SIGTERM to the supervisor: it runs its shutdown (final flush, children
# stopped) and exits within its budget; no child outlives it.
set -euo pipefail
SIM=$1 FORKCAP=$2
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/e2e_lib.sh"
test_tmpdir
ext_setup "$T"
"$SIM" --port 0 --port-file "$T/sim.port" --extension "$T/extensions/forkcap" \
    --report "$T/report.json" --ext-log "$T/ext.log" --quiet --invokes 200 --fn-ms 5 --interval-ms 20 &
simpid=$!
wait_for_file "$T/stats.json" 10 || fail "forkcap did not start"
for _ in $(seq 1 100); do [ "$(stat_of "$T" .phase)" = ready ] && break; sleep 0.05; done
sup=$(stat_of "$T" .pid); lc=$(stat_of "$T" .lifecycle.pid); fl=$(stat_of "$T" .flusher.pid)
grep -q "forkcap: lifecycle" "/proc/$lc/cmdline" || fail "lifecycle not named in ps"
grep -q "forkcap: flusher" "/proc/$fl/cmdline" || fail "flusher not named in ps"
kill -TERM "$sup"
for _ in $(seq 1 60); do kill -0 "$sup" 2>/dev/null || break; sleep 0.05; done
kill -0 "$sup" 2>/dev/null && fail "supervisor still running 3 s after SIGTERM"
for p in "$lc" "$fl"; do
    for _ in $(seq 1 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$p" 2>/dev/null && fail "child $p outlived the supervisor"
done
grep -q "exiting (" "$T/ext.log" || fail "no orderly exit"
grep -q "shutdown (SIGTERM)" "$T/ext.log" || fail "SIGTERM not handled as a shutdown"
kill "$simpid" 2>/dev/null || true
wait "$simpid" 2>/dev/null || true
echo "ok"
