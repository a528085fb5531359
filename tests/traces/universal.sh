#!/bin/bash
# Universal instrumentation end to end: a scripted tracer (the runtime under
# lambda-sim) calls /lambda/start-invocation, sends a child span under the
# span id forkcap answered, then /lambda/end-invocation (every 3rd with an
# error). forkcap makes exactly one aws.lambda span per invocation with the
# answered ids (an upstream x-datadog-trace-id, in the start headers or in
# the event's headers, is continued, its parent kept),
# request_id, cold_start once, error flag and message, the function tags;
# /lambda/hello and /lambda/flush answer 200, other paths 404.
# Usage: universal.sh LAMBDA_SIM FORKCAP FAKE_INTAKE MAKE_CA
set -euo pipefail
SIM=$1 FORKCAP=$2 INTAKE=$3 MAKE_CA=$4
. "$(dirname "$0")/lib.sh"
N=9
TRACER_UNIVERSAL=1 TRACER_LOG=$T/tracer.log run_sim "$T" --invokes $N --function-name ui-fn \
    --runtime "exec node $TRACER" || fail "lambda-sim exit $?"
check_all_invocations "$T" $N
pipe_stop_intake
L=$T/tracer.log
jq -e -s 'map(select(.hello))[0] | .hello == 200 and .flush == 200 and .not_found == 404' "$L" >/dev/null ||
    fail "hello/flush/404: $(jq -c 'select(.hello)' "$L")"
[ "$(jq -s 'map(select(.rid and .start_status == 200 and .trace_status == 200 and .end_status == 200)) | length' "$L")" = $N ] ||
    fail "not every start/trace/end answered 200: $(jq -c 'select(.rid) | [.start_status, .trace_status, .end_status]' "$L" | sort | uniq -c)"

jq -r 'select(.kind == "traces" and .status == 202) | .body.tracerPayloads[].chunks[].spans[]
       | [(.traceID|tostring), (.spanID|tostring), (.parentID|tostring), .name, (.meta.request_id // "-"),
          (.meta.cold_start // "-"), (.error|tostring), (.meta["error.msg"] // "-"), (.meta.functionname // "-"),
          (.meta["_dd.origin"] // "-")] | @tsv' "$CAP" > "$T/spans.tsv"
first=$(jq -r -s 'map(select(.rid))[0].rid' "$L")
while IFS=$'\t' read -r rid tid sid up failed; do
    root=$(awk -F'\t' -v r="$rid" '$4 == "aws.lambda" && $5 == r' "$T/spans.tsv")
    [ "$(printf '%s\n' "$root" | grep -c .)" = 1 ] || fail "$rid: $(printf '%s\n' "$root" | grep -c .) aws.lambda spans"
    IFS=$'\t' read -r r_tid r_sid r_pid _ _ r_cold r_err r_msg r_fn r_origin <<<"$root"
    [ "$r_tid" = "$tid" ] && [ "$r_sid" = "$sid" ] || fail "$rid: root ids $r_tid/$r_sid, answered $tid/$sid"
    if [ "$up" != null ]; then
        [ "$tid" = "$up" ] || fail "$rid: upstream trace $up not continued (answered $tid)"
        [ "$r_pid" = 777 ] || fail "$rid: upstream parent lost ($r_pid)"
    fi
    if [ "$failed" = true ]; then
        [ "$r_err" = 1 ] && [ "${r_msg#boom }" != "$r_msg" ] || fail "$rid: error $r_err msg $r_msg"
    else
        [ "$r_err" = 0 ] || fail "$rid: error flag on a successful invocation"
    fi
    want=false; [ "$rid" = "$first" ] && want=true
    [ "$r_cold" = "$want" ] || fail "$rid: cold_start $r_cold, want $want"
    [ "$r_fn" = ui-fn ] && [ "$r_origin" = lambda ] || fail "$rid: function tags $r_fn $r_origin"
    [ "$(awk -F'\t' -v t="$tid" -v p="$sid" '$1 == t && $3 == p && $4 == "handler.work"' "$T/spans.tsv" | wc -l)" = 1 ] ||
        fail "$rid: child span not under the aws.lambda span"
done < <(jq -r 'select(.rid) | [.rid, .trace_id, .span_id, (.upstream // "null"), (.failed|tostring)] | @tsv' "$L")
[ "$(awk -F'\t' '$4 == "aws.lambda"' "$T/spans.tsv" | wc -l)" = $N ] || fail "aws.lambda spans != $N"
echo "ok: $N invocations, one aws.lambda span each with the answered ids"
