# tests/e2e/e2e_lib.sh — helpers for forkcap's end-to-end and crash tests on
# lambda-sim. Source after tests/lib/common.sh; set SIM and FORKCAP first.

# ext_setup DIR: install forkcap as Lambda would start it (DIR/extensions/
# forkcap) and export the environment every run shares: ports chosen by
# the kernel (tests run in parallel), a stats file to read figures from.
ext_setup() {
    local d=$1
    mkdir -p "$d/extensions"
    cp "$FORKCAP" "$d/extensions/forkcap"
    export FORKCAP_TELEMETRY_PORT=0 DD_DOGSTATSD_PORT=0 DD_APM_RECEIVER_PORT=0 FORKCAP_LAMBDA_PORT=0
    export FORKCAP_STATS_FILE="$d/stats.json"
    : "${DD_API_KEY=0123456789abcdef0123456789abcdef}"
    # No test may reach for Datadog's real hosts: unless the test points
    # forkcap at a fake intake, every intake URL is a refused local port,
    # so a flush fails at once instead of waiting on DNS.
    : "${DD_DD_URL=https://127.0.0.1:1}" "${DD_LOGS_CONFIG_LOGS_DD_URL=https://127.0.0.1:1}"
    : "${DD_APM_DD_URL=https://127.0.0.1:1}"
    export DD_API_KEY DD_DD_URL DD_LOGS_CONFIG_LOGS_DD_URL DD_APM_DD_URL
}

# run_sim DIR ARGS...: run lambda-sim with forkcap; report in DIR/report.json,
# the extension's stderr in DIR/ext.log. Returns the simulator's status.
run_sim() {
    local d=$1; shift
    "$SIM" --port 0 --port-file "$d/sim.port" --extension "$d/extensions/forkcap" \
        --report "$d/report.json" --ext-log "$d/ext.log" --quiet "$@"
}

# check_all_invocations DIR N: N invocations, all success, no crash, no reset.
check_all_invocations() {
    local d=$1 n=$2 r=$1/report.json
    [ -s "$r" ] || fail "no report" || return 1
    [ "$(jq '.crashes | length' "$r")" = 0 ] || fail "crashes: $(jq -c .crashes "$r")" || return 1
    [ "$(jq '.resets' "$r")" = 0 ] || fail "resets: $(jq -c .resets "$r")" || return 1
    [ "$(jq '[.extensions[] | select(.crashed)] | length' "$r")" = 0 ] || fail "extension crashed" || return 1
    [ "$(jq '.invocations | length' "$r")" = "$n" ] || fail "$(jq '.invocations | length' "$r") invocations, expected $n" || return 1
    [ "$(jq '[.invocations[] | select(.status != "success")] | length' "$r")" = 0 ] ||
        fail "failed invocations: $(jq -c '[.invocations[] | select(.status != "success")]' "$r")" || return 1
    # libevent's own warnings ("[warn] Added a signal to event base ...")
    # reach stderr, which Lambda ships as the customer's logs: none may appear
    ! grep -qE "\[(warn|err)\] " "$d/ext.log" ||
        fail "libevent warning: $(grep -m1 -E '\[(warn|err)\] ' "$d/ext.log")" || return 1
    # in a sanitizer build, a finding in any of the three processes fails the test
    ! grep -qE "runtime error:|AddressSanitizer|LeakSanitizer" "$d/ext.log" ||
        fail "sanitizer report: $(grep -m3 -E 'runtime error:|Sanitizer' "$d/ext.log")" || return 1
}

# overhead_p50 DIR: median extension_overhead_ms of the report.
overhead_p50() {
    jq '[.invocations[].extension_overhead_ms] | sort | .[(length - 1) / 2 | floor]' "$1/report.json"
}

# stat DIR JQ: a figure from forkcap's stats file.
stat_of() { jq -r "$2" "$1/stats.json"; }

# kill_loop DIR WHICH COUNT [STOP_AT]: SIGKILL the child WHICH (lifecycle|
# flusher) COUNT times at random moments, reading its pid from the stats
# file; with STOP_AT, no kill once the stats count that many invocations.
kill_loop() {
    local d=$1 which=$2 count=$3 stop_at=${4:-} i pid last="" done_n
    for i in $(seq 1 "$count"); do
        sleep "0.$(( RANDOM % 3 + 1 ))$(( RANDOM % 10 ))"
        if [ -n "$stop_at" ]; then
            done_n=$(jq -r '.invocations' "$d/stats.json" 2>/dev/null || echo 0)
            [ "${done_n:-0}" -lt "$stop_at" ] 2>/dev/null || break
        fi
        pid=$(jq -r ".${which}.pid" "$d/stats.json" 2>/dev/null || true)
        if [ -n "$pid" ] && [ "$pid" != 0 ] && [ "$pid" != null ] && [ "$pid" != "$last" ]; then
            t0=$EPOCHREALTIME; kill -9 "$pid" 2>/dev/null && t1=$EPOCHREALTIME && last=$pid && echo "killed $which pid $pid at $t0 $t1" >> "$d/kills.log"
        fi
    done
}
