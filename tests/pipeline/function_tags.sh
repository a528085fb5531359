#!/bin/bash
# Issue 13, drop-in parity: a Node.js function sending its custom metrics
# through the hot-shots client (from npm) and its invocation count the way
# datadog-lambda-js does (tests/pipeline/statsd_runtime.js) under lambda-sim,
# forkcap shipping to a fake intake. For a versioned function and for $LATEST:
#  - every custom series and sketch carries the whole function tag set, and
#    the tags hot-shots adds on its own next to it, a shared key keeping
#    both values (Datadog's extension appends; nothing is overridden),
#  - every function log carries the same set in ddtags, value for value,
#  - the library's aws.lambda.enhanced.invocations copies are dropped, so the
#    intake sees exactly one invocation per invocation.
# Skips (exit 77) when hot-shots cannot be installed from the npm registry.
# Usage: function_tags.sh LAMBDA_SIM FORKCAP FAKE_INTAKE MAKE_CA NPM_DIR
set -euo pipefail
SIM=$1 FORKCAP=$2 INTAKE=$3 MAKE_CA=$4 NPM_DIR=$5
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
. "$(dirname "$0")/lib.sh"
command -v node >/dev/null && command -v npm >/dev/null ||
    { echo "SKIP: node/npm not installed"; exit 77; }
# installed once per build folder; a failed install leaves nothing behind
if [ ! -f "$NPM_DIR/node_modules/hot-shots/package.json" ]; then
    rm -rf "$NPM_DIR.tmp"
    mkdir -p "$NPM_DIR.tmp"
    if ! timeout 240 npm install --no-audit --no-fund --loglevel=error --prefix "$NPM_DIR.tmp" \
            hot-shots@17 >"$NPM_DIR.tmp.log" 2>&1; then
        echo "SKIP: cannot install hot-shots@17 from the npm registry:"
        tail -3 "$NPM_DIR.tmp.log"
        rm -rf "$NPM_DIR.tmp"
        exit 77
    fi
    rm -rf "$NPM_DIR"
    mv "$NPM_DIR.tmp" "$NPM_DIR"
fi
echo "hot-shots $(jq -r .version "$NPM_DIR/node_modules/hot-shots/package.json")"
export NODE_PATH=$NPM_DIR/node_modules STATSD_CLIENT=hot-shots
RUNTIME_JS=$(cd "$(dirname "$0")" && pwd)/statsd_runtime.js
test_tmpdir
N=6
case $(uname -m) in aarch64|arm64) ARCH=arm64 ;; *) ARCH=x86_64 ;; esac

