#!/bin/bash
# forkcap under lambda-sim subscribes to the Telemetry API once, during
# init, with the documented body (types, destination port); Lambda's
# batches are accepted at the first try (but at SHUTDOWN, see below); the
# records reach the supervisor as data frames. With DD_LOGS_ENABLED=false only "platform" is asked for,
# and fewer frames (no FT_LOGS) reach the supervisor.
set -euo pipefail
SIM=$1 FORKCAP=$2
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
. "$(dirname "$0")/lib.sh"
test_tmpdir
N=6

run_case() { # DIR: one lambda-sim run, checked; prints the spool count
    local d=$1 port
    mkdir -p "$d"
    ext_setup "$d"
    intake_refused
    run_sim "$d" --invokes $N --fn-ms 5 --log-lines 3 --interval-ms 20 ||
        fail "lambda-sim exit $?" || return 1
    # the listener was bound to port 0: the subscription must carry the real port
    port=$(jq -r '.ports.telemetry' "$d/stats.json")
    [ "$port" -gt 0 ] || fail "no telemetry port in the stats file" || return 1
    check_all_invocations "$d" $N || return 1
    local r=$d/report.json
    [ "$(jq '.telemetry | length' "$r")" = 1 ] || fail "subscriptions: $(jq -c .telemetry "$r")" || return 1
    [ "$(jq -r '.telemetry[0].uri' "$r")" = "http://sandbox.localdomain:$port" ] ||
        fail "destination $(jq -r '.telemetry[0].uri' "$r"), listener on $port" || return 1
    [ "$(jq '.telemetry[0].batches' "$r")" -gt 0 ] || fail "no batch delivered" || return 1
    # Lambda's batches land at the first try. The one exception is the batch
    # Lambda sends at SHUTDOWN: the supervisor stops the lifecycle child (and
    # so the listener) as soon as SHUTDOWN arrives, so that batch may fail
    # and be retried while the supervisor finishes its final flush.
    [ "$(jq '.telemetry[0].failed_posts' "$r")" -le 2 ] || fail "failed POSTs: $(jq -c .telemetry "$r")" || return 1
    [ "$(jq '.telemetry[0].batches' "$r")" -ge $N ] || fail "batches: $(jq -c .telemetry "$r")" || return 1
    # the subscribe answer's checkpoint reached the supervisor (it may come
    # after the first /next: the two requests run side by side)
    jq -e '.subscribe_ms > 0' "$d/stats.json" > /dev/null || fail "no subscribe checkpoint" || return 1
    ! grep -q "telemetry subscribe" "$d/ext.log" || fail "subscribe complained: $(grep 'telemetry subscribe' "$d/ext.log")" || return 1
    # every invocation brings at least start, runtimeDone and report (the
    # last report may still be in flight at shutdown)
    local s; s=$(spooled "$d")
    [ "$s" -ge $(( 3 * (N - 1) )) ] || fail "only $s data frames reached the supervisor" || return 1
    echo "$s"
}

on=$(run_case "$T/on")
[ "$(jq -c '.telemetry[0].types | sort' "$T/on/report.json")" = '["extension","function","platform"]' ] ||
    fail "types with logs: $(jq -c '.telemetry[0].types' "$T/on/report.json")"

off=$(DD_LOGS_ENABLED=false run_case "$T/off")
[ "$(jq -c '.telemetry[0].types' "$T/off/report.json")" = '["platform"]' ] ||
    fail "types without logs: $(jq -c '.telemetry[0].types' "$T/off/report.json")"
echo "data frames at the supervisor: logs on $on, logs off $off"
[ "$on" -gt "$off" ] || fail "logs on sent no more frames ($on) than logs off ($off)"
echo "ok"
