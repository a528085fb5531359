#!/bin/bash
# A minimal runtime: records its environment (and pid) once, then answers
# every event with {"ok":true}; prints one line per event. SIMTEST_RT_TERM:
# handle (records the SIGTERM's time and exits 0) or ignore.
RT="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
OUT=${SIMTEST_OUT:?}
env | sort > "$OUT/rt.env"
echo $$ > "$OUT/rt.pid"
case "${SIMTEST_RT_TERM:-}" in
    handle) trap 'date +%s%3N > "$OUT/rt.term"; exit 0' TERM ;;
    ignore) trap '' TERM ;;   # its children (curl) inherit the ignored signal
esac
while :; do
    curl -sS --noproxy '*' -D "$OUT/rt.hdr" -o "$OUT/rt.event" "$RT/invocation/next" || exit 1
    rid=$(awk -F': ' 'tolower($1)=="lambda-runtime-aws-request-id"{print $2}' "$OUT/rt.hdr" | tr -d '\r')
    { tr -d '\r' < "$OUT/rt.hdr"; echo "--"; } >> "$OUT/rt.hdrs"
    echo "handling $rid"
    curl -sS --noproxy '*' -o /dev/null -X POST -d '{"ok":true}' "$RT/invocation/$rid/response" || exit 1
done