one_run() {  # VERSION
    local version=$1 d
    d=$T/run-${version//\$/}; mkdir -p "$d"
    T=$d pipe_setup
    # a Node.js 20 function: the simulator gives AWS_EXECUTION_ENV to the
    # runtime only and nodejs:20.v13 in initStart. Runtime detection looks
    # at a fake /proc holding what the runtime process's environ holds (no
    # other process on this machine can then change the answer) and at an
    # os-release that would say provided.al2, which must not win
    mkdir -p "$d/proc/4242"
    printf 'PATH=/bin\0AWS_EXECUTION_ENV=AWS_Lambda_nodejs20.x\0' > "$d/proc/4242/environ"
    printf 'PRETTY_NAME="Amazon Linux 2"\n' > "$d/os-release"
    export FORKCAP_TEST_PROC_ROOT=$d/proc FORKCAP_TEST_OS_RELEASE=$d/os-release
    export DD_SERVICE=Pipe-Svc DD_VERSION=3.1 DD_TAGS="team:pipe Owner:ops,env:tagged"
    export HOTSHOTS_TAGS_FILE=$d/hotshots-tags.txt
    run_sim "$d" --invokes $N --interval-ms 5 --timeout-ms 3000 --function-name Hot-Fn \
        --function-version "$version" --memory-mb 256 --runtime-id nodejs20.x --runtime "exec node '$RUNTIME_JS'" || true
    pipe_stop_intake
    check_all_invocations "$d" $N
    CAP=$d/capture.jsonl

    # the expected set, sorted
    local want=$d/want.txt
    {
        echo "account_id:123456789012"; echo "architecture:$ARCH"; echo "aws_account:123456789012"
        echo "dd_extension_version:forkcap"; echo "env:tagged"
        [ "$version" = '$LATEST' ] || echo "executedversion:$version"
        echo "function_arn:arn:aws:lambda:us-east-1:123456789012:function:hot-fn"
        echo "functionname:Hot-Fn"; echo "init_type:on-demand"; echo "memorysize:256"
        echo "owner:ops"; echo "region:us-east-1"
        if [ "$version" = '$LATEST' ]; then echo "resource:Hot-Fn"; else echo "resource:Hot-Fn:$version"; fi
        echo "runtime:nodejs20.x"; echo "service:pipe-svc"; echo "team:pipe"; echo "version:3.1"
    } | sort > "$want"

    # every custom metric (series and sketches) carries the set; its own
    # tags (own:*, kind:*) and those hot-shots adds by default from the
    # environment come on top. hot-shots keeps DD_SERVICE's case and lets
    # DD_ENV win over DD_TAGS' env where forkcap lets DD_TAGS win, so keys
    # are shared with the set (service:Pipe-Svc next to service:pipe-svc,
    # env:e2e next to env:tagged): as in Datadog's extension, the metric's
    # tags are appended to the set, both values stay and neither overrides;
    # a tag the two hold exactly (version:3.1) is sent once.
    [ -f "$HOTSHOTS_TAGS_FILE" ] || fail "$version: the runtime did not report hot-shots' global tags"
    grep -qx 'service:Pipe-Svc' "$HOTSHOTS_TAGS_FILE" && grep -qx 'env:e2e' "$HOTSHOTS_TAGS_FILE" &&
        grep -qx 'version:3.1' "$HOTSHOTS_TAGS_FILE" ||
        fail "$version: hot-shots no longer adds DD_SERVICE, DD_ENV and DD_VERSION: no key is shared ($(paste -sd, "$HOTSHOTS_TAGS_FILE"))"
    sort -u "$HOTSHOTS_TAGS_FILE" | comm -23 - "$want" > "$d/client-only.txt"
    sort -u "$want" "$HOTSHOTS_TAGS_FILE" > "$d/want-custom.txt"
    local metrics=0 m
    for m in shop.orders shop.queue shop.latency shop.basket; do
        local kind=series; case $m in shop.latency|shop.basket) kind=sketches ;; esac
        jq -c --arg m $m --arg k $kind 'select(.kind == $k and .status == 202) | .body[$k][]?
               | select(.metric == $m) | .tags' "$CAP" > "$d/$m.tags"
        [ -s "$d/$m.tags" ] || fail "$version: no $m at the intake"
        while read -r tags; do
            # not sort -u: a tag sent twice is a difference
            jq -r '.[] | select(startswith("own:") or startswith("kind:") | not)' <<<"$tags" | sort > "$d/got.txt"
            diff -u "$d/want-custom.txt" "$d/got.txt" >&2 || fail "$version: $m carries another tag set"
            metrics=$((metrics + 1))
        done < "$d/$m.tags"
    done
    # and so does any other custom metric (hot-shots' own client telemetry,
    # datadog.dogstatsd.client.*, when it sends it)
    local other=0
    jq -c 'select((.kind == "series" or .kind == "sketches") and .status == 202) | .body[.kind][]?
           | select((.metric | startswith("aws.lambda.enhanced.") or startswith("shop.")) | not) | .tags' \
        "$CAP" > "$d/other.tags"
    while read -r tags; do
        jq -r '.[]' <<<"$tags" | sort > "$d/got.txt"
        [ -z "$(comm -23 "$want" "$d/got.txt")" ] || fail "$version: a custom metric lacks $(comm -23 "$want" "$d/got.txt" | head -3)"
        other=$((other + 1))
    done < "$d/other.tags"
    [ "$(series_sum shop.orders)" = $N ] || fail "$version: shop.orders $(series_sum shop.orders), want $N"
    [ "$(sketch_stat shop.latency cnt)" = $N ] || fail "$version: shop.latency $(sketch_stat shop.latency cnt) values, want $N"
    [ "$(sketch_stat shop.basket cnt)" = $N ] || fail "$version: shop.basket $(sketch_stat shop.basket cnt) values, want $N"

    # every function log carries the same set, value for value
    jq -r 'select(.kind == "logs" and .status == 202) | .body[]?
           | select((.message.message | tostring) | test("handled event")) | .ddtags' "$CAP" > "$d/ddtags.txt"
    [ "$(wc -l < "$d/ddtags.txt")" = $N ] || fail "$version: $(wc -l < "$d/ddtags.txt") function logs, want $N"
    while read -r tags; do
        tr ',' '\n' <<<"$tags" | sort > "$d/got.txt"
        diff -u "$want" "$d/got.txt" >&2 || fail "$version: a log's ddtags differ from the metrics' tags"
    done < "$d/ddtags.txt"

    # one invocation per invocation: the library's copies were dropped
    [ "$(sketch_stat aws.lambda.enhanced.invocations cnt)" = $N ] ||
        fail "$version: aws.lambda.enhanced.invocations $(sketch_stat aws.lambda.enhanced.invocations cnt), want $N"
    # enhanced metrics keep their own tags (cold_start, ...) on top of the
    # set, and never a second value for a key of the set
    local bad
    bad=$(jq -r 'select(.kind == "sketches" and .status == 202) | .body.sketches[]?
                 | select(.metric | startswith("aws.lambda.enhanced.")) | .tags
                 | map(split(":")[0]) | group_by(.) | map(select(length > 1) | .[0]) | .[]' "$CAP" | sort -u)
    [ -z "$bad" ] || fail "$version: enhanced metrics with two values for: $bad"
    jq -c 'select(.kind == "sketches" and .status == 202) | .body.sketches[]?
           | select(.metric == "aws.lambda.enhanced.invocations") | .tags' "$CAP" > "$d/enh.tags"
    [ -s "$d/enh.tags" ] || fail "$version: no enhanced invocations"
    while read -r tags; do
        jq -r '.[]' <<<"$tags" | sort > "$d/got.txt"
        [ -z "$(comm -23 "$want" "$d/got.txt")" ] || fail "$version: enhanced invocations lack $(comm -23 "$want" "$d/got.txt" | head -3)"
    done < "$d/enh.tags"
    local dropped
    dropped=$(grep -o '([0-9]* enhanced-metric copies dropped)' "$d/ext.log" | tr -dc '0-9\n' | awk '{ s += $1 } END { print s + 0 }')
    [ "$dropped" = $N ] || fail "$version: the flusher summary counts $dropped dropped copies, want $N"
    echo "$version: $metrics custom metric contexts (and $other of hot-shots' own) and $N logs carry the same $(wc -l < "$want") tags; $N invocations, $dropped library copies dropped"
    echo "$version: hot-shots added on its own: $(paste -sd' ' "$d/client-only.txt")"
}

one_run 7
one_run '$LATEST'
echo "ok"
