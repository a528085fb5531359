#!/bin/bash
# The circuit breaker end to end (an unreachable intake must not hold every
# invocation, nor make forkcap log without bound): forkcap under lambda-sim,
# DD_SERVERLESS_FLUSH_STRATEGY=end, its intake a blackhole that accepts TCP
# and never answers TLS.
# MODE down: N invocations against the blackhole; every one succeeds, at
# most 5 WARN lines per (started) minute of the run.
# MODE recover: after K invocations the blackhole goes and fake-intake
# takes its port.
# Checks: every invocation succeeds; at most the first two go-aheads wait
# for the flush-timeout or deadline bound (the rest come from the breaker's
# short budget or an answered flush); the breaker opened and closed again;
# from the second invocation after the intake came back, every invocation's
# log line reaches the intake before any line of the next invocation; and
# every invocation's line reaches it in the end (they all fit the retry
# buffer). Prints the overhead p50/p90 with the intake unreachable (from the
# third invocation on) and after it came back, and the WARN lines.
# Usage: e2e_breaker.sh MODE LAMBDA_SIM FORKCAP BLACKHOLE FAKE_INTAKE MAKE_CA
set -euo pipefail
MODE=$1 SIM=$2 FORKCAP=$3 BLACKHOLE=$4 INTAKE=$5 MAKE_CA=$6
HERE=$(dirname "$0")
. "$HERE/../lib/common.sh"
. "$HERE/../e2e/e2e_lib.sh"
test_tmpdir
N=${BREAKER_N:-150} K=${BREAKER_K:-100}

bash "$MAKE_CA" "$T/pki" >/dev/null
"$BLACKHOLE" 0 "$T/bh.port" 2>"$T/bh.log" &
BH_PID=$!
wait_for_file "$T/bh.port" 10 || fail "blackhole did not start"
PORT=$(cat "$T/bh.port")
export DD_DD_URL="https://localhost:$PORT" DD_LOGS_CONFIG_LOGS_DD_URL="https://localhost:$PORT"
export DD_APM_DD_URL="https://localhost:$PORT" DD_TLS_CERT_FILE="$T/pki/ca.pem"
export DD_SERVERLESS_FLUSH_STRATEGY=end DD_FLUSH_TIMEOUT=5
unset HTTPS_PROXY https_proxy DD_PROXY_HTTPS

d=$T/run
ext_setup "$d"
: > "$d/runtime.log"
# a runtime that prints "handling <request id>" per event (also a function
# log line forkcap ships), so the test can follow the invocations
mkdir -p "$d/rt"
export SIMTEST_OUT=$d/rt
SECONDS=0
run_sim "$d" --invokes "$N" --timeout-ms 10000 --runtime "exec bash $HERE/../sim/rt_simple.sh" \
    --runtime-log "$d/runtime.log" &
SIM_PID=$!
ran() { grep -c 'handling ' "$d/runtime.log" || true; }
if [ "$MODE" = down ]; then
    wait "$SIM_PID" || fail "lambda-sim exit $?"
    secs=$SECONDS
    check_all_invocations "$d" "$N"
    r=$d/report.json
    warns=$(grep -c 'WARN' "$d/ext.log" || true)
    echo "unreachable throughout: $N invocations in $secs s, overhead p50 from the third" \
         "$(jq '[.invocations[2:][].extension_overhead_ms] | sort | .[(length - 1) / 2 | floor]' "$r") ms;" \
         "$warns WARN lines; breaker $(jq -c .sched.breaker "$d/stats.json")"
    grep 'WARN' "$d/ext.log" | cut -c1-200 || true
    allowed=$(( 5 * ((secs + 59) / 60) ))
    [ "$warns" -le "$allowed" ] || fail "$warns WARN lines in $secs s (at most $allowed)"
    [ "$(stat_of "$d" .sched.breaker.trips)" -ge 1 ] || fail "the breaker never opened"
    echo "ok"
    exit 0
