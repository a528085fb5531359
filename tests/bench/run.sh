#!/bin/bash
# tests/bench/run.sh [BUILD_DIR] — forkcap's bench (`make bench`): cold start,
# per-invocation overhead per flush strategy, flush cost, telemetry
# throughput, memory and size, measured side by side in one run under
# lambda-sim with the fake intake. Prints a table and writes bench.json at
# the repository root, with two SVG charts beside it (tests/bench/charts.sh).
# Figures, never assertions: targets are printed as met / not met with the
# reason; the exit status says only whether the bench itself could run.
#
# Knobs (environment): BENCH_COLD_RUNS (50 per build and CA set),
# BENCH_INVOKES (1000 per overhead case), BENCH_CASE_BUDGET_S (25: an
# overhead case is scaled down to fit; less when BENCH_TOTAL_S, 540, is
# short), BENCH_SPAWN_RUNS (500),
# BENCH_FLUSH_N (200 posts per flush-cost case), BENCH_LAYER (1: build and
# measure the static layer binary; 0 skips it), BENCH_OUT (bench.json path).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-build}" && pwd)
# shellcheck disable=SC1091
. "$ROOT/tests/lib/common.sh"

COLD_RUNS=${BENCH_COLD_RUNS:-50}
INVOKES=${BENCH_INVOKES:-1000}
CASE_BUDGET_S=${BENCH_CASE_BUDGET_S:-25}
SPAWN_RUNS=${BENCH_SPAWN_RUNS:-500}
FLUSH_N=${BENCH_FLUSH_N:-200}
WITH_LAYER=${BENCH_LAYER:-1}
OUT=${BENCH_OUT:-$ROOT/bench.json}
mkdir -p "$(dirname "$OUT")"

SIM=$BUILD/deploy/sim/lambda-sim
FAKE=$BUILD/deploy/intake/fake-intake
FORKCAP=$BUILD/supervisor/forkcap
POST=$BUILD/tests/intake-post
SPAWN=$BUILD/tests/bench-spawn
NOOP_STATIC=$BUILD/tests/bench-noop-static

say() { printf '%s\n' "bench: $*" >&2; }
now_s() { date +%s.%N; }

for b in "$SIM" "$FAKE" "$FORKCAP"; do
    [ -x "$b" ] || { say "missing $b (build first: make build)"; exit 2; }
