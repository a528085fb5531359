# tests/pipeline/lib.sh — helpers for the pipeline's end-to-end tests: forkcap
# under lambda-sim shipping to a fake-intake over HTTPS (throw-away CA).
# Source after tests/lib/common.sh and tests/e2e/e2e_lib.sh; set SIM, FORKCAP,
# INTAKE, MAKE_CA; call test_tmpdir first.

# pipe_setup: the intake (HTTPS, test CA) and forkcap's environment pointing
# at it. Sets CAP (capture file), HTTPS_PORT, HTTP_PORT, INTAKE_PID.
pipe_setup() {
    ext_setup "$T"
    bash "$MAKE_CA" "$T/pki" >/dev/null
    CAP=$T/capture.jsonl
    : > "$CAP"
    "$INTAKE" --http-port 0 --https-port 0 --cert "$T/pki/server.pem" --key "$T/pki/server.key" \
        --port-file "$T/intake.ports" --capture "$CAP" --quiet 2>>"$T/intake.log" &
    INTAKE_PID=$!
    wait_for_file "$T/intake.ports" 10 || fail "fake-intake did not start" || return 1
    HTTPS_PORT=$(jq -r .https "$T/intake.ports")
    HTTP_PORT=$(jq -r .http "$T/intake.ports")
    export DD_DD_URL="https://localhost:$HTTPS_PORT"
    export DD_LOGS_CONFIG_LOGS_DD_URL="https://localhost:$HTTPS_PORT"
    export DD_TLS_CERT_FILE="$T/pki/ca.pem"
    export DD_SERVERLESS_FLUSH_STRATEGY="${DD_SERVERLESS_FLUSH_STRATEGY:-end}"
    export DD_ENV=e2e DD_SERVICE=pipe-svc DD_TAGS="team:pipe"
    unset HTTPS_PROXY https_proxy DD_PROXY_HTTPS
}

# pipe_stop_intake: SIGTERM the intake so its capture file is complete.
pipe_stop_intake() {
    kill "$INTAKE_PID" 2>/dev/null || true
    wait "$INTAKE_PID" 2>/dev/null || true
}

# kill_both_checked COUNT [STOP_AT]: kill_loop the flusher and the lifecycle
# child side by side, COUNT times each (none once STOP_AT invocations are
# counted), then wait for lambda-sim ($SIMPID), stop the intake and check
# what every kill test demands: a report (R is set to it), lambda-sim exit 0,
# no Extension.Crash, at least 5 kills of each child landed, no sanitizer
# report in the extension's log.
kill_both_checked() {
    local count=$1 stop_at=${2:-} k1 k2 rc=0 kills_f kills_l
    kill_loop "$T" flusher "$count" $stop_at &
    k1=$!
    kill_loop "$T" lifecycle "$count" $stop_at &
    k2=$!
    wait $k1 $k2 || true
    wait "$SIMPID" || rc=$?
    pipe_stop_intake
    R=$T/report.json
    [ -s "$R" ] || fail "no report (lambda-sim exit $rc)" || return 1
    kills_f=$(grep -c "killed flusher" "$T/kills.log" || true)
    kills_l=$(grep -c "killed lifecycle" "$T/kills.log" || true)
    echo "kills: flusher $kills_f, lifecycle $kills_l; lambda-sim exit $rc"
    [ "$(jq '.crashes | length' "$R")" = 0 ] || fail "crashes: $(jq -c .crashes "$R")" || return 1
    [ "$(jq '[.extensions[] | select(.crashed)] | length' "$R")" = 0 ] || fail "extension crashed" || return 1
    [ "$rc" = 0 ] || fail "lambda-sim exit $rc" || return 1
    [ "$kills_f" -ge 5 ] && [ "$kills_l" -ge 5 ] || fail "too few kills landed ($kills_f, $kills_l)" || return 1
    ! grep -qE "runtime error:|AddressSanitizer|LeakSanitizer" "$T/ext.log" || fail "sanitizer report" || return 1
}

# function_lines: every function log line accepted by the intake, one per
# line as "<request_id in the line>\t<message.lambda.request_id>\t<line key>".
# The synthetic function writes "<request id> line <n> xxx..." (or that as the
# "message" of a JSON object).
function_lines() {
    jq -r 'select(.kind == "logs" and .status == 202) | .body[]? | .message
           | (.message | tostring) as $m
           | ($m | capture("(?<rid>[0-9a-f-]{36}) line (?<n>[0-9]+)")?) as $c
           | select($c != null)
           | "\($c.rid)\t\(.lambda.request_id)\t\($c.rid) line \($c.n)"' "$CAP"
}

# sketch_stat NAME FIELD: sum of FIELD (cnt, sum) over every dogsketch of
# metric NAME accepted by the intake; min/max fields give min/max.
sketch_stat() {
    local op=add
    case $2 in min) op=min ;; max) op=max ;; esac
    jq -s --arg m "$1" --arg f "$2" "[.[] | select(.kind == \"sketches\" and .status == 202)
          | .body.sketches[]? | select(.metric == \$m) | .dogsketches[] | .[\$f]] | $op // 0" "$CAP"
}

# series_sum NAME: the sum of every point of series NAME accepted by the intake.
series_sum() {
    jq -s --arg m "$1" '[.[] | select(.kind == "series" and .status == 202)
          | .body.series[]? | select(.metric == $m) | .points[].value] | add // 0' "$CAP"
}

# close_to GOT WANT REL ABS WHAT: |GOT - WANT| <= REL*|WANT| + ABS.
close_to() {
    awk -v g="$1" -v w="$2" -v r="$3" -v a="$4" 'BEGIN {
        d = g - w; if (d < 0) d = -d; m = w < 0 ? -w : w; exit !(d <= r * m + a) }' ||
        fail "$5: got $1, want $2 (within $3 relative + $4)"
}

# rss_kb PID: resident set size of PID in KiB (0 when gone).
rss_kb() { awk '/^VmRSS:/ { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0; }
