#!/bin/bash
# Datadog's own Node tracing (dd-trace 5 + datadog-lambda-js 12, from npm)
# through forkcap: a Node handler wrapped by datadog-lambda-js runs under
# lambda-sim (tests/traces/node/ric.js is the runtime loop); every aws.lambda
# span dd-trace produced is at the intake once, with request_id, cold_start
# true only first, its child span linked to it and the Lambda tags; the
# function's log lines carry dd.trace_id values that match those spans.
# Skips (exit 77) when the npm registry cannot be reached.
# Usage: real_tracer.sh LAMBDA_SIM FORKCAP FAKE_INTAKE MAKE_CA NPM_DIR
set -euo pipefail
SIM=$1 FORKCAP=$2 INTAKE=$3 MAKE_CA=$4 NPM_DIR=$5
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
. "$(dirname "$0")/../pipeline/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null && command -v npm >/dev/null ||
    { echo "SKIP: node/npm not installed"; exit 77; }
# installed once per build folder; a failed install leaves nothing behind
if [ ! -d "$NPM_DIR/node_modules/datadog-lambda-js" ] || [ ! -d "$NPM_DIR/node_modules/dd-trace" ]; then
    rm -rf "$NPM_DIR.tmp"
    mkdir -p "$NPM_DIR.tmp"
    if ! timeout 240 npm install --no-audit --no-fund --loglevel=error --prefix "$NPM_DIR.tmp" \
            dd-trace@5 datadog-lambda-js@12 >"$NPM_DIR.tmp.log" 2>&1; then
        echo "SKIP: cannot install dd-trace@5 and datadog-lambda-js@12 from the npm registry:"
        tail -3 "$NPM_DIR.tmp.log"
        rm -rf "$NPM_DIR.tmp"
        exit 77
    fi
    rm -rf "$NPM_DIR"
    mv "$NPM_DIR.tmp" "$NPM_DIR"
fi
echo "dd-trace $(jq -r .version "$NPM_DIR/node_modules/dd-trace/package.json"), datadog-lambda-js $(jq -r .version "$NPM_DIR/node_modules/datadog-lambda-js/package.json")"
test_tmpdir
pipe_setup
export DD_APM_DD_URL="https://localhost:$HTTPS_PORT"
# the agent exporter (dd-trace picks it itself when /opt/extensions/datadog-agent
# exists, which a test does not create); the runtime loop's own Runtime API
# calls are not the function's work, so http is not traced
export DD_TRACE_EXPERIMENTAL_EXPORTER=agent DD_TRACE_HTTP_ENABLED=false DD_SERVICE=node-fn DD_ENV=e2e \
    DD_INSTRUMENTATION_TELEMETRY_ENABLED=false DD_REMOTE_CONFIGURATION_ENABLED=false \
    NODE_PATH=$NPM_DIR/node_modules RIC_TASK_ROOT=$HERE/node HANDLER=handler.handler
N=6
run_sim "$T" --invokes $N --function-name node-fn --runtime "exec node $HERE/node/ric.js" ||
    fail "lambda-sim exit $?"
check_all_invocations "$T" $N
pipe_stop_intake

jq -r 'select(.kind == "traces" and .status == 202) | .body.tracerPayloads[] | .languageName as $l | .chunks[].spans[]
       | [(.traceID|tostring), (.spanID|tostring), (.parentID|tostring), .name, (.meta.request_id // "-"),
          (.meta.cold_start // "-"), (.meta.functionname // "-"), (.meta["_dd.origin"] // "-"), $l] | @tsv' \
    "$CAP" > "$T/spans.tsv"
jq -r 'select(.kind == "logs" and .status == 202) | .body[] | .message | if type == "object" then .message else . end
       | tostring | capture("dd.trace_id=(?<t>[0-9]+) .*handled (?<r>[0-9a-f-]{36})")? | "\(.r)\t\(.t)"' \
    "$CAP" | sort -u > "$T/logs.tsv"
rids=$(jq -r '.invocations[].request_id' "$T/report.json")
first=$(jq -r '.invocations[0].request_id' "$T/report.json")
for rid in $rids; do
    root=$(awk -F'\t' -v r="$rid" '$4 == "aws.lambda" && $5 == r' "$T/spans.tsv")
    [ "$(printf '%s\n' "$root" | grep -c .)" = 1 ] || fail "$rid: $(printf '%s\n' "$root" | grep -c .) aws.lambda spans at the intake"
    IFS=$'\t' read -r tid sid _ _ _ cold fn origin lang <<<"$root"
    want=false; [ "$rid" = "$first" ] && want=true
    [ "$cold" = "$want" ] || fail "$rid: cold_start $cold, want $want"
    [ "$fn" = node-fn ] && [ "$origin" = lambda ] && [ "$lang" = nodejs ] || fail "$rid: tags $fn $origin $lang"
    [ "$(awk -F'\t' -v t="$tid" -v p="$sid" '$1 == t && $3 == p && $4 == "forkcap.test.work"' "$T/spans.tsv" | wc -l)" = 1 ] ||
        fail "$rid: the handler's span is not under aws.lambda"
    [ "$(awk -F'\t' -v r="$rid" '$1 == r { print $2 }' "$T/logs.tsv")" = "$tid" ] ||
        fail "$rid: log line dd.trace_id $(awk -F'\t' -v r="$rid" '$1 == r { print $2 }' "$T/logs.tsv"), span trace $tid"
done
# cold start: dd-trace's load/require spans hang under the first aws.lambda
[ "$(awk -F'\t' '$4 == "aws.lambda.load"' "$T/spans.tsv" | wc -l)" -ge 1 ] || fail "no aws.lambda.load span"
echo "ok: $N invocations, $(wc -l < "$T/spans.tsv") spans, log trace ids match"
