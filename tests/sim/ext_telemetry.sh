#!/bin/bash
# Subscribes to the Telemetry API with a listener it starts itself (so the
# listener sits in its process group, frozen with it); types and listener
# options come from SIMTEST_TYPES_<name> / SIMTEST_LISTENER_ARGS.
. "$(dirname "$0")/ext_lib.sh"
register > /dev/null
var="SIMTEST_TYPES_${NAME//[^a-zA-Z0-9]/_}"
types=${!var:-'["platform","function","extension"]'}
if [ -n "${SIMTEST_LPORT:-}" ]; then
    port=$SIMTEST_LPORT   # a listener outside the sandbox, started by the test
else
    rm -f "$OUT/$NAME.lport"   # a port file left by an earlier run is stale
    "$SIMTEST_LISTENER" --port-file "$OUT/$NAME.lport" --out "$OUT/$NAME.tele" ${SIMTEST_LISTENER_ARGS:-} &
    for i in $(seq 100); do [ -s "$OUT/$NAME.lport" ] && break; sleep 0.02; done
    port=$(cat "$OUT/$NAME.lport")
fi
buffering=${SIMTEST_BUFFERING:-'{"maxItems":1000,"maxBytes":262144,"timeoutMs":25}'}
body='{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:'$port'/tele"},"types":'$types',"buffering":'"$buffering"'}'
curl -sS --noproxy '*' -o "$OUT/$NAME.subresp" -w '%{http_code}' -X PUT \
    -H "Lambda-Extension-Identifier: $EXT_ID" -H 'Content-Type: application/json' \
    -d "$body" "http://$AWS_LAMBDA_RUNTIME_API/2022-07-01/telemetry" > "$OUT/$NAME.subcode"
echo "hello from $NAME"
ON_INVOKE="sleep 0.05"
ON_SHUTDOWN="sleep 0.3"   # like a real extension's final flush: telemetry still arrives
event_loop
