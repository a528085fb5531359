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
start_tinyproxy "$HTTPS_PORT"
case_() {
    local name=$1; shift
    post "$name" --count "$N" --gap-ms 2 "$@"
    jq -c --arg c "$name" 'select(.event=="summary") | {case:$c, median_ms, count, ok, tls_resumed, h2}' "$TMP/$name.jsonl"
}
ENVS=(DD_TLS_CERT_FILE=$CA);                         case_ direct_h2_resumed
ENVS=(DD_TLS_CERT_FILE=$CA);                         case_ direct_h2_full --no-resume
ENVS=(DD_TLS_CERT_FILE=$CA DD_HTTP_PROTOCOL=http1);  case_ direct_h1_resumed
ENVS=(DD_TLS_CERT_FILE=$CA DD_HTTP_PROTOCOL=http1);  case_ direct_h1_full --no-resume
ENVS=(DD_TLS_CERT_FILE=$CA "DD_PROXY_HTTPS=http://127.0.0.1:$PROXY_PORT"); case_ proxy_h1_resumed
ENVS=(DD_TLS_CERT_FILE=$CA "DD_PROXY_HTTPS=http://127.0.0.1:$PROXY_PORT"); case_ proxy_h1_full --no-resume
body='{"series":[{"metric":"forkcap.bench","type":3,"points":[{"timestamp":0,"value":1}]}]}'
for i in $(seq 1 $((N / 4))); do
    curl -sS -o /dev/null --noproxy '*' --cacert "$CA" -H 'DD-API-KEY: abcdef0123456789' \
        -H 'Content-Type: application/json' -d "$body" -w '%{time_total}\n' \
        "https://localhost:$HTTPS_PORT/api/v2/series"
done | sort -n | awk '{a[NR]=$1} END {printf "{\"case\":\"curl_cli_process\",\"median_ms\":%.3f,\"count\":%d}\n", a[int(NR/2)+1]*1000, NR}'
jq -c 'select(.event=="init") | {case:"tls_setup", ms:.tls_setup_ms, ca_certs}' "$TMP/direct_h2_resumed.jsonl"
