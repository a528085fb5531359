#!/bin/bash
# Flush strategies end to end: forkcap under lambda-sim, shipping to a fake
# intake over HTTPS, one strategy per run (MODE):
#   end           a flush before every go-ahead: the stats file counts one
#                 end flush per invocation, every go-ahead follows a
#                 FT_FLUSHED, and (with the telemetry subscription) each
#                 invocation's log lines reach the intake before any line of
#                 the next invocation; prints the overhead p50/p99.
#   continuously  every go-ahead immediate, background flushes happen, and
#                 the overhead stays below the end strategy's (the same run
#                 measures both); prints p50/p99 of both.
#   periodically  periodically,<long>: the first invocation flushes, the
#                 others go at once.
#   ignore        a flusher that never answers FT_FLUSH (test-hooks build):
#                 the go-ahead comes at the flush-timeout bound, then (with a
#                 short function timeout) at the deadline bound; every
#                 invocation completes, nothing crashes.
# Usage: e2e_sched.sh MODE LAMBDA_SIM FORKCAP FORKCAP_TESTHOOKS FAKE_INTAKE MAKE_CA
set -euo pipefail
MODE=$1 SIM=$2 FORKCAP=$3 FORKCAP_TH=$4 INTAKE=$5 MAKE_CA=$6
HERE=$(dirname "$0")
. "$HERE/../lib/common.sh"
. "$HERE/../e2e/e2e_lib.sh"
test_tmpdir

# intake: HTTPS with a throw-away CA; forkcap's environment points at it
start_intake() {
    bash "$MAKE_CA" "$T/pki" >/dev/null
    CAP=$T/capture.jsonl
    : > "$CAP"
    "$INTAKE" --http-port 0 --https-port 0 --cert "$T/pki/server.pem" --key "$T/pki/server.key" \
        --port-file "$T/intake.ports" --capture "$CAP" --quiet 2>>"$T/intake.log" &
    INTAKE_PID=$!
    wait_for_file "$T/intake.ports" 10 || fail "fake-intake did not start" || return 1
    local port
    port=$(jq -r .https "$T/intake.ports")
    export DD_DD_URL="https://localhost:$port" DD_LOGS_CONFIG_LOGS_DD_URL="https://localhost:$port"
    export DD_APM_DD_URL="https://localhost:$port" DD_TLS_CERT_FILE="$T/pki/ca.pem"
    unset HTTPS_PROXY https_proxy DD_PROXY_HTTPS
}
stop_intake() { kill "$INTAKE_PID" 2>/dev/null || true; wait "$INTAKE_PID" 2>/dev/null || true; }

# run STRATEGY DIR N [sim args...]: one lambda-sim run in DIR.
run() {
    local strategy=$1 d=$2 n=$3; shift 3
    mkdir -p "$d"
    ext_setup "$d"
    DD_SERVERLESS_FLUSH_STRATEGY=$strategy run_sim "$d" --invokes "$n" "$@" || fail "lambda-sim exit $?"
    check_all_invocations "$d" "$n"
    [ "$(stat_of "$d" .phase)" = exit ] || fail "the supervisor did not exit through SHUTDOWN"
    [ "$(stat_of "$d" .sched.flushes.started)" != null ] || fail "no sched figures in the stats file"
}
pct() { jq "[.invocations[].extension_overhead_ms] | sort | .[((length - 1) * $2 / 100) | floor]" "$1/report.json"; }
go() { stat_of "$1" ".sched.go.$2"; }
sched_json() { jq -c "$2" "$1/stats.json"; }
figures() {
    echo "$1: overhead p50 $(pct "$2" 50) ms, p99 $(pct "$2" 99) ms over $(jq '.invocations | length' "$2/report.json") invocations;" \
        "go-aheads $(sched_json "$2" .sched.go); flushes $(sched_json "$2" .sched.flushes); telemetry $(stat_of "$2" .sched.telemetry)"
}

# end: checks shared by the end and continuously modes
check_end() {
    local d=$1 n=$2
    local started flushed
    started=$(stat_of "$d" .sched.flushes.started)
    flushed=$(go "$d" flushed)
    [ "$(go "$d" immediate)" = 0 ] || fail "end gave $(go "$d" immediate) immediate go-aheads"
    # one end flush per invocation (+ the final one at SHUTDOWN)
    [ "$started" -ge $(( n + 1 )) ] || fail "$started flushes for $n invocations"
    # a local intake answers long before any bound: every go-ahead follows its flush
    [ "$flushed" = "$n" ] || fail "$flushed of $n go-aheads after FT_FLUSHED ($(sched_json "$d" .sched.go))"
    [ "$(stat_of "$d" .sched.flushes.ok)" -ge "$n" ] || fail "flushes not ok: $(sched_json "$d" .sched.flushes)"
    if [ "$(stat_of "$d" .sched.telemetry)" = true ]; then
        # held until runtimeDone: Lambda's telemetry buffering is the floor
        [ "$(stat_of "$d" .sched.runtime_done.matched)" = "$n" ] || fail "runtimeDone matched $(stat_of "$d" .sched.runtime_done.matched) of $n"
        awk -v p="$(pct "$d" 50)" 'BEGIN { exit !(p > 0) }' || fail "end overhead p50 is 0: nothing was held"
        # each invocation's lines reached the intake before the next one's
        jq -r 'select(.kind == "logs" and .status == 202) | .seq as $s | .body[]? | .message
               | (.message | tostring) | capture("(?<rid>[0-9a-f-]{36}) line")? | "\(.rid) \($s)"' "$CAP" > "$d/lines.txt"
        local prev_max=0 rid lo hi i=0
        for rid in $(jq -r '.invocations[].request_id' "$d/report.json"); do
            i=$((i + 1))
            lo=$(awk -v r="$rid" '$1 == r {print $2}' "$d/lines.txt" | sort -n | head -1)
            hi=$(awk -v r="$rid" '$1 == r {print $2}' "$d/lines.txt" | sort -n | tail -1)
            [ -n "$lo" ] || fail "invocation $i ($rid): no log line at the intake"
            [ "$lo" -gt "$prev_max" ] || fail "invocation $i's lines (request $lo) arrived with or before invocation $((i - 1))'s (request $prev_max)"
            prev_max=$hi
        done
    fi
}

