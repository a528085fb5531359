#!/bin/bash
# The stale-connection class of bugs (a pooled connection dies while the
# sandbox is frozen, the next flush fails): forkcap under lambda-sim with
# --freeze, flushing at every invocation's end, against a fake intake that
# closes any connection idle for 30 ms (shorter than the freeze; a shorter limit
# also cuts handshakes still under way on a loaded machine). Every invocation succeeds, every
# function log line arrives exactly once, no intake request fails, and no
# connection outlives its flush: at least one connection per invocation's
# flush (the posts of one flush may share one).
# Usage: e2e_freeze_stale.sh LAMBDA_SIM FORKCAP FAKE_INTAKE MAKE_CA [N]
set -euo pipefail
SIM=$1 FORKCAP=$2 INTAKE=$3 MAKE_CA=$4 N=${5:-200}
HERE=$(dirname "$0")
. "$HERE/../lib/common.sh"
. "$HERE/../e2e/e2e_lib.sh"
test_tmpdir

bash "$MAKE_CA" "$T/pki" >/dev/null
CAP=$T/capture.jsonl
"$INTAKE" --https-port 0 --cert "$T/pki/server.pem" --key "$T/pki/server.key" \
    --port-file "$T/intake.ports" --capture "$CAP" --idle-close-ms 30 --quiet 2>>"$T/intake.log" &
wait_for_file "$T/intake.ports" 10 || fail "fake-intake did not start"
port=$(jq -r .https "$T/intake.ports")
export DD_DD_URL="https://localhost:$port" DD_LOGS_CONFIG_LOGS_DD_URL="https://localhost:$port"
export DD_APM_DD_URL="https://localhost:$port" DD_TLS_CERT_FILE="$T/pki/ca.pem"
export DD_SERVERLESS_FLUSH_STRATEGY=end
unset HTTPS_PROXY https_proxy DD_PROXY_HTTPS

ext_setup "$T"
run_sim "$T" --invokes "$N" --freeze --interval-ms 60 --fn-ms 1 --log-lines 1 || fail "lambda-sim exit $?"
check_all_invocations "$T" "$N"

# every request answered 2xx; a fresh connection for every flush
bad=$(jq -s '[.[] | select(.status == null or .status >= 300)] | length' "$CAP")
[ "$bad" = 0 ] || fail "$bad intake requests failed: $(jq -c 'select(.status == null or .status >= 300) | {path,status,error}' "$CAP" | head -3)"
conns=$(jq -s 'map(.conn) | unique | length' "$CAP")
[ "$conns" -ge "$N" ] || fail "$conns connections for $N invocations flushed at their end: one outlived its flush"
reqs=$(jq -s 'length' "$CAP")
[ "$reqs" -ge "$N" ] || fail "only $reqs intake requests for $N invocations flushed at their end"

# every function line exactly once (the synthetic function writes
# "<request id> line <i> ..."), none lost across the freezes
jq -r 'select(.kind == "logs") | .body[]? | .message.message | tostring' "$CAP" \
    | grep -oE '^[0-9a-f-]{36} line [0-9]+' | sort > "$T/lines.txt" || true
total=$(wc -l < "$T/lines.txt"); uniq=$(sort -u "$T/lines.txt" | wc -l)
[ "$uniq" = "$N" ] || fail "$uniq distinct function lines at the intake for $N invocations"
# the flusher never failed a post
grep -q "flusher | exiting: .*posts [0-9]* ok, 0 failed, 0 dropped" "$T/ext.log" \
    || fail "flusher reports failed posts: $(grep 'flusher | exiting' "$T/ext.log")"
echo "ok: $N frozen invocations, $reqs requests on $conns fresh connections, $total lines ($((total - uniq)) duplicates), resumed TLS $(jq -s '[.[] | select(.tls_resumed)] | length' "$CAP")"
