#!/bin/bash
# bench case "telemetry throughput": function log lines through lambda-sim's
# Telemetry API, forkcap and fake-intake over TLS. One run = INVOKES
# invocations of LINES lines each (80-byte lines by default); with a period
# (TPUT_PERIOD_MS, lambda-sim --period-ms) invocations start that far apart,
# a steady offered load (1,000 lines every 20 ms = 50,000 lines/s), without
# one they run back to back. A line counts once when its "<request id> line
# <n> " head reaches the intake, so the final flush at SHUTDOWN is part of
# every run. Also: the peak RSS and PSS of the three forkcap processes
# during the run (smaps_rollup every 100 ms), the CPU of every process, and
# the connections and posts the intake saw. One JSON line per run.
# usage: throughput.sh LAMBDA_SIM FORKCAP FAKE_INTAKE [LINES...]
#        throughput.sh LAMBDA_SIM FORKCAP FAKE_INTAKE steps
# "steps": 1,000 lines per invocation at periods of 20, 10, 8, 6, 5 and 4 ms
# (TPUT_PERIODS), TPUT_REPEAT (3) runs each, stopping after the first step
# where the median run lost a line; then one back-to-back run of 50 x 1,000
# lines (the unpaced shape earlier benches used). Each line says its
# period_ms (0 = back to back) and run.
# Environment: TPUT_INVOKES (invocations per run; default 250 in steps,
# else 200000 / LINES within [5, 50]), TPUT_LOG_BYTES (80), TPUT_REPEAT,
# TPUT_PERIOD_MS, TPUT_PARSE=1 (the fake intake parses logs bodies),
# TPUT_KEEP=DIR (keep each run's files), BENCH_PERF=1 (perf profile of the
# three processes and the intake, in BENCH_PERF_DIR).
set -euo pipefail
SIM=$1 FORKCAP=$2 FAKE=$3; shift 3
LINES_LIST=("$@"); [ ${#LINES_LIST[@]} -gt 0 ] || LINES_LIST=(1000)
LOG_BYTES=${TPUT_LOG_BYTES:-80}
REPEAT=${TPUT_REPEAT:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib/common.sh"
. "$ROOT/tests/e2e/e2e_lib.sh"
test_tmpdir
now_s() { date +%s.%N; }
cpu_s() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

bash "$ROOT/tests/lib/make-ca.sh" "$T/pki" 1 >/dev/null
CAP=$T/capture.jsonl
: > "$CAP"
# the fake intake does not parse logs bodies (its README: parsing costs it
# more than the client spends building them); TPUT_PARSE=1 makes it parse
INTAKE_ARGS=(--raw-log-bodies)
[ "${TPUT_PARSE:-0}" != 1 ] || INTAKE_ARGS=()
"$FAKE" --http-port 0 --https-port 0 --cert "$T/pki/server.pem" --key "$T/pki/server.key" \
    --port-file "$T/ports.json" --capture "$CAP" "${INTAKE_ARGS[@]}" --quiet 2>>"$T/intake.log" &
FAKE_PID=$!
wait_for_file "$T/ports.json" 10 || fail "fake-intake did not start"
URL=https://localhost:$(jq -r .https "$T/ports.json")
export DD_DD_URL=$URL DD_LOGS_CONFIG_LOGS_DD_URL=$URL DD_APM_DD_URL=$URL DD_TLS_CERT_FILE=$T/pki/ca.pem
unset HTTPS_PROXY https_proxy DD_PROXY_HTTPS DD_SITE DD_URL DD_HTTP_PROTOCOL DD_FLUSH_TIMEOUT \
    DD_SERVERLESS_FLUSH_STRATEGY DD_LOG_LEVEL DD_LOGS_ENABLED DD_SERVERLESS_LOGS_ENABLED || true

mem_of() { # PID -> "rss_kb pss_kb"
    awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} END {printf "%d %d\n", r, p}' "/proc/$1/smaps_rollup" 2>/dev/null || echo "0 0"
}

one() { # LINES RUN
    local lines=$1 d=$T/run-$1-$2 inv
    inv=${TPUT_INVOKES:-$(( 200000 / lines ))}
    [ -n "${TPUT_INVOKES:-}" ] || { [ "$inv" -le 50 ] || inv=50; [ "$inv" -ge 5 ] || inv=5; }
    mkdir -p "$d"
    ext_setup "$d"
    local before t0 t1 simpid k pid c
    before=$(wc -l < "$CAP")
    local -A rss=() pss=() pidof=() cpu0=() cpu1=()
    local fake_cpu0 fake_cpu1 sim_cpu=0 PACE=()
    [ -z "${TPUT_PERIOD_MS:-}" ] || PACE=(--period-ms "$TPUT_PERIOD_MS")
    fake_cpu0=$(cpu_s $FAKE_PID)
    t0=$(now_s)
    # the simulator itself in the background (not a subshell): its pid for CPU
    "$SIM" --port 0 --port-file "$d/sim.port" --extension "$d/extensions/forkcap" \
        --report "$d/report.json" --ext-log "$d/ext.log" --quiet \
        --invokes "$inv" --fn-ms 1 --interval-ms 0 --log-lines "$lines" \
        --log-bytes "$LOG_BYTES" "${PACE[@]}" 2>>"$d/sim.log" &
    simpid=$!
    local perfpid=""
    # sample until the simulator is gone
    while kill -0 "$simpid" 2>/dev/null; do
        if [ -z "${pidof[supervisor]:-}" ] && [ -s "$d/stats.json" ]; then
            pidof[supervisor]=$(jq -r '.pid // empty' "$d/stats.json" 2>/dev/null || true)
            pidof[lifecycle]=$(jq -r '.lifecycle.pid // empty' "$d/stats.json" 2>/dev/null || true)
            pidof[flusher]=$(jq -r '.flusher.pid // empty' "$d/stats.json" 2>/dev/null || true)
            if [ -z "${pidof[flusher]}" ] || [ "${pidof[flusher]}" = 0 ]; then
                unset 'pidof[supervisor]'
            else
                for k in supervisor lifecycle flusher; do cpu0[$k]=$(cpu_s "${pidof[$k]}"); done
                if [ -n "${BENCH_PERF:-}" ]; then
                    perf record -q -g -o "${BENCH_PERF_DIR:-/tmp}/perf-tput-$lines.data" \
                        -p "${pidof[supervisor]},${pidof[lifecycle]},${pidof[flusher]},$FAKE_PID" \
                        2>/dev/null &
                    perfpid=$!
                fi
            fi
        fi
        c=$(cpu_s "$simpid"); [ "$c" = 0 ] || sim_cpu=$c
        for k in supervisor lifecycle flusher; do
            pid=${pidof[$k]:-}
            [ -n "$pid" ] && [ -r "/proc/$pid/smaps_rollup" ] || continue
            c=$(cpu_s "$pid"); [ "$c" = 0 ] || cpu1[$k]=$c
            read -r a p <<<"$(mem_of "$pid")"
            [ "$a" -le "${rss[$k]:-0}" ] || rss[$k]=$a
            [ "$p" -le "${pss[$k]:-0}" ] || pss[$k]=$p
        done
        sleep 0.1
    done
    local rc=0
    wait "$simpid" || rc=$?
    t1=$(now_s)
    [ -z "$perfpid" ] || { kill -INT "$perfpid" 2>/dev/null || true; wait "$perfpid" 2>/dev/null || true; }
    fake_cpu1=$(cpu_s $FAKE_PID)
    sleep 0.2
    tail -n +"$((before + 1))" "$CAP" > "$d/cap.jsonl"
    local got wire last_id got_last sent simdrop spool flsum
    got=$({ grep -oE '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12} line [0-9]+ ' "$d/cap.jsonl" || true; } |
        sort -u | wc -l)
    wire=$(jq -s '[.[] | select(.kind == "logs") | .bytes_wire] | add // 0' "$d/cap.jsonl")
    last_id=$(jq -r '.invocations[-1].request_id // "none"' "$d/report.json" 2>/dev/null || echo none)
    got_last=$({ grep -oE "$last_id line [0-9]+ " "$d/cap.jsonl" || true; } | sort -u | wc -l)
    sent=$(jq '.function_log_lines // 0' "$d/report.json" 2>/dev/null || echo 0)
    simdrop=$(jq '[.telemetry[].dropped] | add // 0' "$d/report.json" 2>/dev/null || echo 0)
    spool=$(jq -c '.spool // null' "$d/stats.json" 2>/dev/null || echo null)
    flsum=$(grep -o 'flusher | exiting: .*' "$d/ext.log" 2>/dev/null | tail -n 1 | cut -c1-400 || true)
    local conns
    conns=$(jq -s -c '[.[] | select(.kind == "logs")] | {posts: length,
        connections: (map(.conn) | unique | length),
        h2_posts: (map(select(.proto == "HTTP/2")) | length),
        max_posts_per_connection: (group_by(.conn) | map(length) | max // 0),
        entries_per_post_max: (map(.body | if type == "array" then length else 0 end) | max // 0)}' "$d/cap.jsonl")
    local memj cpuj
    memj=$(for k in supervisor lifecycle flusher; do
        jq -c -n --arg k "$k" --argjson r "${rss[$k]:-null}" --argjson p "${pss[$k]:-null}" \
            '{($k): {rss_kb: $r, pss_kb: $p}}'; done | jq -s -c 'add')
    cpuj=$(for k in supervisor lifecycle flusher; do
        jq -c -n --arg k "$k" --argjson c "$(awk -v a="${cpu0[$k]:-0}" -v b="${cpu1[$k]:-0}" 'BEGIN{print b-a}')" \
            '{($k): $c}'; done | jq -s -c --argjson f "$(awk -v a="$fake_cpu0" -v b="$fake_cpu1" 'BEGIN{print b-a}')" \
            'add + {"fake-intake": $f, "lambda-sim": '"$sim_cpu"'}')
    jq -c -n --argjson lines "$lines" --argjson inv "$inv" --argjson sent "$sent" --argjson got "$got" \
        --argjson wire "$wire" --argjson simdrop "$simdrop" --argjson rc $rc --argjson lb "$LOG_BYTES" \
        --argjson got_last "$got_last" --argjson spool "${spool:-null}" --arg flsum "$flsum" \
        --argjson mem "$memj" --argjson cpu "$cpuj" --argjson conns "$conns" \
        --argjson phase "$(jq --argjson w "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')" \
            '($w - ((.init_ms // 0) + (.shutdown_ms // 0)) / 1000) * 1000 | round / 1000' "$d/report.json" 2>/dev/null || echo 0)" \
        --argjson shut "$(jq '.shutdown_ms // null' "$d/report.json" 2>/dev/null || echo null)" \
        --argjson wall "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')" '
        {lines_per_invoke: $lines, invocations: $inv, log_bytes: $lb, sent: $sent, delivered: $got,
         lost: ($sent - $got), lost_last_invocation: ([$lines - $got_last, 0] | max),
         sim_dropped: $simdrop, sim_exit: $rc, wall_s: $wall,
         lines_per_s: (if $wall > 0 then ($got / $wall | round) else null end),
         invoke_phase_s: $phase,
         offered_lines_per_s: (if $phase > 0 then ($sent / $phase | round) else null end),
         delivered_lines_per_s_invoke_phase: (if $phase > 0 then ($got / $phase | round) else null end),
         shutdown_ms: $shut,
         wire_mb_per_s: (if $wall > 0 then ($wire / $wall / 1e6 * 1000 | round / 1000) else null end),
         intake: $conns,
         memory_peak: $mem, cpu_s: $cpu, forkcap_spool: $spool, flusher_summary: $flsum}'
    [ -n "${TPUT_KEEP:-}" ] && cp -r "$d" "$TPUT_KEEP/" || true
    rm -rf "$d"
}
if [ "${LINES_LIST[0]}" = steps ]; then
    REPEAT=${TPUT_REPEAT:-3}
    for per in ${TPUT_PERIODS:-20 10 8 6 5 4}; do
        : > "$T/step.jsonl"
        for r in $(seq 1 "$REPEAT"); do
            TPUT_PERIOD_MS=$per TPUT_INVOKES=${TPUT_INVOKES:-250} one 1000 "$per-$r" |
                jq -c --argjson p "$per" --argjson r "$r" '{period_ms: $p, run: $r} + .' | tee -a "$T/step.jsonl"
        done
        # the median run of the step lost lines: the steps end here
        jq -s -e 'map(.lost) | sort | .[(length - 1) / 2 | floor] > 0' "$T/step.jsonl" >/dev/null && break
    done
    TPUT_PERIOD_MS= TPUT_INVOKES=50 one 1000 b2b | jq -c '{period_ms: 0, run: 1} + .'
    exit 0
fi
for lines in "${LINES_LIST[@]}"; do
    for r in $(seq 1 "$REPEAT"); do one "$lines" "$r"; done
done
