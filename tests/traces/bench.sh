#!/bin/bash
# Trace figures for `make bench` (JSON lines on stdout):
#  - ingest: a load tracer (tracer_runtime.js TRACER_LOAD) sends v0.4 payloads
#    of SPANS spans, CONC at a time, for INV invocations, at growing payload
#    counts; spans/s accepted, payloads refused (503: the backlog of accepted,
#    undelivered data is full), spans at the intake (lost = accepted - at the
#    intake, must be 0), the flusher's RSS and high-water mark. The fake
#    intake decodes every payload to JSON: it, not forkcap, is the slow part.
#  - end overhead: strategy end, the scripted tracer (its aws.lambda span
#    starts the flush) next to the synthetic function without a tracer.
# Usage: bench.sh LAMBDA_SIM FORKCAP FAKE_INTAKE [INVOKES]
set -euo pipefail
SIM=$1 FORKCAP=$2 INTAKE=$3 N=${4:-200}
. "$(dirname "$0")/../lib/common.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo '{"traces":"skipped: node not installed"}'; exit 0; }
test_tmpdir
CAP=$T/cap.jsonl
"$INTAKE" --http-port 0 --port-file "$T/intake.ports" --capture "$CAP" --quiet 2>"$T/intake.log" &
wait_for_file "$T/intake.ports" 10 || fail "fake-intake did not start"
URL="http://127.0.0.1:$(jq -r .http "$T/intake.ports")"

run() { # DIR [sim args...]
    local d=$1; shift
    mkdir -p "$d"
    env FORKCAP_TELEMETRY_PORT=0 DD_DOGSTATSD_PORT=0 DD_APM_RECEIVER_PORT=0 FORKCAP_LAMBDA_PORT=0 \
        FORKCAP_STATS_FILE="$d/stats.json" DD_API_KEY=0123456789abcdef0123456789abcdef \
        DD_DD_URL="$URL" DD_LOGS_CONFIG_LOGS_DD_URL="$URL" DD_APM_DD_URL="$URL" TRACER_LOG="$d/tracer.log" \
        "$SIM" --port 0 --extension "$FORKCAP" --report "$d/report.json" --ext-log "$d/ext.log" --quiet "$@" \
        2>>"$d/sim.log"
}

dist='def dist: sort | {p50: .[(length / 2 | floor)], p99: .[((length - 1) * 0.99 | floor)], n: length};'
for mode in tracer none; do
    d=$T/end-$mode
    if [ $mode = tracer ]; then
        DD_SERVERLESS_FLUSH_STRATEGY=end run "$d" --invokes "$N" --interval-ms 0 --runtime "exec node $HERE/tracer_runtime.js" || true
    else
        DD_SERVERLESS_FLUSH_STRATEGY=end run "$d" --invokes "$N" --interval-ms 0 --fn-ms 1 --log-lines 0 || true
    fi
    jq -c --arg m "$mode" "$dist"' {traces_end_overhead: {tracer: ($m == "tracer"),
        overhead_ms: ([.invocations[].extension_overhead_ms] | dist)}}' "$d/report.json"
done

SPANS=50 CONC=4 INV=5
for payloads in ${BENCH_TRACE_STEPS:-20 100 400}; do # BENCH_TRACE_STEPS: payloads per invocation
    d=$T/ingest-$payloads
    before=$(wc -l < "$CAP")
    DD_SERVERLESS_FLUSH_STRATEGY=continuously,200 TRACER_LOAD="$payloads,$SPANS,$CONC" \
        run "$d" --invokes $INV --interval-ms 0 --timeout-ms 120000 --runtime "exec node $HERE/tracer_runtime.js" || true
    sleep 0.2
    at_intake=$(tail -n +"$((before + 1))" "$CAP" | jq -s '[.[] | select(.kind == "traces" and .status == 202)
        | .body.tracerPayloads[].chunks[].spans | length] | add // 0')
    jq -s -c --argjson at "$at_intake" --argjson sp $SPANS --argjson conc $CONC '
        map(select(.load)) | {traces_ingest: {spans_per_payload: $sp, concurrency: $conc,
          payloads_per_invocation: .[0].load.payloads, invocations: length,
          accepted_spans: (map(.load.accepted_spans) | add), refused_payloads: (map(.load.refused) | add),
          spans_at_intake: $at, lost: ((map(.load.accepted_spans) | add) - $at),
          spans_per_s: ((map(.load.accepted_spans) | add) / ((map(.load.ms) | add) / 1000) | round),
          flusher_rss_kb: (map(.load.flusher_rss_kb) | max), flusher_hwm_kb: (map(.load.flusher_hwm_kb) | max)}}' \
        "$d/tracer.log"
done
kill %1 2>/dev/null || true # the intake: nothing may hold our stdout open