done
if [ ! -x "$SPAWN" ] || [ ! -x "$NOOP_STATIC" ]; then
    cmake --build "$BUILD" --target bench-spawn bench-noop-static >/dev/null 2>&1 || true
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/forkcap-bench.XXXXXX")
R=$T/results
mkdir -p "$R"
PIDS=""
cleanup() {
    local p
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'say "failed at line $LINENO: $BASH_COMMAND"' ERR

T_START=$(now_s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# nearest-rank percentiles, the definition bench-spawn uses too
JQLIB='
def pct(p): sort | if length == 0 then null
    else .[([((p * length) | ceil) - 1, 0] | max)] end;
def r3: if . == null then null else (. * 1000 | round) / 1000 end;
def dist: map(select(. != null)) | {n: length, p50: (pct(0.5) | r3), p90: (pct(0.9) | r3), p99: (pct(0.99) | r3)};
'

# ---------------------------------------------------------------- set-up
bash "$ROOT/tests/lib/make-ca.sh" "$T/pki" 300 >/dev/null
CA_SMALL=$T/pki/ca.pem
CA_LARGE=$T/pki/large.pem
cat "$T/pki/ca.pem" "$T/pki/extra-cas.pem" > "$CA_LARGE"
SYS_BUNDLE_CERTS=0
for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
    if [ -s "$f" ]; then SYS_BUNDLE_CERTS=$(grep -c 'BEGIN CERT' "$f"); break; fi
done
KEY=0123456789abcdef0123456789abcdef
# the same key in a Secrets Manager secret, for the cold start with DD_API_KEY_SECRET_ARN
SECRET_ARN=arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-dd-api-key-AbCdEf
cat > "$T/aws.json" <<JSON
{"region": "us-east-1",
 "credentials": [{"AccessKeyId": "AKIDBENCH", "SecretAccessKey": "bench-secret", "Token": "bench-token"}],
 "secrets": {"$SECRET_ARN": "$KEY"}}
JSON
CAP=$T/capture.jsonl
: > "$CAP"
"$FAKE" --http-port 0 --https-port 0 --cert "$T/pki/server.pem" --key "$T/pki/server.key" \
    --port-file "$T/ports.json" --capture "$CAP" --aws "$T/aws.json" --quiet 2>>"$T/intake.log" &
PIDS="$PIDS $!"
wait_for_file "$T/ports.json" 10 || { say "fake-intake did not start"; exit 2; }
URL=https://localhost:$(jq -r .https "$T/ports.json")

# the binaries under test, each installed as Lambda would start it
mkdir -p "$T/dev/extensions"
cp "$FORKCAP" "$T/dev/extensions/forkcap"
BUILDS=(dev)
declare -A BIN=([dev]=$T/dev/extensions/forkcap)
LAYER_NOTE=""
LAYER_ZIP=""
if [ "$WITH_LAYER" = 1 ]; then
    say "building the x86_64 layer (deploy/layer/build.sh; cached libraries)"
    lb=$BUILD/bench-layer
    if [ "$(uname -m)" != x86_64 ]; then
        LAYER_NOTE="not built: host is $(uname -m), the bench runs the x86_64 layer natively only"
    elif "$ROOT/deploy/layer/build.sh" --arch x86_64 --name forkcap --out "$lb/dist" --build "$lb/build" \
            >"$T/layer-build.log" 2>&1; then
        LAYER_ZIP=$lb/dist/forkcap-layer-x86_64.zip
        mkdir -p "$T/layer"
        unzip -q -o "$LAYER_ZIP" -d "$T/layer"
        if [ -x "$T/layer/extensions/forkcap" ]; then
            BUILDS+=(layer)
            BIN[layer]=$T/layer/extensions/forkcap
        else
            LAYER_NOTE="not measured: the zip holds no executable extensions/forkcap"
        fi
    else
        LAYER_NOTE="not built: deploy/layer/build.sh failed ($(tail -n 1 "$T/layer-build.log" | cut -c1-160))"
    fi
else
    LAYER_NOTE="skipped (BENCH_LAYER=0)"
fi
[ -z "$LAYER_NOTE" ] || say "layer build $LAYER_NOTE"

# fc_run DIR BIN CA_FILE [lambda-sim args...]: one lambda-sim run of forkcap
# against the fake intake; extra environment from the XENV array. forkcap
# binds every port 0; the simulator's DogStatsD client reads forkcap's port
# from its stats file. Returns the simulator's status.
XENV=()
fc_run() {
    local d=$1 bin=$2 ca=$3 ex=(); shift 3
    mkdir -p "$d"
    # FC_EXEC=1 (a background run): the job's pid becomes the simulator's,
    # so killing the job stops the simulator and not just a subshell
    [ "${FC_EXEC:-0}" = 1 ] && ex=(exec)
    "${ex[@]}" env -u HTTPS_PROXY -u https_proxy -u HTTP_PROXY -u http_proxy -u DD_PROXY_HTTPS \
        -u NO_PROXY -u no_proxy -u DD_PROXY_NO_PROXY -u DD_SITE -u DD_URL -u DD_HTTP_PROTOCOL \
        -u DD_FLUSH_TIMEOUT -u DD_SKIP_SSL_VALIDATION -u DD_SERVERLESS_FLUSH_STRATEGY \
        -u DD_LOG_LEVEL -u DD_LOGS_ENABLED -u DD_SERVERLESS_LOGS_ENABLED \
        FORKCAP_TELEMETRY_PORT=0 DD_DOGSTATSD_PORT=0 DD_APM_RECEIVER_PORT=0 \
        FORKCAP_LAMBDA_PORT=0 FORKCAP_STATS_FILE="$d/stats.json" DD_API_KEY=$KEY \
        DD_DD_URL="$URL" DD_LOGS_CONFIG_LOGS_DD_URL="$URL" DD_APM_DD_URL="$URL" \
        DD_TLS_CERT_FILE="$ca" "${XENV[@]}" \
        "$SIM" --port 0 --extension "$bin" --report "$d/report.json" --ext-log "$d/ext.log" --quiet \
        --statsd-port-file "$d/stats.json" "$@" \
        2>>"$d/sim.log"
}

run_ok() { # DIR: the run completed without crash, reset or failed invocation
    jq -e '.init_error == null and (.crashes | length) == 0 and .resets == 0
           and ([.invocations[].status] | all(. == "success"))' "$1/report.json" >/dev/null 2>&1
}

# ------------------------------------------------------------ spawn + exit
say "spawn + exit of do-nothing programs ($SPAWN_RUNS runs each)"
NEEDED=$(readelf -d "$FORKCAP" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -v '^libc\.so' || true)
SPAWN_NOTE=""
LIBS=()
for l in $NEEDED; do LIBS+=("-l:$l"); done
if cc -O2 -o "$T/noop-dyn" "$ROOT/tests/bench/noop.c" -Wl,--no-as-needed "${LIBS[@]}" 2>"$T/noop-dyn.log"; then
    :
else
    SPAWN_NOTE="dynamic do-nothing program not linked: $(head -c 160 "$T/noop-dyn.log")"
fi
{
    if [ -x "$SPAWN" ] && [ -x "$NOOP_STATIC" ]; then
        "$SPAWN" "$SPAWN_RUNS" "$NOOP_STATIC" | jq -c '{case:"noop_static"} + .' || true
        [ ! -x "$T/noop-dyn" ] || "$SPAWN" "$SPAWN_RUNS" "$T/noop-dyn" |
            jq -c --arg n "$(ldd "$T/noop-dyn" | wc -l)" '{case:"noop_dynamic", shared_objects:($n|tonumber)} + .' || true
    else
        SPAWN_NOTE="bench-spawn not built"
    fi
} > "$R/spawn.jsonl"

# ------------------------------------------------------------- cold start
# COLD_RUNS fresh starts per build and CA set, one invocation each.
for b in "${BUILDS[@]}"; do
    for ca in single large; do
        cafile=$CA_SMALL; [ $ca = large ] && cafile=$CA_LARGE
        say "cold start: $b build, $ca CA file, $COLD_RUNS runs"
        : > "$R/cold-$b-$ca.jsonl"
        for i in $(seq 1 "$COLD_RUNS"); do
            d=$T/cold/$b-$ca-$i
            rc=0; fc_run "$d" "${BIN[$b]}" "$cafile" --invokes 1 --fn-ms 1 --log-lines 0 || rc=$?
            if [ $rc = 0 ] && run_ok "$d" && [ -s "$d/stats.json" ]; then
                jq -c -n --slurpfile r "$d/report.json" --slurpfile s "$d/stats.json" '
                    $r[0].extensions[0] as $e | $s[0] as $s |
                    {ok: true, sim_register_ms: $e.register_ms, sim_ready_ms: $e.ready_ms,
                     register_ms: $s.register_ms, subscribe_ms: $s.subscribe_ms,
                     first_next_ms: $s.first_next_ms, flusher_tls_ms: $s.flusher_tls_ms,
                     flusher_ready_ms: $s.flusher_ready_ms,
                     serial_ms: (if $s.flusher_tls_ms > 0 then $s.flusher_tls_ms + $s.first_next_ms else null end)}' \
                    >> "$R/cold-$b-$ca.jsonl"
            else
                echo '{"ok":false}' >> "$R/cold-$b-$ca.jsonl"
            fi
            rm -rf "$d"
        done
    done
done
# The same with the key in Secrets Manager (dev build, single CA): the
# register path must not change; the key is resolved by the flusher after
# its TLS set-up, and "API key resolved ... (N ms after the flusher started)" says when.
say "cold start: dev build, single CA file, DD_API_KEY_SECRET_ARN, $COLD_RUNS runs"
: > "$R/cold-dev-single-secret.jsonl"
XENV=(DD_API_KEY_SECRET_ARN="$SECRET_ARN" FORKCAP_AWS_ENDPOINT_URL="$URL" AWS_ACCESS_KEY_ID=AKIDBENCH
      AWS_SECRET_ACCESS_KEY=bench-secret AWS_SESSION_TOKEN=bench-token)
for i in $(seq 1 "$COLD_RUNS"); do
    d=$T/cold/dev-secret-$i
    rc=0; fc_run "$d" "${BIN[dev]}" "$CA_SMALL" --invokes 1 --fn-ms 1 --log-lines 0 || rc=$?
    line=$(grep -oE 'API key resolved from [A-Z_]+ in [0-9.]+ ms \([0-9.]+ ms after the flusher started\)' "$d/ext.log" 2>/dev/null || true)
    if [ $rc = 0 ] && run_ok "$d" && [ -s "$d/stats.json" ] && [ -n "$line" ]; then
        call_ms=$(sed -E 's/.* in ([0-9.]+) ms .*/\1/' <<<"$line")
        after_ms=$(sed -E 's/.*\(([0-9.]+) ms after the flusher started\)/\1/' <<<"$line")
        jq -c -n --slurpfile r "$d/report.json" --slurpfile s "$d/stats.json" \
            --argjson call "$call_ms" --argjson after "$after_ms" '
            $r[0].extensions[0] as $e | $s[0] as $s |
            {ok: true, sim_register_ms: $e.register_ms, sim_ready_ms: $e.ready_ms,
             register_ms: $s.register_ms, subscribe_ms: $s.subscribe_ms,
             first_next_ms: $s.first_next_ms, flusher_tls_ms: $s.flusher_tls_ms,
             flusher_ready_ms: $s.flusher_ready_ms,
             serial_ms: (if $s.flusher_tls_ms > 0 then $s.flusher_tls_ms + $s.first_next_ms else null end),
             key_resolved_ms: $after, key_call_ms: $call}' >> "$R/cold-dev-single-secret.jsonl"
    else
        echo '{"ok":false}' >> "$R/cold-dev-single-secret.jsonl"
    fi
    rm -rf "$d"
done
XENV=()
jq -s -c "$JQLIB"' . as $a | map(select(.ok)) as $o |
    {runs: ($a | length), failed: ([$a[] | select(.ok | not)] | length)} +
    ([ "sim_register_ms","sim_ready_ms","register_ms","subscribe_ms","first_next_ms",
       "flusher_tls_ms","flusher_ready_ms","serial_ms","key_resolved_ms","key_call_ms" ] |
     map({key: ., value: (. as $k | [$o[][$k]] | dist)}) | from_entries)' \
    "$R/cold-dev-single-secret.jsonl" > "$R/cold-dev-single-secret.json"

for b in "${BUILDS[@]}"; do
    for ca in single large; do
        jq -s -c "$JQLIB"' . as $a | map(select(.ok)) as $o |
            {runs: ($a | length), failed: ([$a[] | select(.ok | not)] | length)} +
            ([ "sim_register_ms","sim_ready_ms","register_ms","subscribe_ms","first_next_ms",
               "flusher_tls_ms","flusher_ready_ms","serial_ms" ] |
             map({key: ., value: (. as $k | [$o[][$k]] | dist)}) | from_entries)' \
            "$R/cold-$b-$ca.jsonl" > "$R/cold-$b-$ca.json"
    done
done

# ----------------------------------------------- per-invocation overhead
# extension_overhead_ms per flush strategy, with nothing to flush and with
# logs + metrics each invocation. A short probe sizes each case to fit
# CASE_BUDGET_S seconds (at most INVOKES invocations).
# The whole bench aims at BENCH_TOTAL_S (540 s): on a busy machine the
# cold starts take longer, and the overhead cases get what is left after
# keeping ~150 s for the sections that follow them.
TOTAL_S=${BENCH_TOTAL_S:-540}
CASE_BUDGET_S=$(awk -v a="$T_START" -v b="$(now_s)" -v tot="$TOTAL_S" -v max="$CASE_BUDGET_S" \
    'BEGIN { c = int((tot - (b - a) - 150) / 8) - 2; if (c > max) c = max; if (c < 3) c = 3; print c }')
say "overhead cases: up to $CASE_BUDGET_S s each"
STRATS=("end" "periodically,1000" "continuously,1000" "default")
: > "$R/overhead.jsonl"
for st in "${STRATS[@]}"; do
    for data in none logs+metrics; do
        XENV=()
        [ "$st" = default ] || XENV=("DD_SERVERLESS_FLUSH_STRATEGY=$st")
        if [ $data = none ]; then
            args=(--log-lines 0 --statsd-per-invoke 0)
        else
            args=(--log-lines 5 --statsd-per-invoke 5)
        fi
        d=$T/ovh/probe
        t0=$(now_s)
        rc=0; fc_run "$d" "$FORKCAP" "$CA_SMALL" --invokes 30 --fn-ms 1 --interval-ms 0 "${args[@]}" || rc=$?
        t1=$(now_s)
        n=$(awk -v a="$t0" -v b="$t1" -v bud="$CASE_BUDGET_S" -v max="$INVOKES" \
            'BEGIN { per = (b - a) / 30; n = per > 0 ? int(bud / per) : max; if (n > max) n = max; if (n < 50) n = 50; print n }')
        rm -rf "$d"
        d=$T/ovh/$st-$data
        say "overhead: strategy $st, data $data, $n invocations"
        before=$(wc -l < "$CAP")
        t0=$(now_s)
        rc=0; fc_run "$d" "$FORKCAP" "$CA_SMALL" --invokes "$n" --fn-ms 1 --interval-ms 0 "${args[@]}" || rc=$?
        t1=$(now_s)
        posts=$(( $(wc -l < "$CAP") - before ))
        if [ -s "$d/report.json" ]; then
            jq -c --arg st "$st" --arg data "$data" --argjson rc $rc --argjson posts "$posts" \
                --argjson wall "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b - a}')" "$JQLIB"'
                {strategy: $st, data: $data, sim_exit: $rc, wall_s: $wall, intake_posts: $posts,
                 invocations: (.invocations | length),
                 failed: ([.invocations[] | select(.status != "success")] | length),
                 overhead_ms: ([.invocations[].extension_overhead_ms] | dist),
                 overhead_max_ms: ([.invocations[].extension_overhead_ms] | max | r3)}' \
                "$d/report.json" >> "$R/overhead.jsonl"
        else
            jq -c -n --arg st "$st" --arg data "$data" --argjson rc $rc \
                '{strategy: $st, data: $data, sim_exit: $rc, invocations: 0, error: "no report"}' >> "$R/overhead.jsonl"
        fi
        rm -rf "$d"
    done
done
XENV=()

# ----------------------------------------------------------- flush cost
say "flush cost: tests/transport/bench.sh ($FLUSH_N posts per case)"
FLUSH_NOTE=""
if [ -x "$POST" ]; then
    bash "$ROOT/tests/transport/bench.sh" "$POST" "$FAKE" "$FLUSH_N" > "$R/flush.jsonl" 2>"$T/flush.err" ||
        FLUSH_NOTE="tests/transport/bench.sh failed: $(tail -n 1 "$T/flush.err" | cut -c1-160)"
else
    FLUSH_NOTE="intake-post not built"
    : > "$R/flush.jsonl"
fi

# ------------------------------------------------------------- DogStatsD
# 300,000 datagrams/s of one metric (GSO senders, then plain ones), then
# 1,000,000 metrics/s (50,000 datagrams of 20) for 5 s each at forkcap's
# DogStatsD port: received vs sent, kernel drops, the flusher's and the
# senders' CPU (tests/bench/statsd.sh).
say "dogstatsd: tests/bench/statsd.sh"
SEND=$BUILD/tests/bench-statsd-send
[ -x "$SEND" ] || cmake --build "$BUILD" --target bench-statsd-send >/dev/null 2>&1 || true
if [ -x "$SEND" ]; then
    bash "$ROOT/tests/bench/statsd.sh" "$SIM" "$FORKCAP" "$SEND" 5 > "$R/statsd.jsonl" 2>"$T/statsd.err" ||
        say "dogstatsd case failed: $(tail -n 1 "$T/statsd.err" | cut -c1-160)"
else
    : > "$R/statsd.jsonl"
fi

# -------------------------------------------------- telemetry throughput
# Function log lines through the Telemetry API, forkcap and the intake at
# growing lines per invocation; a line counts once when its
# "<request id> line <n> " head reaches the intake. Stops at the first
# loss, at saturation (< 10 % more lines/s than the step before) or when
# nothing reaches the intake at all. Default flush strategy. Lines of the
# last invocation arrive during SHUTDOWN, racing the final flush: their
# loss is shown apart (lost_last_invocation) and does not stop the steps;
# a loss before the last invocation does. (The sim's
# own "dropped" counts records still queued when the run ends, e.g. the last
# platform.report: shown, not a loss of function lines.)
LOG_BYTES=80
: > "$R/throughput.jsonl"
prev_rate=0
for lines in 10 100 1000 5000 20000; do
    inv=$(( 200000 / lines )); [ $inv -le 50 ] || inv=50; [ $inv -ge 5 ] || inv=5
    d=$T/tput/$lines
    before=$(wc -l < "$CAP")
    say "throughput: $lines lines x $LOG_BYTES B per invocation, $inv invocations"
    t0=$(now_s)
    rc=0; fc_run "$d" "$FORKCAP" "$CA_SMALL" --invokes "$inv" --fn-ms 1 --interval-ms 0 \
        --log-lines "$lines" --log-bytes "$LOG_BYTES" || rc=$?
    t1=$(now_s)
    sleep 0.2
    tail -n +"$((before + 1))" "$CAP" > "$d/cap.jsonl"
    got=$({ grep -oE '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12} line [0-9]+ ' "$d/cap.jsonl" || true; } |
        sort -u | wc -l)
    wire=$(jq -s '[.[] | select(.kind == "logs") | .bytes_wire] | add // 0' "$d/cap.jsonl")
    last_id=$(jq -r '.invocations[-1].request_id // "none"' "$d/report.json" 2>/dev/null || echo none)
    got_last=$({ grep -oE "$last_id line [0-9]+ " "$d/cap.jsonl" || true; } | sort -u | wc -l)
    sent=$(jq '.function_log_lines // 0' "$d/report.json" 2>/dev/null || echo 0)
    simdrop=$(jq '[.telemetry[].dropped] | add // 0' "$d/report.json" 2>/dev/null || echo 0)
    # forkcap's own account of the run: the supervisor's spool counters and
    # the flusher's exit summary line
    spool=$(jq -c '.spool // null' "$d/stats.json" 2>/dev/null || echo null)
    flsum=$(grep -o 'flusher | exiting: .*' "$d/ext.log" 2>/dev/null | tail -n 1 | cut -c1-400 || true)
    cut_posts=$(grep -o 'flusher | exiting: .*' "$d/ext.log" 2>/dev/null | tail -n 1 |
        grep -oE '[0-9]+ posts cut off by the flush deadline' | grep -oE '^[0-9]+' || true)
    lastflush=$(grep -oE 'flusher \| intake (unreachable|failing): .*deadline hit.*' "$d/ext.log" 2>/dev/null | tail -n 1 | cut -c1-300 || true)
    jq -c -n --argjson lines "$lines" --argjson inv "$inv" --argjson sent "$sent" --argjson got "$got" \
        --argjson wire "$wire" --argjson simdrop "$simdrop" --argjson rc $rc --argjson lb $LOG_BYTES \
        --argjson got_last "$got_last" --argjson spool "${spool:-null}" --arg flsum "$flsum" \
        --argjson cut "${cut_posts:-0}" --arg lastflush "$lastflush" \
        --argjson wall "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')" '
        {lines_per_invoke: $lines, invocations: $inv, sent: $sent, delivered: $got,
         lost: ($sent - $got), lost_last_invocation: ([$lines - $got_last, 0] | max),
         lost_before_last: ([($sent - $got) - ([$lines - $got_last, 0] | max), 0] | max),
         sim_dropped: $simdrop, sim_exit: $rc, wall_s: $wall, forkcap_spool: $spool, flusher_summary: $flsum,
         posts_cut_by_deadline: $cut, last_deadline_flush: $lastflush,
         lines_per_s: (if $wall > 0 then ($got / $wall | round) else null end),
         payload_mb_per_s: (if $wall > 0 then ($got * $lb / $wall / 1e6 * 1000 | round / 1000) else null end),
         wire_mb_per_s: (if $wall > 0 then ($wire / $wall / 1e6 * 1000 | round / 1000) else null end)}' \
        >> "$R/throughput.jsonl"
    rm -rf "$d"
    rate=$(tail -n 1 "$R/throughput.jsonl" | jq '.lines_per_s // 0')
    lost=$(tail -n 1 "$R/throughput.jsonl" | jq '.lost_before_last')
    [ "$got" -gt 0 ] || break
    [ "$lost" -le 0 ] || break
    awk -v r="$rate" -v p="$prev_rate" 'BEGIN { exit !(p > 0 && r < 1.1 * p) }' && break
    prev_rate=$rate
done

# ----------------------------------------------------------------- traces
# Trace ingest (spans/s with zero loss, flusher RSS) and end overhead with a
# tracer next to without: tests/traces/bench.sh.
say "traces: tests/traces/bench.sh"
bash "$ROOT/tests/traces/bench.sh" "$SIM" "$FORKCAP" "$FAKE" 200 > "$R/traces.jsonl" 2>"$T/traces.err" ||
    say "traces bench failed: $(tail -n 1 "$T/traces.err" | cut -c1-160)"

# ---------------------------------------------------------------- memory
# RSS and PSS (smaps_rollup) and VmHWM of the three processes, idle (one
# invocation every 100 ms, nothing to ship) and under load (back-to-back
# invocations with logs and metrics; the maximum over 4 s of samples).
mem_sample() { # PID -> "rss_kb pss_kb hwm_kb" or nothing
    local p=$1
    [ -r "/proc/$p/smaps_rollup" ] || return 0
    awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} END {printf "%d %d ", r, p}' "/proc/$p/smaps_rollup" 2>/dev/null || return 0
    awk '/^VmHWM:/ {printf "%d\n", $2}' "/proc/$p/status" 2>/dev/null || echo 0
}
mem_case() { # BUILD MODE
    local b=$1 mode=$2 d=$T/mem/$1-$2 sim_pid i k pid s
    local -A rss=() pss=() hwm=() pidof=()
    if [ "$mode" = idle ]; then
        FC_EXEC=1 fc_run "$d" "${BIN[$b]}" "$CA_SMALL" --invokes 40 --fn-ms 1 --interval-ms 100 \
            --log-lines 0 >/dev/null 2>&1 &
    else
        FC_EXEC=1 fc_run "$d" "${BIN[$b]}" "$CA_SMALL" --invokes 100000 --fn-ms 1 \
            --interval-ms 0 --log-lines 200 --statsd-per-invoke 50 >/dev/null 2>&1 &
    fi
    sim_pid=$!
    for i in $(seq 1 100); do
        [ "$(jq -r '.phase // ""' "$d/stats.json" 2>/dev/null)" = ready ] && break
        sleep 0.05
    done
    pidof[supervisor]=$(jq -r '.pid // 0' "$d/stats.json" 2>/dev/null || echo 0)
    pidof[lifecycle]=$(jq -r '.lifecycle.pid // 0' "$d/stats.json" 2>/dev/null || echo 0)
    pidof[flusher]=$(jq -r '.flusher.pid // 0' "$d/stats.json" 2>/dev/null || echo 0)
    sleep 1
    for i in $(seq 1 16); do
        for k in supervisor lifecycle flusher; do
            pid=${pidof[$k]}
            [ "$pid" != 0 ] || continue
            s=$(mem_sample "$pid")
            [ -n "$s" ] || continue
            read -r a p h <<< "$s"
            [ "$a" -le "${rss[$k]:-0}" ] || rss[$k]=$a
            [ "$p" -le "${pss[$k]:-0}" ] || pss[$k]=$p
            [ "$h" -le "${hwm[$k]:-0}" ] || hwm[$k]=$h
        done
        [ "$mode" = idle ] && [ "$i" -ge 2 ] && break
        sleep 0.25
    done
    kill -TERM "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
    for k in supervisor lifecycle flusher; do
        jq -c -n --arg b "$b" --arg m "$mode" --arg k "$k" --argjson pid "${pidof[$k]}" \
            --argjson r "${rss[$k]:-null}" --argjson p "${pss[$k]:-null}" --argjson h "${hwm[$k]:-null}" \
            '{build: $b, mode: $m, process: $k, pid: $pid, rss_kb: $r, pss_kb: $p, hwm_kb: $h}'
    done >> "$R/memory.jsonl"
    rm -rf "$d"
}
: > "$R/memory.jsonl"
for b in "${BUILDS[@]}"; do
    for mode in idle load; do
        say "memory: $b build, $mode"
        mem_case "$b" "$mode"
    done
done

# ------------------------------------------------------------------ size
strip --strip-all -o "$T/forkcap.stripped" "$FORKCAP"
SIZE_DEV=$(stat -c %s "$T/forkcap.stripped")
SIZE_DEV_UNSTRIPPED=$(stat -c %s "$FORKCAP")
SIZE_LAYER=null SIZE_ZIP=null
if [ -n "$LAYER_ZIP" ]; then
    SIZE_LAYER=$(stat -c %s "${BIN[layer]}")
    SIZE_ZIP=$(stat -c %s "$LAYER_ZIP")
fi

# ------------------------------------------------------------ assemble
T_END=$(now_s)
jq -n \
    --arg date "$(date -u '+%Y-%m-%d %H:%M UTC')" --arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
    --argjson nproc "$(nproc)" --arg load_start "$LOAD_START" --arg load_end "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --arg commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --argjson wall "$(awk -v a="$T_START" -v b="$T_END" 'BEGIN{printf "%.0f", b - a}')" \
    --arg layer_note "$LAYER_NOTE" --arg spawn_note "$SPAWN_NOTE" --arg flush_note "$FLUSH_NOTE" \
    --argjson sys_certs "$SYS_BUNDLE_CERTS" \
    --argjson cold_runs "$COLD_RUNS" --argjson case_budget "$CASE_BUDGET_S" \
    --slurpfile spawn "$R/spawn.jsonl" --slurpfile ovh "$R/overhead.jsonl" \
    --slurpfile flush "$R/flush.jsonl" --slurpfile tput "$R/throughput.jsonl" \
    --slurpfile mem "$R/memory.jsonl" --slurpfile statsd "$R/statsd.jsonl" --slurpfile traces "$R/traces.jsonl" \
    --argjson cold "$({ for b in "${BUILDS[@]}"; do for ca in single large; do
        jq -c --arg n "$b-$ca" '{($n): .}' "$R/cold-$b-$ca.json"; done; done
        jq -c '{"dev-single-secret": .}' "$R/cold-dev-single-secret.json"; } | jq -s 'add // {}')" \
    --argjson size_dev "$SIZE_DEV" --argjson size_dev_unstripped "$SIZE_DEV_UNSTRIPPED" \
    --argjson size_layer "$SIZE_LAYER" --argjson size_zip "$SIZE_ZIP" "$JQLIB"'
    def case($c): ($flush | map(select(.case == $c)) | .[0]);
    def ratio($a; $b): if $a == null or $b == null or $b == 0 then null else ($a / $b * 100 | round / 100) end;
    ($mem | group_by(.build + "/" + .mode) | map({key: (.[0].build + "/" + .[0].mode),
        value: {processes: map({key: .process, value: (del(.build, .mode, .process))}) | from_entries,
                total_pss_kb: (map(.pss_kb // 0) | add), total_rss_kb: (map(.rss_kb // 0) | add)}})
        | from_entries) as $memory |
    {
      date: $date, commit: $commit, wall_s: $wall, overhead_case_budget_s: $case_budget,
      machine: {nproc: $nproc, cpu: $cpu, load_start: $load_start, load_end: $load_end},
      notes: {layer: $layer_note, spawn: $spawn_note, flush: $flush_note},
      spawn: $spawn,
      cold_start: {runs_per_case: $cold_runs, system_bundle_certs: $sys_certs,
                   single_ca_certs: 1, large_extra_certs: 301, cases: $cold},
      overhead: $ovh,
      flush_cost: {cases: $flush,
        ratios: {
          h2_full_over_resumed: ratio(case("direct_h2_full").median_ms; case("direct_h2_resumed").median_ms),
          h1_full_over_resumed: ratio(case("direct_h1_full").median_ms; case("direct_h1_resumed").median_ms),
          proxy_full_over_resumed: ratio(case("proxy_h1_full").median_ms; case("proxy_h1_resumed").median_ms),
          proxy_over_direct_h1_resumed: ratio(case("proxy_h1_resumed").median_ms; case("direct_h1_resumed").median_ms),
          proxy_delayed_ack_over_direct_h1_resumed:
            ratio(case("proxy_h1_resumed_delayed_ack").median_ms; case("direct_h1_resumed").median_ms),
          proxy_loginfo_over_direct_h1_resumed:
            ratio(case("proxy_h1_resumed_loginfo").median_ms; case("direct_h1_resumed").median_ms),
          curl_cli_over_h2_resumed: ratio(case("curl_cli_process").median_ms; case("direct_h2_resumed").median_ms),
          curl_cli_over_h2_full: ratio(case("curl_cli_process").median_ms; case("direct_h2_full").median_ms)}},
      traces: {end_overhead: [$traces[] | .traces_end_overhead // empty],
               ingest: [$traces[] | .traces_ingest // empty]},
      throughput: {steps: $tput,
        best_zero_loss: ($tput | map(select(.delivered > 0 and .lost <= 0)) | max_by(.lines_per_s)),
        best_no_steady_loss: ($tput | map(select(.delivered > 0 and .lost_before_last <= 0)) | max_by(.lines_per_s)),
        stopped_by: (if ($tput | length) == 0 then "not run"
                     elif ($tput[-1].delivered == 0) then "no function log line reached the intake"
                     elif $tput[-1].lost_before_last > 0 then "loss before the last invocation at \($tput[-1].lines_per_invoke) lines/invocation"
                     elif ($tput | length) >= 2 and $tput[-1].lines_per_s < 1.1 * $tput[-2].lines_per_s then "saturated at \($tput[-1].lines_per_invoke) lines/invocation (< 10 % gain)"
                     else "largest step reached without loss or saturation" end)},
      memory: $memory,
      dogstatsd: $statsd,
      size: {dev_stripped: $size_dev, dev_unstripped: $size_dev_unstripped, layer_binary: $size_layer, layer_zip: $size_zip}
    }
    | . as $b
    | .targets = [
        ( $b.dogstatsd[] | (.case == "dgram_300k_plain") as $plain
          | {target: (if $plain then "DogStatsD \(.case): all received, zero kernel drops for 5 s, at the rate one send per datagram reaches here"
                      else "DogStatsD \(.case): all received, zero kernel drops for 5 s" end),
             value: .received_metrics, met: (.kernel_drops == 0 and .received_metrics == .sent.metrics
                                             and ($plain or .sent.rate >= (if .case == "dgram_300k" then 300000 else 50000 end) * 0.98)),
             why: "sent \(.sent.rate) datagrams/s (\(.sent.metrics) metrics), received \(.received_metrics), kernel drops \(.kernel_drops), flusher CPU \(.flusher_cpu_share * 100 | round) %, senders \((.sender_cpu_share // 0) * 100 | round) %"} ),
        ( $b.cold_start.cases["layer-large"].sim_ready_ms.p50 as $l
          | $b.cold_start.cases["layer-single"].sim_ready_ms as $s
          | {target: "layer ready_ms p50 <= 3 ms (large bundle)", value: $l,
             met: (if $l == null then null else $l <= 3 end),
             why: (if $l == null then "layer not measured" elif $l <= 3 then "" else "\($l) ms > 3 ms" end)},
            {target: "layer ready_ms p50, large bundle within noise of single CA (<= single p90)",
             value: $l, met: (if $l == null or $s.p90 == null then null else $l <= $s.p90 end),
             why: (if $l == null then "layer not measured" elif $l <= $s.p90 then "single p50 \($s.p50), p90 \($s.p90)"
                   else "large p50 \($l) > single p90 \($s.p90)" end)} ),
        ( $b.cold_start.cases["dev-single-secret"] as $k | $b.cold_start.cases["dev-single"].sim_ready_ms as $s
          | {target: "register path unchanged with DD_API_KEY_SECRET_ARN (dev ready_ms p50 <= dev single-CA p90)",
             value: $k.sim_ready_ms.p50,
             met: (if $k.sim_ready_ms.p50 == null or $s.p90 == null then null else $k.sim_ready_ms.p50 <= $s.p90 end),
             why: "key resolved \($k.key_resolved_ms.p50) ms after the flusher started, p50 (p90 \($k.key_resolved_ms.p90)), the AWS call \($k.key_call_ms.p50) ms; without the secret: ready p50 \($s.p50), p90 \($s.p90)"} ),
        ( [$b.overhead[] | select(.data == "none" and .strategy != "end") | {s: .strategy, p: .overhead_ms.p50}] as $o
          | ($o | map(.p) | max) as $m
          | {target: "overhead p50 < 1 ms with nothing to flush (periodically, continuously, default; no function data)", value: $m,
             met: (if $m == null then null else $m < 1 end),
             why: (if $m == null then "not measured" elif $m < 1 then "" else
                   "over 1 ms: " + ($o | map(select(.p >= 1) | "\(.s) \(.p) ms") | join(", ")) end)} ),
        ( [$b.overhead[] | select(.data == "none" and .strategy == "end")][0] as $e
          | select($e != null)
          | {target: "overhead p50 < 1 ms, strategy end, no function data", value: $e.overhead_ms.p50,
             met: (if $e.overhead_ms.p50 == null then null else $e.overhead_ms.p50 < 1 end),
             why: "end flushes at every invocation end even without function data (platform lines and enhanced metrics: \($e.intake_posts) posts for \($e.invocations) invocations), so the wait for platform.runtimeDone (telemetry buffering, >= 25 ms) plus a fresh-connection flush is its floor"} ),
        ( ["layer", "dev"][] as $bl | $b.memory["\($bl)/idle"].total_pss_kb as $p
          | select($p != null)
          | {target: "total PSS <= 8 MB idle (\($bl))", value: ($p / 1024 * 100 | round / 100),
             met: ($p <= 8192), why: (if $p <= 8192 then "" else "\($p / 1024 * 100 | round / 100) MB" end)} ),
        ( $b.flush_cost.ratios.proxy_over_direct_h1_resumed as $r
          | {target: "flush cost through a local tinyproxy <= 2x direct (HTTP/1.1, TLS resumed)", value: $r,
             met: (if $r == null then null else $r <= 2 end),
             why: (if $r == null then "no proxy figure" elif $r <= 2 then "" else "\($r)x" end)} ),
        {target: "stripped dev binary <= 1 MB", value: $b.size.dev_stripped, met: ($b.size.dev_stripped <= 1048576),
         why: (if $b.size.dev_stripped <= 1048576 then "" else "\($b.size.dev_stripped) bytes" end)},
        {target: "layer binary <= 6 MB", value: $b.size.layer_binary,
         met: (if $b.size.layer_binary == null then null else $b.size.layer_binary <= 6291456 end),
         why: (if $b.size.layer_binary == null then "layer not built" else "" end)},
        {target: "layer zip <= 3 MB", value: $b.size.layer_zip,
         met: (if $b.size.layer_zip == null then null else $b.size.layer_zip <= 3145728 end),
         why: (if $b.size.layer_zip == null then "layer not built" else "" end)}
      ]' > "$OUT"

bash "$ROOT/tests/bench/table.sh" "$OUT"
say "wrote $OUT"
bash "$ROOT/tests/bench/charts.sh" "$OUT" >&2 || say "charts not written"
