#!/bin/bash
# Issue 11: DogStatsD across flusher restarts. The function sends counts
# while the flusher is SIGKILLed many times; the flusher checkpoints its
# DogStatsD state to the supervisor (FT_DSD_STATE) and a restarted one
# resumes from it. At the intake: never more than was sent (no payload the
# intake accepted is sent again from a checkpoint), and at most what arrived
# in one checkpoint interval (100 ms) lost per kill.
# Usage: statsd_kills.sh LAMBDA_SIM FORKCAP FAKE_INTAKE MAKE_CA [INVOKES KILLS]
set -euo pipefail
SIM=$1 FORKCAP=$2 INTAKE=$3 MAKE_CA=$4
N=${5:-100} KILLS=${6:-8} STATSD=20
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
. "$(dirname "$0")/lib.sh"
test_tmpdir
# flushes every 2 s: between two of them only the checkpoints keep the
# aggregator's content (a flusher without them loses up to 2 s per kill)
export DD_SERVERLESS_FLUSH_STRATEGY=${DD_SERVERLESS_FLUSH_STRATEGY:-periodically,2000}
pipe_setup
run_sim "$T" --invokes $N --fn-ms 20 --interval-ms 20 --statsd-port-file "$T/stats.json" \
    --statsd-per-invoke $STATSD &
SIMPID=$!
wait_for_file "$T/stats.json" 10 || fail "no stats file"
kill_loop "$T" flusher "$KILLS"
rc=0
wait $SIMPID || rc=$?
pipe_stop_intake
R=$T/report.json
[ "$rc" = 0 ] || fail "lambda-sim exit $rc"
check_all_invocations "$T" $N
kills=$(grep -c "killed flusher" "$T/kills.log" || true)
[ "$kills" -ge 2 ] || fail "too few kills landed ($kills)"
sent=$(( $(jq .statsd_sent "$R") / 2 ))   # half the datagrams are sim.custom.count:1|c
got=$(series_sum sim.custom.count)
restored=$(grep -c "DogStatsD state of the previous flusher restored" "$T/ext.log" || true)
# One checkpoint interval (100 ms) spans at most 4 invocations (each takes
# at least --fn-ms + --interval-ms = 40 ms), STATSD / 2 counts each: the
# bound comes from the run's pacing, not from a clock.
per_interval=$(( 4 * STATSD / 2 ))
echo "sim.custom.count: $got of $sent over $kills flusher kills ($restored restores); loss allowed per kill $per_interval"
awk -v g="$got" -v s="$sent" 'BEGIN { exit !(g <= s) }' || fail "counted twice: $got > $sent"
lost=$(awk -v g="$got" -v s="$sent" 'BEGIN { printf "%d", s - g }')
[ "$lost" -le $(( kills * per_interval )) ] || fail "lost $lost counts, more than one interval per kill"
echo "ok (lost $lost, $(awk -v l="$lost" -v k="$kills" 'BEGIN { printf "%.1f", l / k }') per kill)"
