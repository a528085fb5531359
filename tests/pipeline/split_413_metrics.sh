#!/bin/bash
# 413 from the intake on metrics: a series or sketch payload is split in
# halves, re-posted in the same flush (or the next), recursively; a payload
# of one entry still refused is dropped and counted (refusal
# intake_413_series / intake_413_sketch). The intake answers 413 to the
# first series post and the first sketches post. Every invocation is still
# counted once (aws.lambda.enhanced.invocations: its sketch payload holds
# several sketches, so it is split, never dropped), and every DogStatsD
# count reaches the intake or is told of as dropped, with its value.
# Usage: split_413_metrics.sh LAMBDA_SIM FORKCAP FAKE_INTAKE MAKE_CA
set -euo pipefail
SIM=$1 FORKCAP=$2 INTAKE=$3 MAKE_CA=$4
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
. "$(dirname "$0")/lib.sh"
test_tmpdir
pipe_setup
intake_ctl '{"path":"/api/v2/series","status":413,"count":1}'
intake_ctl '{"path":"/api/beta/sketches","status":413,"count":1}'
N=12 STATSD=6
run_sim "$T" --invokes $N --fn-ms 10 --interval-ms 20 --log-lines 2 --statsd-port-file "$T/stats.json" \
    --statsd-per-invoke $STATSD || true
pipe_stop_intake
check_all_invocations "$T" $N
n413s=$(jq -s '[.[] | select(.kind == "series" and .status == 413)] | length' "$CAP")
n413k=$(jq -s '[.[] | select(.kind == "sketches" and .status == 413)] | length' "$CAP")
[ "$n413s" = 1 ] || fail "the intake answered 413 to $n413s series posts, want 1"
[ "$n413k" = 1 ] || fail "the intake answered 413 to $n413k sketch posts, want 1"
E=aws.lambda.enhanced
inv=$(sketch_stat $E.invocations cnt)
echo "invocations counted $inv of $N"
[ "$inv" = $N ] || fail "invocations: $inv, want $N"
# what was split or dropped after a 413 is told in a per-flush line
grep -Eq "[1-9][0-9]* split after 413|\([1-9][0-9]* refused alone with 413\)" "$T/ext.log" ||
    fail "no per-flush line tells of the split or drop"
# DogStatsD: a series payload of one series refused alone is dropped and
# logged once with its start (metric and value)
sent=$(( $(jq .statsd_sent "$T/report.json") / 2 ))
got=$(series_sum sim.custom.count)
lost=0
while read -r v; do
    lost=$(awk -v a="$lost" -v b="$v" 'BEGIN { print a + b }')
done < <(grep 'one series refused with 413 is dropped: ' "$T/ext.log" |
         sed -n 's/.*"metric":"sim\.custom\.count","type":[0-9]*,"points":\[{"timestamp":[0-9]*,"value":\([0-9.]*\).*/\1/p')
grep 'refused with 413 is dropped' "$T/ext.log" || true
echo "sim.custom.count: $got delivered + $lost told as dropped, of $sent"
close_to "$(awk -v a="$got" -v b="$lost" 'BEGIN { print a + b }')" "$sent" 0 0 "sim.custom.count"
lat=$(sketch_stat sim.custom.latency cnt)
if grep -q '\[intake_413_sketch\]' "$T/ext.log"; then
    [ "$lat" -le "$sent" ] || fail "sim.custom.latency: $lat reports, more than $sent sent"
else
    [ "$lat" = "$sent" ] || fail "sim.custom.latency: $lat reports, want $sent"
fi
echo "ok"