fi
while [ "$(ran)" -lt "$K" ]; do
    kill -0 "$SIM_PID" 2>/dev/null || fail "lambda-sim ended after $(ran) invocations" || exit 1
    sleep 0.05
done
kill "$BH_PID"
wait "$BH_PID" || true
CAP=$T/capture.jsonl
"$INTAKE" --https-port "$PORT" --cert "$T/pki/server.pem" --key "$T/pki/server.key" \
    --port-file "$T/intake.ports" --capture "$CAP" --quiet 2>>"$T/intake.log" &
INTAKE_PID=$!
wait_for_file "$T/intake.ports" 10 || fail "fake-intake did not take port $PORT"
# invocations that started before the intake was back
SWITCH=$(ran)
wait "$SIM_PID" || fail "lambda-sim exit $?"
kill "$INTAKE_PID"
wait "$INTAKE_PID" || true

check_all_invocations "$d" "$N"
r=$d/report.json
pctl() { jq "[.invocations[$2:$3][].extension_overhead_ms] | sort | .[((length - 1) * $4 / 100) | floor]" "$1"; }
echo "unreachable (invocations 3..$SWITCH): overhead p50 $(pctl "$r" 2 "$SWITCH" 50) ms, p90 $(pctl "$r" 2 "$SWITCH" 90) ms;" \
     "first two: $(jq -c '[.invocations[0:2][].extension_overhead_ms]' "$r") ms;" \
     "back (invocations $((SWITCH + 2))..$N): p50 $(pctl "$r" $((SWITCH + 1)) "$N" 50) ms"
echo "go-aheads $(jq -c .sched.go "$d/stats.json"); flushes $(jq -c .sched.flushes "$d/stats.json");" \
     "breaker $(jq -c .sched.breaker "$d/stats.json"); WARN lines $(grep -c 'WARN' "$d/ext.log" || true)"
bounded=$(( $(stat_of "$d" .sched.go.timeout) + $(stat_of "$d" .sched.go.deadline) ))
[ "$bounded" -le 2 ] || fail "$bounded go-aheads held to the full bound ($(jq -c .sched.go "$d/stats.json"))"
[ "$(stat_of "$d" .sched.go.breaker)" -ge 1 ] || fail "no go-ahead came from the breaker"
[ "$(stat_of "$d" .sched.breaker.trips)" -ge 1 ] || fail "the breaker never opened"
[ "$(stat_of "$d" .sched.breaker.recoveries)" -ge 1 ] || fail "the breaker never closed"
[ "$(stat_of "$d" .sched.breaker.open)" = false ] || fail "the breaker was open at exit"
[ "$(stat_of "$d" .sched.telemetry)" = true ] || fail "no telemetry subscription"

# request id -> lowest and highest intake request seq carrying its line
jq -r 'select(.kind == "logs" and .status == 202) | .seq as $s | .body[]? | .message
       | (.message | tostring) | capture("handling (?<rid>[0-9a-f-]{36})")? | "\(.rid) \($s)"' "$CAP" > "$T/lines.txt"
i=0 prev_max=0 missing=0
for rid in $(jq -r '.invocations[].request_id' "$r"); do
    i=$((i + 1))
    lo=$(awk -v r="$rid" '$1 == r {print $2}' "$T/lines.txt" | sort -n | head -1)
    hi=$(awk -v r="$rid" '$1 == r {print $2}' "$T/lines.txt" | sort -n | tail -1)
    if [ -z "$lo" ]; then
        missing=$((missing + 1))
        continue
    fi
    # invocation SWITCH + 1 is the first to start with the intake back (its
    # end flush is the breaker's short one); from SWITCH + 2 on, each
    # invocation's line goes out at its own end, before the next one's
    if [ "$i" -ge $((SWITCH + 3)) ]; then
        [ "$lo" -gt "$prev_max" ] || fail "invocation $((i - 1))'s line (request $prev_max) arrived with or after invocation $i's (request $lo): not flushed at its own end"
    fi
    prev_max=$hi
done
[ "$missing" = 0 ] || fail "$missing of $N invocations' lines never reached the intake"
echo "ok"
