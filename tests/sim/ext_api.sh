#!/bin/bash
# Exercises the Extensions and Telemetry APIs' error answers; writes
# "<label> <HTTP code> <errorType>" lines to $OUT/<name>.checks.
. "$(dirname "$0")/ext_lib.sh"
C="$OUT/$NAME.checks"
TELE="http://$AWS_LAMBDA_RUNTIME_API/2022-07-01/telemetry"
call() {  # call LABEL curl-args...
    local label=$1; shift
    local code
    code=$(curl -sS --noproxy '*' -o "$OUT/$NAME.resp" -w '%{http_code}' "$@")
    echo "$label $code $(jq -r '.errorType? // "-"' "$OUT/$NAME.resp" 2>/dev/null || echo '?')" >> "$C"
}
reg() { call "$1" -X POST -H "Lambda-Extension-Name: ${3:-$NAME}" -d "$2" "$EXT_API/register"; }
call empty_name -X POST -H "Lambda-Extension-Name;" -d '{"events":["INVOKE"]}' "$EXT_API/register"
reg bad_event '{"events":["INVOKE","BOGUS"]}'
reg bad_json 'not json'
reg config_keys '{"events":["INVOKE"],"configurationKeys":["k"]}'
reg wrong_name '{"events":["INVOKE"]}' not-my-file-name
call unknown_id -H "Lambda-Extension-Identifier: 0b1f3c2e-1111-4222-8333-944455556666" "$EXT_API/event/next"
register > "$OUT/$NAME.regcode"   # not in $(...): it sets EXT_ID
echo "register $(cat "$OUT/$NAME.regcode")" >> "$C"
jq -r '"register_body \(.functionName) \(.functionVersion) \(.accountId) \(has("handler"))"' "$OUT/$NAME.register.json" >> "$C"
reg double_register '{"events":["INVOKE","SHUTDOWN"]}'
call missing_id "$EXT_API/event/next"
call invalid_id -H "Lambda-Extension-Identifier: not-a-uuid" "$EXT_API/event/next"
sub() {  # sub LABEL BODY
    call "$1" -X PUT -H "Lambda-Extension-Identifier: $EXT_ID" -H 'Content-Type: application/json' -d "$2" "$TELE"
}
D='"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:9"}'
sub sub_schema '{"schemaVersion":"2019-01-01",'"$D"',"types":["platform"]}'
sub sub_protocol '{"schemaVersion":"2022-12-13","destination":{"protocol":"TCP","URI":"http://sandbox.localdomain:9"},"types":["platform"]}'
sub sub_types '{"schemaVersion":"2022-12-13",'"$D"',"types":["platform","bogus"]}'
sub sub_items '{"schemaVersion":"2022-12-13",'"$D"',"types":["platform"],"buffering":{"maxItems":999}}'
sub sub_bytes '{"schemaVersion":"2022-12-13",'"$D"',"types":["platform"],"buffering":{"maxBytes":1048577}}'
sub sub_timeout '{"schemaVersion":"2022-12-13",'"$D"',"types":["platform"],"buffering":{"timeoutMs":20}}'
sub sub_outside '{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://example.com:9"},"types":["platform"]}'
sub sub_outside_ip '{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://10.0.0.1:9"},"types":["platform"]}'
sub sub_loopback '{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://127.0.0.1:9"},"types":["platform"]}'
sub sub_sandbox '{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://sandbox:9"},"types":["platform"]}'
sub sub_no_id_check_after '{}'
echo "first_next $(next_event) $(jq -r .eventType "$OUT/$NAME.event")" >> "$C"
# after init
reg late_register '{"events":["INVOKE"]}'
sub late_subscribe '{"schemaVersion":"2022-12-13",'"$D"',"types":["platform"]}'
call late_init_error -X POST -H "Lambda-Extension-Identifier: $EXT_ID" -H "Lambda-Extension-Function-Error-Type: Extension.Late" "$EXT_API/init/error"
# a second /next while one is pending (we are idle: --interval-ms keeps it parked)
curl -sS --noproxy '*' -o "$OUT/$NAME.bg" -w '%{http_code}' -H "Lambda-Extension-Identifier: $EXT_ID" \
    "$EXT_API/event/next" > "$OUT/$NAME.bgcode" &
bg=$!
sleep 0.2
call second_next -H "Lambda-Extension-Identifier: $EXT_ID" "$EXT_API/event/next"
wait $bg
echo "parked_next $(cat "$OUT/$NAME.bgcode") $(jq -r .eventType "$OUT/$NAME.bg")" >> "$C"
event_loop
