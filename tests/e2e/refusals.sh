#!/bin/bash
# Honest accounting: hostile DogStatsD datagrams and telemetry batches sent
# to forkcap under lambda-sim, two of each kind. Every refusal is counted
# under its reason in the stats file ("refused", from both children through
# the supervisor) and in the exit lines (the flusher's own, the
# supervisor's for all), and the first of each reason is logged exactly
# once, with an example. The sandbox sees no crash and every invocation
# succeeds.
set -euo pipefail
SIM=$1 FORKCAP=$2
HERE=$(dirname "$0")
. "$HERE/../lib/common.sh"
. "$HERE/e2e_lib.sh"
test_tmpdir
d=$T/run
ext_setup "$d"
N=12
run_sim "$d" --invokes $N --fn-ms 5 --interval-ms 400 --no-freeze &
SIM_PID=$!
for _ in $(seq 1 200); do
    [ "$(jq -r '.phase // ""' "$d/stats.json" 2>/dev/null)" = ready ] && break
    sleep 0.05
done
[ "$(jq -r .phase "$d/stats.json")" = ready ] || fail "forkcap never got ready" || exit 1
DP=$(fc_port "$d/stats.json" dogstatsd) || fail "no DogStatsD port" || exit 1
TP=$(fc_port "$d/stats.json" telemetry) || fail "no telemetry port" || exit 1

now=$(date +%s)
long=$(head -c 201 /dev/zero | tr '\0' 'n')
tags=$(seq -s, -f 't%g' 1 33)
dsd() { printf '%s' "$1" > "/dev/udp/127.0.0.1/$DP"; }
# one write, one datagram (bash's printf would cut it at 8 KiB)
dsd_big() {
    head -c 9000 /dev/zero | tr '\0' 'x' | dd bs=9000 count=1 iflag=fullblock status=none \
        > "/dev/udp/127.0.0.1/$DP"
}
for i in 1 2; do
    dsd_big
    dsd "garbage$i without a colon"
    dsd "many$i:1|c|#$tags"
    dsd "rate$i:1|c|@0"
    dsd "nan$i:NaN|g"
    dsd "old$i:1|c|T1"
    dsd "_e{5,4}:title|text$i"
    dsd "_sc|svc$i|0"
    dsd "$long$i:1|c"
    dsd "tag$i:1|c|#$long"
    dsd "fine$i:1|c|T$now"
done

rec='{"time":"2022-10-12T00:00:00.000Z","type":"function","record":"x"}'
post() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'Content-Type: application/json' \
        --data-binary @"$1" "http://127.0.0.1:$TP/" || true
}
# 10,003 records: 3 beyond the 10,000 of one batch
{ printf '['; for i in $(seq 1 10002); do printf '%s,' "$rec"; done; printf '%s]' "$rec"; } > "$T/over.json"
printf '[42,{"time":"2022-10-12T00:00:00.000Z","type":"platform.bogus","record":{}},%s,%s]' \
    '{"time":"2022-10-12T00:00:00.000Z","type":"platform.logsDropped","record":{"reason":"x","droppedRecords":"5","droppedBytes":1}}' \
    '{"time":"2022-10-12T00:00:00.000Z","type":"platform.logsDropped","record":{"reason":"x","droppedRecords":1,"droppedBytes":-1}}' \
    > "$T/bad.json"
[ "$(post "$T/over.json")" = 200 ] || fail "batch of 10,003 records not answered 200" || exit 1
# bodies over the listener's limit: 413, twice
head -c 3000000 /dev/zero | tr '\0' ' ' > "$T/huge.json"
for i in 1 2; do
    code=$(post "$T/huge.json")
    [ "$code" = 413 ] || fail "3 MB body answered $code, not 413" || exit 1
done
[ "$(post "$T/bad.json")" = 200 ] || fail "batch of bad records not answered 200" || exit 1
[ "$(post "$T/bad.json")" = 200 ] || fail "second batch of bad records not answered 200" || exit 1

