# tests/lctele/lib.sh — helpers for the telemetry listener's end-to-end
# tests. Source after tests/lib/common.sh and tests/e2e/e2e_lib.sh.

# spooled DIR: data frames (FT_PLATFORM + FT_LOGS) the supervisor received:
# still held, delivered or dropped, from forkcap's stats file at exit.
spooled() {
    jq '.spool.held + .spool.delivered + .spool.dropped' "$1/stats.json"
}

# post PORT FILE [curl args...]: POST FILE to the listener; prints the status.
post() {
    local port=$1 file=$2; shift 2
    curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'Content-Type: application/json' \
        --data-binary @"$file" "$@" "http://127.0.0.1:$port/" || true
}

# intake_refused: point every intake URL at a local port that refuses
# connections, so flushes fail at once instead of waiting on DNS for
# datadoghq.com; these tests look at what reaches the supervisor.
intake_refused() {
    local p=$REFUSED_PORT
    export DD_DD_URL="https://127.0.0.1:$p" DD_LOGS_CONFIG_LOGS_DD_URL="https://127.0.0.1:$p"
    export DD_APM_DD_URL="https://127.0.0.1:$p"
    unset HTTPS_PROXY https_proxy DD_PROXY_HTTPS
}
