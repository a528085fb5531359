#!/bin/bash
# The Logs API (PUT /2020-08-15/logs), which Lambda still serves: the same
# delivery as the Telemetry API in the 2020-08-15 record shape
# (platform.start, platform.runtimeDone, platform.end, platform.report with
# requestId and metrics only, platform.extension, platform.logsSubscription,
# function, extension; no init records); over HTTP or TCP; and Telemetry API
# over TCP (newline-delimited JSON). One API per extension.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
lh=$(stage ext_logs logs_http); lt=$(stage ext_logs logs_tcp); tt=$(stage ext_logs tele_tcp)
export SIMTEST_MODE_logs_http=logs-http SIMTEST_MODE_logs_tcp=logs-tcp SIMTEST_MODE_tele_tcp=tele-tcp
run_sim --extension "$lh" --extension "$lt" --extension "$tt" --invokes 3 --log-lines 2
want "$SIM_RC" 0 "exit code"
for n in logs_http logs_tcp tele_tcp; do
    want "$(head -1 "$T/$n.checks")" 'subscribe 200 OK' "$n: subscribe"
    want "$(sed -n 2p "$T/$n.checks")" 'other_api 400 ValidationError' "$n: the other API refused"
done
# HTTP: JSON arrays; TCP: one JSON object per line
jq -c '.[]' "$T/logs_http.tele" > "$T/logs_http.items"
for n in logs_tcp tele_tcp; do
    jq -e -c 'select(type=="object" and has("time") and has("type") and has("record"))' "$T/$n.tele" > "$T/$n.items" \
        || fail "$n: not one record per line"
    want "$(wc -l < "$T/$n.items")" "$(wc -l < "$T/$n.tele")" "$n: every line a record"
    want "$(r ".telemetry[] | select(.extension==\"$n\") | .records")" "$(wc -l < "$T/$n.items")" "$n: records counted"
    want "$(r ".telemetry[] | select(.extension==\"$n\") | .uri")" "tcp://sandbox.localdomain:$(cat "$T/$n.lport")" "$n: uri"
done
for n in logs_http logs_tcp; do
    I="$T/$n.items"
    bad=$(jq -r 'select(.type|IN("platform.start","platform.runtimeDone","platform.end","platform.report",
        "platform.extension","platform.logsSubscription","platform.logsDropped","function","extension")|not) | .type' "$I" | sort -u | tr '\n' ' ')
    want "$bad" "" "$n: record types outside the Logs API"
    for i in 0 1 2; do
        rid=$(r ".invocations[$i].request_id")
        want "$(jq -r --arg r "$rid" 'select(.record.requestId? == $r) | .type' "$I" | tr '\n' ' ')" \
            "platform.start platform.runtimeDone platform.end platform.report " "$n: invocation $i"
    done
    jall "$I" platform.report 'keys == ["metrics","requestId"] and .metrics.memorySizeMB == 128' || fail "$n: report shape"
    jall "$I" platform.start 'keys == ["requestId","version"]' || fail "$n: start shape"
    jall "$I" platform.runtimeDone 'keys == ["requestId","status"] and .status=="success"' || fail "$n: runtimeDone shape"
    jany "$I" platform.logsSubscription ".name==\"$n\" and .state==\"Subscribed\"" || fail "$n: logsSubscription"
    jany "$I" platform.extension '.name=="logs_http" and .state=="Ready"' || fail "$n: platform.extension"
    want "$(jq -r 'select(.type=="function")' "$I" | jq -s length)" 6 "$n: function records"
done
jany "$T/logs_http.items" extension '. == "hello from logs_http"' || fail "extension record"
# the Telemetry API over TCP keeps its own shape
I="$T/tele_tcp.items"
jany "$I" platform.initStart '.runtimeVersion|type=="string"' || fail "tele_tcp: initStart"
jany "$I" platform.telemetrySubscription '.name=="tele_tcp"' || fail "tele_tcp: telemetrySubscription"
want "$(jq -r 'select(.type=="platform.logsSubscription")' "$I" | wc -l)" 0 "tele_tcp: no Logs API records"
for i in 0 1 2; do
    rid=$(r ".invocations[$i].request_id")
    want "$(jq -r --arg r "$rid" 'select(.record.requestId? == $r) | .type' "$I" | tr '\n' ' ')" \
        "platform.start platform.runtimeDone platform.report " "tele_tcp: invocation $i"
done
