#!/bin/bash
# bench.sh DRIVER FAKE_INTAKE [N] — flush-cost figures for the intake client
# on loopback: median ms of one post on a fresh connection, with and without
# TLS session resumption, direct and through tinyproxy, against the curl CLI
# (a new process per post: CA bundle load + full handshake). Prints one JSON
# line per case. Figures, not a test: nothing here passes or fails.
set -euo pipefail
DRIVER=$1 FAKE=$2 N=${3:-200}
here=$(dirname "$0")
. "$here/../lib/common.sh"
. "$here/lib.sh"
transport_tmpdir
start_intake "$FAKE"
# The proxy cases run through a tinyproxy logging warnings only, as a
# proxy in production would; the _loginfo case through one logging five
# Info lines per connection (as the tests' proxies do: its file writes are
# its own per-connection cost), and _delayed_ack with the kernel's delayed
# ACKs left on (the client re-arms TCP_QUICKACK at every read otherwise).
TINYPROXY_LOGLEVEL=Warning start_tinyproxy "$HTTPS_PORT"; PROXY_QUIET=$PROXY_PORT
TINYPROXY_LOGLEVEL=Info start_tinyproxy "$HTTPS_PORT"; PROXY_INFO=$PROXY_PORT
# median ms of one post and of its parts (curl's times for the last
# attempt): connect = TCP up (to the proxy when there is one), tls = TLS
# done (after the CONNECT exchange), first_byte = first answer byte;
# stalls_40ms = posts whose answer came > 30 ms after TLS was done.
case_() {
    local name=$1; shift
    post "$name" --count "$N" --gap-ms 2 "$@"
    jq -s -c --arg c "$name" '
        def med(f): (map(f) | sort | if length > 0 then .[length / 2 | floor] else null end);
        ([.[] | select(.event == "result")]) as $r
        | (.[] | select(.event == "summary"))
        | {case: $c, median_ms, count, ok, tls_resumed, h2,
           connect_ms: ($r | med(.connect_ms)), tls_ms: ($r | med(.tls_ms)),
           first_byte_ms: ($r | med(.first_byte_ms)),
           stalls_40ms: ($r | map(select(.first_byte_ms - .tls_ms > 30)) | length)}' "$TMP/$name.jsonl"
}
ENVS=(DD_TLS_CERT_FILE=$CA);                         case_ direct_h2_resumed
ENVS=(DD_TLS_CERT_FILE=$CA);                         case_ direct_h2_full --no-resume
ENVS=(DD_TLS_CERT_FILE=$CA DD_HTTP_PROTOCOL=http1);  case_ direct_h1_resumed
ENVS=(DD_TLS_CERT_FILE=$CA DD_HTTP_PROTOCOL=http1);  case_ direct_h1_full --no-resume
ENVS=(DD_TLS_CERT_FILE=$CA "DD_PROXY_HTTPS=http://127.0.0.1:$PROXY_QUIET"); case_ proxy_h1_resumed
ENVS=(DD_TLS_CERT_FILE=$CA "DD_PROXY_HTTPS=http://127.0.0.1:$PROXY_QUIET"); case_ proxy_h1_full --no-resume
ENVS=(DD_TLS_CERT_FILE=$CA "DD_PROXY_HTTPS=http://127.0.0.1:$PROXY_QUIET"); case_ proxy_h1_resumed_delayed_ack --delayed-ack
ENVS=(DD_TLS_CERT_FILE=$CA "DD_PROXY_HTTPS=http://127.0.0.1:$PROXY_INFO"); case_ proxy_h1_resumed_loginfo
body='{"series":[{"metric":"forkcap.bench","type":3,"points":[{"timestamp":0,"value":1}]}]}'
for i in $(seq 1 $((N / 4))); do
    curl -sS -o /dev/null --noproxy '*' --cacert "$CA" -H 'DD-API-KEY: abcdef0123456789' \
        -H 'Content-Type: application/json' -d "$body" -w '%{time_total}\n' \
        "https://localhost:$HTTPS_PORT/api/v2/series"
done | sort -n | awk '{a[NR]=$1} END {printf "{\"case\":\"curl_cli_process\",\"median_ms\":%.3f,\"count\":%d}\n", a[int(NR/2)+1]*1000, NR}'
# the same CLI through the quiet proxy: its answer waits on its delayed ACK
for i in $(seq 1 $((N / 4))); do
    curl -sS -o /dev/null -x "http://127.0.0.1:$PROXY_QUIET" --cacert "$CA" -H 'DD-API-KEY: abcdef0123456789' \
        -H 'Content-Type: application/json' -d "$body" -w '%{time_total}\n' \
        "https://localhost:$HTTPS_PORT/api/v2/series"
done | sort -n | awk '{a[NR]=$1} END {printf "{\"case\":\"curl_cli_process_proxy\",\"median_ms\":%.3f,\"count\":%d}\n", a[int(NR/2)+1]*1000, NR}'
jq -c 'select(.event=="init") | {case:"tls_setup", ms:.tls_setup_ms, ca_certs}' "$TMP/direct_h2_resumed.jsonl"
