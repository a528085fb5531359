#!/bin/bash
# Issue 11: DogStatsD datagrams the kernel drops are counted. A tiny
# DD_DOGSTATSD_SO_RCVBUF and a SIGSTOPped flusher while datagrams arrive:
# every datagram sent is either read or counted as a kernel drop (SO_MEMINFO),
# in the flusher's summary line and in its warning.
# Usage: statsd_drops.sh LAMBDA_SIM FORKCAP
set -euo pipefail
SIM=$1 FORKCAP=$2
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
test_tmpdir
ext_setup "$T"
export DD_DOGSTATSD_SO_RCVBUF=4096 DD_LOG_LEVEL=info
run_sim "$T" --invokes 1 --fn-ms 1500 --timeout-ms 10000 &
SIMPID=$!
port=$(fc_port "$T/stats.json" dogstatsd 10) || fail "no DogStatsD port"
# the flusher reads (and counts) once it is ready
while r=$(stat_of "$T" '.flusher_ready_ms // 0'); [ "$r" = 0 ] || [ "$r" = null ]; do sleep 0.05; done
fl=$(stat_of "$T" .flusher.pid)
N=400
kill -STOP "$fl"
for i in $(seq 1 $N); do printf 'drops.c:1|c' > "/dev/udp/127.0.0.1/$port"; done
kill -CONT "$fl"
wait $SIMPID || fail "lambda-sim failed"
line=$(grep "exiting (dogstatsd): .* datagrams in" "$T/ext.log" | tail -1)
[ -n "$line" ] || fail "no DogStatsD summary line"
read -r got drops <<<"$(sed -E 's/.*\(dogstatsd\): ([0-9]+) datagrams in .* ([0-9]+) dropped by the kernel.*/\1 \2/' <<<"$line")"
echo "sent $N datagrams to a stopped flusher: read $got, dropped by the kernel $drops"
[ "$drops" -gt 0 ] || fail "no drop with a ${DD_DOGSTATSD_SO_RCVBUF}-byte buffer"
[ $(( got + drops )) = $N ] || fail "read $got + dropped $drops != sent $N"
grep -q "the kernel dropped $drops datagrams" "$T/ext.log" || fail "no warning naming the drops"
echo "ok"
