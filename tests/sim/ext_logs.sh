#!/bin/bash
# Subscribes through the Logs API or the Telemetry API, over HTTP or TCP,
# with a listener of its own (sim_listener); SIMTEST_MODE_<name> is one of
# logs-http, logs-tcp, tele-tcp. Records the subscribe answers, then tries the
# other API (which must be refused).
. "$(dirname "$0")/ext_lib.sh"
register > /dev/null
var="SIMTEST_MODE_${NAME//[^a-zA-Z0-9]/_}"
mode=${!var:?}
rm -f "$OUT/$NAME.lport"
largs=(); [[ $mode == *-tcp ]] && largs=(--tcp)
"$SIMTEST_LISTENER" --port-file "$OUT/$NAME.lport" --out "$OUT/$NAME.tele" "${largs[@]}" &
for i in $(seq 100); do [ -s "$OUT/$NAME.lport" ] && break; sleep 0.02; done
port=$(cat "$OUT/$NAME.lport")
buf='"buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":25}'
case $mode in
    logs-http) path=/2020-08-15/logs other=/2022-07-01/telemetry
        body='{"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:'$port'/logs"},"types":["platform","function","extension"],'$buf'}' ;;
    logs-tcp) path=/2020-08-15/logs other=/2022-07-01/telemetry
        body='{"schemaVersion":"2021-03-18","destination":{"protocol":"TCP","port":'$port'},"types":["platform","function"],'$buf'}' ;;
    tele-tcp) path=/2022-07-01/telemetry other=/2020-08-15/logs
        body='{"schemaVersion":"2022-12-13","destination":{"protocol":"TCP","port":'$port'},"types":["platform","function"],'$buf'}' ;;
esac
sub() {  # sub LABEL PATH BODY
    local code
    code=$(curl -sS --noproxy '*' -o "$OUT/$NAME.subresp" -w '%{http_code}' -X PUT \
        -H "Lambda-Extension-Identifier: $EXT_ID" -H 'Content-Type: application/json' \
        -d "$3" "http://$AWS_LAMBDA_RUNTIME_API$2")
    echo "$1 $code $(jq -r '.errorType? // .' "$OUT/$NAME.subresp")" >> "$OUT/$NAME.checks"
}
sub subscribe "$path" "$body"
sub other_api "$other" "${body/\"schemaVersion\":\"2021-03-18\",/}"
echo "hello from $NAME"
ON_INVOKE="sleep 0.05"
ON_SHUTDOWN="sleep 0.3"
event_loop
