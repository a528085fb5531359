#!/bin/bash
# bench case "dogstatsd": forkcap under lambda-sim (one long invocation),
# statsd_send blasting its DogStatsD port for SECONDS; the flusher's exit
# summary gives datagrams read, metrics taken and kernel drops. Also the CPU
# the flusher and the senders used. Prints one JSON line per case.
# usage: statsd.sh LAMBDA_SIM FORKCAP STATSD_SEND [SECONDS [CASE]]
# BENCH_PERF=1: a perf profile of the flusher during the send (perf report
# -i DIR/perf.data), kept in BENCH_PERF_DIR
# Cases: dgram_300k, 300,000 datagrams/s of 1 metric from 2 sender processes
# using UDP GSO (64 datagrams per send call, split by the kernel before the
# flusher's socket: the flusher still reads 300,000 datagrams/s); on loopback
# the whole delivery path runs in the sender's system time, ~2.8 µs per plain
# datagram, so plain sends cannot offer 300,000/s on 2 shared cores beside
# the flusher. dgram_300k_plain: the same from 2 processes sending one
# datagram per send (sendmmsg), the rate they reach. metrics_1m: 50,000
# datagrams/s of 20 metrics from one process.
set -euo pipefail
SIM=$1 FORKCAP=$2 SEND=$3 SECS=${4:-5} ONLY=${5:-}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
test_tmpdir
# utime + stime (fields 14, 15), counted after the ")" closing the name:
# the process title holds spaces ("forkcap: flusher")
cpu_s() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ printf "%.2f", ($12 + $13) / 100 }' || echo 0; }
one() { # NAME RATE PER [SENDER OPTIONS]
    local d=$T/$1
    mkdir -p "$d"
    ext_setup "$d"
    run_sim "$d" --invokes 1 --fn-ms $(( SECS * 1000 + 3000 )) --timeout-ms $(( SECS * 1000 + 10000 )) &
    local simpid=$!
    wait_for_file "$d/stats.json" 10 || fail "no stats file"
    local port fl c0 c1
    port=$(stat_of "$d" .ports.dogstatsd)
    while fl=$(stat_of "$d" .flusher.pid); [ "$fl" = 0 ] || [ "$fl" = null ]; do sleep 0.05; done
    c0=$(cpu_s "$fl")
    local perfpid=
    if [ -n "${BENCH_PERF:-}" ]; then
        perf record -q -o "${BENCH_PERF_DIR:-/tmp}/perf-$1.data" -g -p "$fl" -- sleep "$SECS" 2>/dev/null &
        perfpid=$!
    fi
    out=$("$SEND" ${4:-} "$port" "$2" "$SECS" "$3")
    [ -z "$perfpid" ] || wait "$perfpid" || true
    sleep 0.5
    c1=$(cpu_s "$fl")
    wait "$simpid" || fail "lambda-sim failed"
    line=$(grep "exiting (dogstatsd): .* datagrams in" "$d/ext.log" | tail -1)
    read -r dg reads mets drops rcvbuf <<<"$(sed -E 's/.*\(dogstatsd\): ([0-9]+) datagrams in ([0-9]+) reads, ([0-9]+) metrics.* ([0-9]+) dropped by the kernel \(receive buffer ([0-9]+) bytes.*/\1 \2 \3 \4 \5/' <<<"$line")"
    jq -c -n --arg c "$1" --argjson s "$out" --argjson dg "$dg" --argjson reads "$reads" \
        --argjson mets "$mets" --argjson drops "$drops" --argjson rcvbuf "$rcvbuf" --argjson cpu "$(awk -v a="$c0" -v b="$c1" 'BEGIN{print b-a}')" \
        --argjson secs "$SECS" \
        '{case:$c, sent:$s, received_datagrams:$dg, received_metrics:$mets, kernel_drops:$drops, rcvbuf:$rcvbuf,
          reads:$reads, flusher_cpu_s:$cpu, flusher_cpu_share:($cpu/$secs),
          sender_cpu_share:($s.cpu_s/$secs)}'
}
[ -n "$ONLY" ] && [ "$ONLY" != dgram_300k ] || one dgram_300k 300000 1 "-p 2 -g"
[ -n "$ONLY" ] && [ "$ONLY" != dgram_300k_plain ] || one dgram_300k_plain 300000 1 "-p 2"
[ -n "$ONLY" ] && [ "$ONLY" != metrics_1m ] || one metrics_1m 50000 20
