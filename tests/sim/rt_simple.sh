#!/bin/bash
# A minimal runtime: records its environment (and pid) once, then answers
# every event with {"ok":true}; prints one line per event. SIMTEST_RT_TERM
# set: it takes SIGTERM, records it and exits 0.
RT="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
OUT=${SIMTEST_OUT:?}
env | sort > "$OUT/rt.env"
echo $$ > "$OUT/rt.pid"
if [ -n "${SIMTEST_RT_TERM:-}" ]; then
    trap 'date +%s%3N > "$OUT/rt.term"; exit 0' TERM
fi
while :; do
    curl -sS --noproxy '*' -D "$OUT/rt.hdr" -o "$OUT/rt.event" "$RT/invocation/next" || exit 1
    rid=$(awk -F': ' 'tolower($1)=="lambda-runtime-aws-request-id"{print $2}' "$OUT/rt.hdr" | tr -d '\r')
    { tr -d '\r' < "$OUT/rt.hdr"; echo "--"; } >> "$OUT/rt.hdrs"
    echo "handling $rid"
    curl -sS --noproxy '*' -o /dev/null -X POST -d '{"ok":true}' "$RT/invocation/$rid/response" || exit 1
done
