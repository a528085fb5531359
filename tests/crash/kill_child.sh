#!/bin/bash
# kill -9 of a child (lifecycle: mostly while it waits in /next; flusher:
# at random times) during many invocations, with and without --freeze:
# every invocation completes, Lambda sees no crash, the supervisor logs
# and counts the restarts, and a restarted lifecycle never re-registers.
# usage: kill_child.sh SIM FORKCAP lifecycle|flusher freeze|nofreeze
set -euo pipefail
SIM=$1 FORKCAP=$2 WHICH=$3 MODE=$4
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
test_tmpdir
ext_setup "$T"
N=60 KILLS=6
freeze=(--no-freeze); [ "$MODE" = freeze ] && freeze=()   # lambda-sim freezes by default
run_sim "$T" --invokes $N --fn-ms 20 --interval-ms 60 "${freeze[@]}" &
simpid=$!
wait_for_file "$T/stats.json" 10 || fail "forkcap did not start"
kill_loop "$T" "$WHICH" $KILLS
wait "$simpid" || fail "lambda-sim failed"
kills=$(wc -l < "$T/kills.log" 2>/dev/null || echo 0)
echo "$WHICH killed $kills times ($MODE)"
[ "$kills" -ge 2 ] || fail "could not kill $WHICH often enough"
check_all_invocations "$T" $N
restarts=$(stat_of "$T" ".${WHICH}.restarts")
echo "supervisor counted $restarts $WHICH restarts"
[ "$restarts" -ge "$kills" ] || fail "restarts $restarts < kills $kills"
[ "$(grep -c "restarting $WHICH" "$T/ext.log")" -ge "$kills" ] || fail "restarts not logged"
[ "$(jq '.extensions[0].registrations' "$T/report.json")" = 1 ] || fail "lifecycle registered again"
[ "$(stat_of "$T" .phase)" = exit ] || fail "no orderly shutdown"
echo "ok"