start_intake
case $MODE in
end)
    N=100
    run end "$T/end" $N --fn-ms 5 --log-lines 2
    figures end "$T/end"
    check_end "$T/end" $N
    ;;
continuously)
    N=100
    run end "$T/end" $N --fn-ms 5
    run continuously,50 "$T/cont" $N --fn-ms 5
    figures end "$T/end"
    figures continuously,50 "$T/cont"
    d=$T/cont
    [ "$(go "$d" immediate)" = $N ] || fail "continuously: $(go "$d" immediate) of $N go-aheads immediate ($(sched_json "$d" .sched.go))"
    [ "$(stat_of "$d" .sched.flushes.background)" -ge 1 ] || fail "continuously: no background flush"
    [ "$(stat_of "$d" .sched.runtime_done.ignored)" -ge 1 ] || [ "$(stat_of "$d" .sched.telemetry)" = false ] ||
        fail "continuously: runtimeDone records never reached the supervisor"
    # going at once never costs more than holding until runtimeDone and a flush
    [ "$(stat_of "$T/end" .sched.telemetry)" = false ] || awk -v c="$(pct "$T/cont" 50)" -v e="$(pct "$T/end" 50)" 'BEGIN { exit !(c <= e) }' ||
        fail "continuously p50 $(pct "$T/cont" 50) ms above end's $(pct "$T/end" 50) ms"
    ;;
periodically)
    N=20
    run periodically,600000 "$T/per" $N --fn-ms 5
    figures periodically,600000 "$T/per"
    d=$T/per
    [ "$(go "$d" flushed)" = 1 ] || fail "periodically: $(go "$d" flushed) flushed go-aheads, want 1 (the first)"
    [ "$(go "$d" immediate)" = $((N - 1)) ] || fail "periodically: $(go "$d" immediate) immediate, want $((N - 1))"
    ;;
ignore)
    # a flusher that never answers; the bounds are timers, not hopes
    FORKCAP=$FORKCAP_TH
    export FORKCAP_TEST_FLUSHER_IGNORE_FLUSH=1
    N=4
    DD_FLUSH_TIMEOUT=1 run end "$T/to" $N --fn-ms 5 --timeout-ms 3000
    figures "end, flusher deaf, DD_FLUSH_TIMEOUT=1, function timeout 3 s" "$T/to"
    [ "$(go "$T/to" timeout)" -ge 1 ] || fail "flush-timeout bound: go-aheads $(sched_json "$T/to" .sched.go)"
    [ $(( $(go "$T/to" timeout) + $(go "$T/to" breaker) )) = $N ] || fail "flush-timeout bound: go-aheads $(sched_json "$T/to" .sched.go)"
    [ "$(stat_of "$T/to" .sched.flushes.timed_out)" -ge $((N - 1)) ] || fail "no flush counted as timed out"
    [ "$(stat_of "$T/to" .sched.flushes.ok)" = 0 ] || fail "a deaf flusher's flush counted ok"
    [ "$(stat_of "$T/to" .sched.breaker.trips)" -ge 1 ] || fail "flushes timed out, the breaker stayed closed"
    # the first hold lasted up to the bound: far longer than the function ran
    first=$(jq '.invocations[0].extension_overhead_ms' "$T/to/report.json")
    awk -v p="$first" 'BEGIN { exit !(p >= 500) }' || fail "held only $first ms"
    DD_FLUSH_TIMEOUT=30 run end "$T/dl" $N --fn-ms 5 --timeout-ms 1500
    figures "end, flusher deaf, DD_FLUSH_TIMEOUT=30, function timeout 1.5 s" "$T/dl"
    [ "$(go "$T/dl" deadline)" -ge 1 ] || fail "deadline bound: go-aheads $(sched_json "$T/dl" .sched.go)"
    [ $(( $(go "$T/dl" deadline) + $(go "$T/dl" breaker) )) = $N ] || fail "deadline bound: go-aheads $(sched_json "$T/dl" .sched.go)"
    grep -q "final flush not done in time" "$T/dl/ext.log" || fail "the final flush was answered by a deaf flusher?"
    ;;
*)
    fail "unknown mode $MODE"
    ;;
esac
stop_intake
echo "ok"
