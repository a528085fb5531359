#!/bin/bash
# 100 invocations then SHUTDOWN: no Extension.Crash, every invocation
# succeeds, the supervisor exits on SHUTDOWN, and the extension's overhead
# stays far below the function's own run time (its /next is already
# pending when the runtime finishes). Prints the overhead p50.
set -euo pipefail
SIM=$1 FORKCAP=$2
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/e2e_lib.sh"
test_tmpdir
ext_setup "$T"
FN_MS=40
run_sim "$T" --invokes 100 --fn-ms $FN_MS --interval-ms 2
check_all_invocations "$T" 100
p50=$(overhead_p50 "$T")
echo "extension_overhead_ms p50 over 100 invocations: $p50"
echo "sim: init_ms $(jq .init_ms "$T/report.json"), ready_ms $(jq '.extensions[0].ready_ms' "$T/report.json"), shutdown_ms $(jq .shutdown_ms "$T/report.json")"
awk -v p="$p50" -v f="$FN_MS" 'BEGIN { exit !(p < f / 2) }' || fail "overhead p50 $p50 ms is not below half the function's $FN_MS ms"
[ "$(stat_of "$T" .phase)" = exit ] || fail "supervisor did not exit through shutdown"
[ "$(stat_of "$T" .invocations)" = 100 ] || fail "supervisor saw $(stat_of "$T" .invocations) INVOKEs"
grep -q "ready in .* ms (register" "$T/ext.log" || fail "no init line"
grep -q "shutdown (SHUTDOWN" "$T/ext.log" || fail "no shutdown line"
[ "$(jq '.extensions[0].registrations' "$T/report.json")" = 1 ] || fail "registered more than once"
echo "ok"
