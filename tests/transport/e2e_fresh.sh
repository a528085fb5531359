#!/bin/bash
# e2e_fresh.sh DRIVER FAKE_INTAKE — no idle connection pool: posts one
# after the other each get a fresh connection, with the intake closing idle
# connections after a few ms (what a sandbox freeze does to a pooled one):
# no errors, one request per connection, TLS sessions resumed after the
# first. The posts of one flush share one HTTP/2 connection (streams in
# flight at once), or a few HTTP/1.1 ones, and no connection outlives its
# flush.
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

# Flushes of many payloads at once, on an intake that holds every answer
# 300 ms (so all of a flush's posts are in flight together): each flush's
# 20 posts on ONE HTTP/2 connection, 16 streams at once (FL_INTAKE_INFLIGHT_MAX), a new
# connection per flush (resuming TLS), and none left open once the driver's
# flushes are over (the intake's "open" counts the others than the one
# asking).
kill "$INTAKE_PID"; wait "$INTAKE_PID" 2>/dev/null || true
start_intake "$FAKE" --fail "path=/api/v2/series,delay_ms=300"
ENVS=(DD_TLS_CERT_FILE=$CA)
post flush --flush --count 20 --flushes 3 --budget-ms 10000 --check-url "http://127.0.0.1:$HTTP_PORT/_intake/stats"
[ "$RC" -eq 0 ] || fail "flush: exit $RC: $(grep -v result "$TMP/flush.jsonl" | head -5)"
[ "$(jq -s -c '[.[] | select(.event=="flush") | .ok]' "$TMP/flush.jsonl")" = "[20,20,20]" ] ||
    fail "flush: $(grep '"flush"' "$TMP/flush.jsonl")"
[ "$(wc -l <"$CAP")" -eq 60 ] || fail "flush: capture holds $(wc -l <"$CAP") requests, expected 60"
[ "$(jq -s -c 'group_by(.conn) | map(length)' "$CAP")" = "[20,20,20]" ] ||
    fail "flush: posts per connection $(jq -s -c 'group_by(.conn) | map(length)' "$CAP"), expected one connection per flush"
[ "$(jq -s 'map(select(.proto=="HTTP/2")) | length' "$CAP")" -eq 60 ] || fail "flush: not all on HTTP/2"
[ "$(jq -s -c 'group_by(.conn) | map(.[0].tls_resumed)' "$CAP")" = "[false,true,true]" ] ||
    fail "flush: later flushes' connections did not resume TLS"
check=$(jq -c 'select(.event=="check") | .body' "$TMP/flush.jsonl")
[ "$(jq .max_streams <<<"$check")" -eq 16 ] || fail "flush: at most $(jq .max_streams <<<"$check") streams at once, expected 16 (FL_INTAKE_INFLIGHT_MAX)"
[ "$(jq .open <<<"$check")" -eq 0 ] || fail "flush: $(jq .open <<<"$check") connection(s) still open after the flushes"
# closed once per flush, and once after the check request
[ "$(summary flush | jq .conn_closes)" -eq 4 ] || fail "flush: connections closed $(summary flush | jq .conn_closes) times, expected once per flush (3) and after the check"

# the same over HTTP/1.1: at most FL_INTAKE_HOST_CONNS (4) connections per
# flush, each reused, none left open
: > "$CAP"
ENVS=(DD_TLS_CERT_FILE=$CA DD_HTTP_PROTOCOL=http1)
post flush1 --flush --count 20 --budget-ms 10000 --check-url "http://127.0.0.1:$HTTP_PORT/_intake/stats"
[ "$RC" -eq 0 ] || fail "flush http1: exit $RC"
conns=$(jq -s 'map(.conn) | unique | length' "$CAP")
[ "$conns" -le 4 ] && [ "$conns" -ge 1 ] || fail "flush http1: $conns connections, expected 1..4"
[ "$(jq -s 'map(select(.proto=="HTTP/1.1")) | length' "$CAP")" -eq 20 ] || fail "flush http1: not all on HTTP/1.1"
[ "$(jq -c 'select(.event=="check") | .body.open' "$TMP/flush1.jsonl")" -eq 0 ] || fail "flush http1: connections left open"
echo "PASS"
