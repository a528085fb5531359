#!/bin/bash
# e2e_fresh.sh DRIVER FAKE_INTAKE — every post on a fresh connection, with
# the intake closing idle connections after a few ms (what a sandbox
# freeze does to a pooled one): no errors, one request per connection,
# TLS sessions resumed after the first.
set -euo pipefail
DRIVER=$1 FAKE=$2
here=$(dirname "$0")
. "$here/../lib/common.sh"
. "$here/lib.sh"
transport_tmpdir
# 30 ms idle close, 60 ms between posts: a pooled connection would be dead
# by the next post, as after a freeze. (Much lower and the intake closes
# connections that are still handshaking on a busy machine.)
start_intake "$FAKE" --idle-close-ms 30
N=50
ENVS=(DD_TLS_CERT_FILE=$CA)
post fresh --count $N --gap-ms 60
[ "$RC" -eq 0 ] || { cat "$TMP/fresh.err"; fail "exit $RC: $(results fresh | jq -c 'select(.outcome!="ok")' | head -3)"; }
# (a retry is tolerated: on a loaded machine the intake's idle timer can
# fire while a handshake is still in progress, which is not what is tested)
[ "$(results fresh | jq -s 'map(select(.outcome=="ok" and .new_conn)) | length')" -eq $N ] ||
    fail "not every post succeeded on a new connection"
[ "$(wc -l <"$CAP")" -eq $N ] || fail "capture holds $(wc -l <"$CAP") requests, expected $N"
[ "$(jq -s 'map(.conn) | unique | length' "$CAP")" -eq $N ] || fail "connections were reused"
[ "$(jq -s 'map(select(.conn_req==1)) | length' "$CAP")" -eq $N ] || fail "a connection carried two requests"
[ "$(jq -s '.[0].tls_resumed' "$CAP")" = false ] || fail "the first connection cannot resume"
[ "$(jq -s '.[1:] | map(select(.tls_resumed)) | length' "$CAP")" -eq $((N - 1)) ] ||
    fail "only $(jq -s '.[1:] | map(select(.tls_resumed)) | length' "$CAP") of $((N - 1)) later connections resumed TLS"
[ "$(jq -s 'map(select(.alpn=="h2")) | length' "$CAP")" -eq $N ] || fail "not all on HTTP/2"

# the same over HTTP/1.1
: > "$CAP"
ENVS=(DD_TLS_CERT_FILE=$CA DD_HTTP_PROTOCOL=http1)
post fresh1 --count 10 --gap-ms 60
[ "$RC" -eq 0 ] || fail "http1: exit $RC"
[ "$(jq -s 'map(select(.conn_req==1 and .proto=="HTTP/1.1")) | length' "$CAP")" -eq 10 ] || fail "http1: connections reused"
[ "$(jq -s '.[1:] | map(select(.tls_resumed)) | length' "$CAP")" -eq 9 ] || fail "http1: TLS not resumed"

# --no-resume (bench baseline): a full handshake every time
: > "$CAP"
ENVS=(DD_TLS_CERT_FILE=$CA)
post nores --count 5 --gap-ms 15 --no-resume
[ "$RC" -eq 0 ] || fail "no-resume: exit $RC"
[ "$(jq -s 'map(select(.tls_resumed)) | length' "$CAP")" -eq 0 ] || fail "--no-resume still resumed"

# one flush of many payloads at once: all delivered, each on its own connection
: > "$CAP"
post flush --flush --count 20 --budget-ms 10000
[ "$RC" -eq 0 ] || fail "flush: exit $RC"
[ "$(jq -r 'select(.event=="flush") | .ok' "$TMP/flush.jsonl")" = 20 ] || fail "flush: $(grep flush "$TMP/flush.jsonl")"
[ "$(jq -s 'map(.conn) | unique | length' "$CAP")" -eq 20 ] || fail "flush: connections shared"
echo "PASS"
