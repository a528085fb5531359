# tests/transport/lib.sh — helpers for the intake-client end-to-end tests:
# a fake intake with a throw-away CA, a real tinyproxy, and the driver.
# Source after tests/lib/common.sh, then call transport_tmpdir.

# transport_tmpdir: sets TMP to a fresh folder and, in THIS shell, an EXIT
# trap that stops every process started here and removes the folder.
# (test_tmpdir run as TMP=$(test_tmpdir) sets its trap in the command
# substitution's subshell, where it fires at once and kills nothing.)
transport_tmpdir() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/forkcap-transport.XXXXXX")
    trap 'transport_cleanup' EXIT
}
transport_cleanup() {
    local p
    for p in ${INTAKE_PIDS:-} ${PROXY_PIDS:-}; do kill "$p" 2>/dev/null || true; done
    for p in ${INTAKE_PIDS:-} ${PROXY_PIDS:-}; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}

# start_intake FAKE_INTAKE [extra fake-intake args...]: sets HTTP_PORT,
# HTTPS_PORT, CAP (capture file), CA (test CA), INTAKE_PID.
start_intake() {
    local bin=$1; shift
    bash "$(dirname "${BASH_SOURCE[0]}")/../lib/make-ca.sh" "$TMP/pki" >/dev/null
    CA=$TMP/pki/ca.pem
    CAP=$TMP/capture.jsonl
    : > "$CAP"
    rm -f "$TMP/ports.json"
    "$bin" --http-port 0 --https-port 0 --cert "$TMP/pki/server.pem" --key "$TMP/pki/server.key" \
        --port-file "$TMP/ports.json" --capture "$CAP" --quiet "$@" 2>>"$TMP/intake.log" &
    INTAKE_PID=$!
    INTAKE_PIDS="${INTAKE_PIDS:-} $INTAKE_PID"
    wait_for_file "$TMP/ports.json" 10 || fail "fake-intake did not start"
    HTTP_PORT=$(jq -r .http "$TMP/ports.json")
    HTTPS_PORT=$(jq -r .https "$TMP/ports.json")
}

# start_tinyproxy ALLOWED_CONNECT_PORT [USER PASSWORD]: sets PROXY_PORT,
# PROXY_LOG, PROXY_PID; with USER/PASSWORD the proxy demands Basic auth.
# TINYPROXY_LOGLEVEL (default Info: tests read the CONNECT lines) sets its
# LogLevel; each call starts one more proxy with its own files.
start_tinyproxy() {
    local n=${#PROXY_CONFS[@]}
    PROXY_LOG=$TMP/tinyproxy$n.log
    : > "$PROXY_LOG"
    cat > "$TMP/tinyproxy$n.conf" <<CONF
Listen 127.0.0.1
Timeout 30
LogFile "$PROXY_LOG"
LogLevel ${TINYPROXY_LOGLEVEL:-Info}
MaxClients 50
Allow 127.0.0.1
ConnectPort $1
CONF
    [ $# -lt 3 ] || echo "BasicAuth $2 $3" >> "$TMP/tinyproxy$n.conf"
    PROXY_CONFS+=("$TMP/tinyproxy$n.conf")
    tinyproxy_start "$TMP/tinyproxy$n.conf" || fail "tinyproxy did not start" || return 1
    PROXY_PORT=$TINYPROXY_PORT PROXY_PID=$TINYPROXY_PID
    PROXY_PIDS="${PROXY_PIDS:-} $PROXY_PID"
}
PROXY_CONFS=()

# post OUT [args...]: run the driver with a clean proxy environment plus
# whatever the caller exported; stdout to OUT.jsonl, stderr to OUT.err.
# Never fails by itself: the exit code is left in $RC.
post() {
    local out=$1; shift
    RC=0
    env -u HTTPS_PROXY -u https_proxy -u DD_PROXY_HTTPS -u NO_PROXY -u no_proxy \
        -u DD_PROXY_NO_PROXY -u DD_SITE -u DD_URL -u DD_DD_URL -u DD_TLS_CERT_FILE \
        -u DD_SKIP_SSL_VALIDATION -u DD_HTTP_PROTOCOL -u DD_FLUSH_TIMEOUT \
        DD_API_KEY=${KEY:-abcdef0123456789} DD_LOGS_CONFIG_LOGS_DD_URL=https://localhost:$HTTPS_PORT \
        DD_DD_URL=https://localhost:$HTTPS_PORT "${ENVS[@]}" \
        "$DRIVER" "$@" >"$TMP/$out.jsonl" 2>"$TMP/$out.err" || RC=$?
}

# results OUT: the result lines of a run.
results() { jq -c 'select(.event=="result")' "$TMP/$1.jsonl"; }
summary() { jq -c 'select(.event=="summary")' "$TMP/$1.jsonl"; }
