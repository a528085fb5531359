#!/bin/bash
# Issue 5, flood: many big function log lines per invocation, plus garbage
# POSTed straight at the telemetry listener (invalid UTF-8, malformed JSON,
# wrong shapes, an oversized body). Memory stays bounded (RSS of the three
# processes sampled from /proc, generous bounds), whatever is not delivered
# is counted as dropped (by the platform or by forkcap), nothing crashes.
# Prints the delivery rate (lines/s) at the intake.
# Usage: flood.sh LAMBDA_SIM FORKCAP FAKE_INTAKE MAKE_CA
set -euo pipefail
SIM=$1 FORKCAP=$2 INTAKE=$3 MAKE_CA=$4
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
. "$(dirname "$0")/lib.sh"
test_tmpdir
pipe_setup

N=10 LINES=1000 BYTES=1000
MAX_RSS_KB=$(( 256 * 1024 )) # per process; the bounded queues add up to ~50 MiB

t0=$(date +%s%N)
run_sim "$T" --invokes $N --fn-ms 5 --interval-ms 0 --timeout-ms 10000 --log-lines $LINES --log-bytes $BYTES &
SIMPID=$!
wait_for_file "$T/stats.json" 10 || fail "no stats file"
TPORT=$(fc_port "$T/stats.json" telemetry) || fail "no telemetry port in the stats file"

# garbage at the listener while the flood runs
garbage() {
    local url="http://127.0.0.1:$TPORT/" i
    for i in $(seq 1 20); do
        printf '[{"time":"2026-01-01T00:00:00.000Z","type":"function","record":"bad \xff\xfe utf8 \xc3"}]' |
            curl -sS --noproxy '*' -o /dev/null -m 5 -X POST -H 'Content-Type: application/json' --data-binary @- "$url" || true
        curl -sS --noproxy '*' -o /dev/null -m 5 -X POST -H 'Content-Type: application/json' -d '[{"time":' "$url" || true
        curl -sS --noproxy '*' -o /dev/null -m 5 -X POST -H 'Content-Type: application/json' -d '{"not":"an array"}' "$url" || true
        curl -sS --noproxy '*' -o /dev/null -m 5 -X POST -H 'Content-Type: application/json' -d '[{"type":7,"record":[]},1,null]' "$url" || true
        head -c $(( 3 * 1024 * 1024 )) /dev/zero | tr '\0' 'a' |
            curl -sS --noproxy '*' -o /dev/null -m 5 -X POST -H 'Content-Type: application/json' --data-binary @- "$url" 2>/dev/null || true
        sleep 0.05
    done
}
garbage &
GPID=$!

# sample RSS of the supervisor and both children until the run ends
max_sup=0 max_lc=0 max_fl=0
while kill -0 $SIMPID 2>/dev/null; do
    if [ -s "$T/stats.json" ]; then
        read -r ps pl pf < <(jq -r '"\(.pid) \(.lifecycle.pid) \(.flusher.pid)"' "$T/stats.json" 2>/dev/null || echo "0 0 0")
        r=$(rss_kb "$ps"); [ "$r" -gt $max_sup ] && max_sup=$r
        r=$(rss_kb "$pl"); [ "$r" -gt $max_lc ] && max_lc=$r
        r=$(rss_kb "$pf"); [ "$r" -gt $max_fl ] && max_fl=$r
    fi
    sleep 0.1
done
rc=0
wait $SIMPID || rc=$?
t1=$(date +%s%N)
wait $GPID || true
pipe_stop_intake
R=$T/report.json
[ -s "$R" ] || fail "no report (lambda-sim exit $rc)"
echo "max RSS KiB: supervisor $max_sup, lifecycle $max_lc, flusher $max_fl"
[ "$(jq '.crashes | length' "$R")" = 0 ] || fail "crashes: $(jq -c .crashes "$R")"
[ "$rc" = 0 ] || fail "lambda-sim exit $rc"
[ $max_fl -gt 0 ] || fail "never saw the flusher's RSS"
for x in "supervisor $max_sup" "lifecycle $max_lc" "flusher $max_fl"; do
    set -- $x
    [ "$2" -le $MAX_RSS_KB ] || fail "$1 RSS $2 KiB over $MAX_RSS_KB"
done
! grep -qE "runtime error:|AddressSanitizer|LeakSanitizer" "$T/ext.log" || fail "sanitizer report"

written=$(jq '.function_log_lines' "$R")
sim_dropped=$(jq '[.telemetry[].dropped] | add // 0' "$R")
fl_dropped=$(grep -o 'exiting: [0-9]* log records ([0-9]* dropped' "$T/ext.log" | awk '{ s += substr($5, 2) } END { print s + 0 }')
function_lines > "$T/lines.tsv"
got=$(cut -f3 "$T/lines.tsv" | sort -u | wc -l)
ms=$(( (t1 - t0) / 1000000 ))
echo "flood: $got of $written lines delivered in $ms ms ($(( got * 1000 / (ms > 0 ? ms : 1) )) lines/s); dropped: platform $sim_dropped, forkcap $fl_dropped"
[ $(( got + sim_dropped + fl_dropped )) -ge "$written" ] ||
    fail "$(( written - got - sim_dropped - fl_dropped )) lines neither delivered nor counted as dropped"
grep -q "exiting: " "$T/ext.log" || fail "no flusher summary line"
echo "ok"
