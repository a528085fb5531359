#!/bin/bash
# An external runtime speaking the Runtime API with curl: checks the
# response rules (wrong id, twice, over and at the size limit, /next without
# a result) over five events; prints one log line per event.
RT="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
OUT=${SIMTEST_OUT:?}
C="$OUT/runtime.checks"
post() {  # post LABEL PATH curl-args...
    local label=$1 path=$2; shift 2
    echo "$label $(curl -sS --noproxy '*' -o "$OUT/rt.resp" -w '%{http_code}' -X POST "$@" "$RT/$path") $(jq -r '.errorType // .status' "$OUT/rt.resp" 2>/dev/null)" >> "$C"
}
if [ -n "${SIMTEST_RT_INIT_ERROR:-}" ]; then
    trap '' TERM   # record the answer even though the sandbox goes down right away
    post init_error init/error -H "Lambda-Runtime-Function-Error-Type: Runtime.TestInit" -d '{}'
    sleep 1000
fi
n=0
while :; do
    curl -sS --noproxy '*' -D "$OUT/rt.hdr" -o "$OUT/rt.event" "$RT/invocation/next" || exit 1
    h() { awk -F': ' -v k="$1" 'tolower($1)==tolower(k){print $2}' "$OUT/rt.hdr" | tr -d '\r'; }
    rid=$(h Lambda-Runtime-Aws-Request-Id)
    echo "$rid $(h Lambda-Runtime-Deadline-Ms) $(h Lambda-Runtime-Invoked-Function-Arn) $(h Lambda-Runtime-Trace-Id)" >> "$OUT/runtime.headers"
    echo "handling $rid"
    n=$((n+1))
    if [ -n "${SIMTEST_RT_LATE_INIT_ERROR:-}" ]; then
        post late_init_error init/error -H "Lambda-Runtime-Function-Error-Type: Runtime.Late" -d '{}'
        curl -sS --noproxy '*' -o /dev/null -X POST -d '{}' "$RT/invocation/$rid/response"
        continue
    fi
    if [ $n = 1 ]; then
        post wrong_id invocation/00000000-0000-4000-8000-000000000000/response -d '{}'
        post response "invocation/$rid/response" -d '{"statusCode":200}'
        post twice "invocation/$rid/response" -d '{"statusCode":200}'
    elif [ $n = 2 ]; then
        post error "invocation/$rid/error" -H "Lambda-Runtime-Function-Error-Type: Function.TestError" \
            -d '{"errorMessage":"no","errorType":"Function.TestError","stackTrace":[]}'
    elif [ $n = 3 ]; then
        # 6 MiB + 101 bytes: one byte over Lambda's limit
        head -c 6291557 /dev/zero | tr '\0' a > "$OUT/big"
        post too_large "invocation/$rid/response" --data-binary @"$OUT/big"
        post after_too_large "invocation/$rid/response" -d '{"statusCode":200}'
    elif [ $n = 4 ]; then
        # /next without a result: the same invocation again
        curl -sS --noproxy '*' -D "$OUT/rt.hdr2" -o /dev/null "$RT/invocation/next" || exit 1
        again=$(awk -F': ' 'tolower($1)=="lambda-runtime-aws-request-id"{print $2}' "$OUT/rt.hdr2" | tr -d '\r')
        echo "renext $([ "$again" = "$rid" ] && echo same || echo "other:$again")" >> "$C"
        post response "invocation/$rid/response" -d '{"statusCode":200}'
    else
        head -c 6291556 /dev/zero | tr '\0' a > "$OUT/big"   # exactly at the limit: accepted
        post at_limit "invocation/$rid/response" --data-binary @"$OUT/big"
    fi
done
