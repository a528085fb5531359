#!/bin/bash
# Traces end to end: forkcap under lambda-sim with a scripted tracer as the
# runtime (tests/traces/tracer_runtime.js), shipping over HTTPS to a fake
# intake, once with v0.4 and once with v0.5 payloads. Every trace the tracer
# got a 200 for is at the intake exactly once: its aws.lambda span with the
# invocation's request_id and the tracer's trace id, its child linked to it,
# cold_start true only on the first invocation, _dd.origin and the function
# tags on every span, _dd.tags.function on the root; a truncated payload gets
# 400; /info answers what tracers look for, other paths 404; client stats
# reach /api/v0.2/stats. Hostile payloads (10 MiB + 1, huge declared counts,
# wrong types, bad v0.5 indexes) get 413/400 and never restart the flusher.
# Usage: e2e.sh LAMBDA_SIM FORKCAP FAKE_INTAKE MAKE_CA
set -euo pipefail
SIM=$1 FORKCAP=$2 INTAKE=$3 MAKE_CA=$4
. "$(dirname "$0")/lib.sh"
N=8

# spans_tsv: every span accepted at the intake, one per line:
# traceID spanID parentID name request_id cold_start origin(meta) functionname has_fn_tags chunk_origin lang
spans_tsv() {
    jq -r 'select(.kind == "traces" and .status == 202) | .body.tracerPayloads[] | .languageName as $l
           | .chunks[] | .origin as $o | .spans[]
           | [(.traceID|tostring), (.spanID|tostring), (.parentID|tostring), .name,
              (.meta.request_id // "-"), (.meta.cold_start // "-"), (.meta["_dd.origin"] // "-"),
              (.meta.functionname // "-"), (if .meta["_dd.tags.function"] then "tags" else "-" end), $o, $l]
           | @tsv' "$CAP"
}

run_format() {
    local fmt=$1
    : > "$CAP"
    rm -f "$T/tracer.log" "$T/report.json" "$T/stats.json"
    TRACER_FORMAT=$fmt TRACER_LOG=$T/tracer.log TRACER_BAD=1 TRACER_PROBE=1 TRACER_ABUSE=$2 \
        run_sim "$T" --invokes $N --function-name trace-fn --runtime "exec node $TRACER" ||
        fail "$fmt: lambda-sim exit $?" || return 1
    check_all_invocations "$T" $N || return 1
    local L=$T/tracer.log
    # the probe line, then one line per invocation
    [ "$(jq -s 'map(select(.rid)) | length' "$L")" = $N ] || fail "$fmt: tracer logged $(wc -l < "$L") lines"
    jq -e -s 'map(select(.info))[0] | .info == 200 and .config == 404 and .stats == 200' "$L" >/dev/null ||
        fail "$fmt: probe answers $(jq -c 'select(.info)' "$L")" || return 1
    jq -e -s 'map(select(.info))[0] | .info_body | fromjson | .client_drop_p0s == true
           and (.endpoints | index("/v0.4/traces")) and (.endpoints | index("/v0.6/stats"))' "$L" >/dev/null ||
        fail "$fmt: /info says $(jq -r 'select(.info) | .info_body' "$L")" || return 1
    if [ "$2" = 1 ]; then
        # hostile payloads: refused with the right 4xx, and the flusher never restarted
        jq -e -s 'map(select(.abuse))[0].abuse | .over_10mib == 413 and .huge_array == 400 and .huge_map == 400
                  and .huge_str == 400 and .wrong_type == 400 and .v05_bad_index == 400
                  and .v05_string_table_huge == 413 and .truncated == 400 and .empty == 400
                  and .bad_stats == 400 and .unknown_path == 404 and .get_traces == 404' "$L" >/dev/null ||
            fail "$fmt: hostile payloads answered $(jq -c 'select(.abuse)' "$L")" || return 1
        [ "$(jq '.flusher.restarts' "$T/stats.json")" = 0 ] || fail "$fmt: the flusher restarted" || return 1
        grep -q "trace payload refused" "$T/ext.log" || fail "$fmt: no log line about the refused payloads" || return 1
    fi
    [ "$(jq -s 'map(select(.rid and .status == 200 and (.body | fromjson | .rate_by_service)))
                | length' "$L")" = $N ] || fail "$fmt: not every payload answered 200 with rate_by_service" || return 1
    [ "$(jq -s 'map(select(.rid and .bad_status == 400)) | length' "$L")" = $N ] ||
        fail "$fmt: truncated payloads answered $(jq -s -c 'map(.bad_status) | unique' "$L")" || return 1

    pipe_stop_intake
    spans_tsv > "$T/spans.tsv"
    local first_rid
    first_rid=$(jq -r -s 'map(select(.rid))[0].rid' "$L")
    local rid tid got
    while IFS=$'\t' read -r rid tid; do
        got=$(awk -F'\t' -v r="$rid" '$4 == "aws.lambda" && $5 == r' "$T/spans.tsv")
        [ "$(printf '%s\n' "$got" | grep -c .)" = 1 ] ||
            fail "$fmt: invocation $rid has $(printf '%s\n' "$got" | grep -c .) aws.lambda spans at the intake" || return 1
        [ "$(cut -f1 <<<"$got")" = "$tid" ] || fail "$fmt: $rid trace id $(cut -f1 <<<"$got"), tracer sent $tid" || return 1
        local root_id cold
        root_id=$(cut -f2 <<<"$got")
        cold=$(cut -f6 <<<"$got")
        if [ "$rid" = "$first_rid" ]; then want=true; else want=false; fi
        [ "$cold" = "$want" ] || fail "$fmt: $rid cold_start $cold, want $want" || return 1
        [ "$(cut -f9 <<<"$got")" = tags ] || fail "$fmt: root span without _dd.tags.function" || return 1
        [ "$(awk -F'\t' -v t="$tid" -v p="$root_id" '$1 == t && $3 == p && $4 == "handler.work"' "$T/spans.tsv" | wc -l)" = 1 ] ||
            fail "$fmt: $rid: the child span is not at the intake once under its root" || return 1
    done < <(jq -r 'select(.rid) | [.rid, .trace_id] | @tsv' "$L")
    [ "$(wc -l < "$T/spans.tsv")" = $(( 2 * N )) ] || fail "$fmt: $(wc -l < "$T/spans.tsv") spans at the intake, want $(( 2 * N ))" || return 1
    [ "$(awk -F'\t' '$7 != "lambda" || $8 != "trace-fn" || $10 != "lambda" || $11 != "nodejs"' "$T/spans.tsv" | wc -l)" = 0 ] ||
        fail "$fmt: spans without _dd.origin, functionname, chunk origin or language: $(awk -F'\t' '$7 != "lambda" || $8 != "trace-fn"' "$T/spans.tsv" | head -2)" || return 1
    jq -e -s 'map(select(.kind == "traces" and .status == 202)) | length > 0 and
              all(.headers["content-encoding"] == "zstd" and .headers["content-type"] == "application/x-protobuf"
                  and .headers["x-datadog-reported-languages"] == "nodejs")' "$CAP" >/dev/null ||
        fail "$fmt: trace posts without the agent's headers" || return 1
    # the client stats payload, wrapped as the agent wraps it
    jq -e -s 'map(select(.kind == "stats" and .status == 202)) | length == 1 and
              (.[0].body.ClientComputed == true) and (.[0].body.Stats[0].Stats[0].Stats[0].Hits == 3)' "$CAP" >/dev/null ||
        fail "$fmt: stats at the intake: $(jq -c 'select(.kind == "stats") | {status, body}' "$CAP")" || return 1
    echo "$fmt: $N traces, $(wc -l < "$T/spans.tsv") spans at the intake, each once"
    # a fresh intake for the next run
    pipe_setup
    export DD_APM_DD_URL="https://localhost:$HTTPS_PORT"
}

run_format v04 1
run_format v05 0
echo ok
