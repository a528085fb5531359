#!/bin/bash
# deploy/demo.sh (what `make demo` runs after its quiet build) fits one
# screen (<= 40 lines), every figure it promises is there and right for a
# clean run (all invocations succeed, every function log line and DogStatsD
# count reaches the intake, the enhanced invocation count is exact), and a
# clean run shows no warning or error, from forkcap or the simulator.
# Usage: demo.sh BUILD_DIR
set -euo pipefail
B=$1
. "$(dirname "$0")/../lib/common.sh"
test_tmpdir
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
rc=0
DEMO_INVOKES=10 bash "$ROOT/deploy/demo.sh" "$B" > "$T/out" 2>&1 || rc=$?
cat "$T/out"
[ "$rc" = 0 ] || fail "demo exit $rc"
n=$(wc -l < "$T/out")
[ "$n" -le 40 ] || fail "demo printed $n lines, more than one screen"
grep -qE '^  ready +[0-9.]+ ms after Lambda started forkcap' "$T/out" && grep -qE '^  in forkcap +[0-9.]+ ms' "$T/out" || fail "no cold start figures"
grep -qE '^  p50 [0-9.]+ ms, p99 [0-9.]+ ms, max [0-9.]+ ms over 10 invocations' "$T/out" || fail "no overhead figures"
grep -q '^  10 of 10 succeeded; crashes 0, sandbox resets 0' "$T/out" || fail "not every invocation succeeded"
grep -q ': 30 of 30 function log lines' "$T/out" || fail "function log lines missing at the intake"
grep -q 'sim.custom.count 20 of 20 (DogStatsD)' "$T/out" || fail "DogStatsD counts missing at the intake"
grep -q 'aws.lambda.enhanced.invocations 10 of 10' "$T/out" || fail "enhanced invocations not exact"
grep -q '^  supervisor: exiting (10 invocations' "$T/out" || fail "no supervisor summary line"
grep -q '^  flusher: exiting: ' "$T/out" || fail "no flusher summary line"
! grep -qiE 'WARN|ERROR|\[warn\]|\[err\]|warning' "$T/out" || fail "a clean run printed a warning or error"
echo "ok"