declare -A want=(
    [dogstatsd_datagram_too_large]=2 [dogstatsd_malformed]=2 [dogstatsd_too_many_tags]=2
    [dogstatsd_sample_rate]=2 [dogstatsd_value_not_finite]=2 [dogstatsd_timestamp]=2
    [dogstatsd_event]=2 [dogstatsd_service_check]=2 [metric_name]=2 [metric_tag]=2
    [telemetry_records_over_limit]=3 [telemetry_record_malformed]=2
    [telemetry_record_unknown_type]=2 [telemetry_field_ill_typed]=2 [telemetry_field_out_of_range]=2
    [telemetry_request_refused]=2
)
# the children report their counts every 100 ms: wait until the stats file
# has them all (bounded), while the simulator goes on invoking
WANT=$(for k in "${!want[@]}"; do echo "{\"$k\": ${want[$k]}}"; done | jq -s -c add)
all_counted() {
    jq -e --argjson w "$WANT" '. as $s | $w | to_entries | all($s.refused[.key] == .value)' \
        "$d/stats.json" >/dev/null 2>&1
}
for _ in $(seq 1 200); do all_counted && break; sleep 0.05; done
wait "$SIM_PID" || fail "lambda-sim exit $?" || exit 1
check_all_invocations "$d" $N

for k in "${!want[@]}"; do
    got=$(jq -r ".refused.$k" "$d/stats.json")
    [ "$got" = "${want[$k]}" ] || fail "stats file: refused.$k = $got, expected ${want[$k]}"
    n=$(grep -c "refused: .*\[$k\]" "$d/ext.log" || true)
    [ "$n" = 1 ] || fail "the first refusal of $k was logged $n times, expected once"
done
# nothing else refused (the valid |T line, the function lines, the rest)
other=$(jq -r --argjson w "$(for k in "${!want[@]}"; do echo "\"$k\""; done | jq -s .)" \
    '[.refused | to_entries[] | select(.value > 0) | .key | select(. as $k | $w | index($k) | not)] | join(",")' \
    "$d/stats.json")
[ -z "$other" ] || fail "refused for reasons not sent: $other ($(jq -c .refused "$d/stats.json"))"
# examples: the line or record itself, escaped and cut
grep -q 'refused: .*\[dogstatsd_value_not_finite\], e.g. "nan1:NaN|g"' "$d/ext.log" ||
    fail "no example for NaN: $(grep -m1 'dogstatsd_value_not_finite' "$d/ext.log")"
grep -q 'refused: .*\[telemetry_field_ill_typed\], e.g. "droppedRecords in {' "$d/ext.log" ||
    fail "no example for the ill-typed field: $(grep -m1 'telemetry_field_ill_typed' "$d/ext.log")"
grep -q 'refused: .*\[telemetry_field_out_of_range\], e.g. "droppedBytes in {' "$d/ext.log" ||
    fail "no example for the out-of-range field: $(grep -m1 'telemetry_field_out_of_range' "$d/ext.log")"
# the flusher reads 8 KiB + 1 of a datagram: what it shows is the part read
grep -q 'refused: .*\[dogstatsd_datagram_too_large\], e.g. "x\{80\}"... (8193 bytes)' "$d/ext.log" ||
    fail "too-large example not cut: $(grep -m1 'dogstatsd_datagram_too_large' "$d/ext.log" | cut -c1-300)"
# exit lines: the flusher's (its own reasons), the supervisor's (all)
fl=$(grep -o 'flusher | exiting (refused input, by reason): .*' "$d/ext.log" | tail -n 1)
sup=$(grep -o 'supervisor | exiting (refused input from the lifecycle and flusher, by reason): .*' "$d/ext.log" | tail -n 1)
for k in "${!want[@]}"; do
    case $k in
        telemetry_*) ;;
        *) [[ "$fl" == *"$k ${want[$k]}"* ]] || fail "flusher exit line lacks $k ${want[$k]}: $fl" ;;
    esac
    [[ "$sup" == *"$k ${want[$k]}"* ]] || fail "supervisor exit line lacks $k ${want[$k]}: $sup"
done
echo "stats: $(jq -c '.refused | with_entries(select(.value > 0))' "$d/stats.json")"
echo "ok"
