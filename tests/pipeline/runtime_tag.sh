#!/bin/bash
# Issue 13: the runtime tag on Lambda's terms. Lambda gives extensions no
# AWS_EXECUTION_ENV (lambda-sim now withholds it too); forkcap must still
# tag the function's runtime. Each case runs lambda-sim and forkcap in a
# PID namespace of their own with a fresh /proc, as a Lambda sandbox is, so
# forkcap's /proc scan sees the sandbox's processes only; metrics and logs
# at the fake intake must carry runtime:<id>.
# The function is tests/pipeline/statsd_runtime.js, a real runtime process
# (a sandbox always has one; the simulator's built-in function has none).
# Usage: runtime_tag.sh LAMBDA_SIM FORKCAP FAKE_INTAKE MAKE_CA
set -euo pipefail
SIM=$1 FORKCAP=$2 INTAKE=$3 MAKE_CA=$4
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
. "$(dirname "$0")/lib.sh"
command -v node >/dev/null || fail "node is not installed"
RUNTIME_JS=$(cd "$(dirname "$0")" && pwd)/statsd_runtime.js
test_tmpdir
unshare -Urpf --mount-proc true 2>/dev/null || { echo "SKIP: no user and PID namespaces here"; exit 77; }
N=3

one_case() {  # RUNTIME_ID
    local id=$1 d
    d=$T/$id; mkdir -p "$d"
    T=$d pipe_setup
    # a provided.* runtime has no AWS_EXECUTION_ENV anywhere: os-release is
    # what answers there, as on Amazon Linux 2023
    printf 'NAME="Amazon Linux"\nPRETTY_NAME="Amazon Linux 2023.6.20241010"\n' > "$d/os-release"
    export FORKCAP_TEST_OS_RELEASE=$d/os-release
    unset FORKCAP_TEST_PROC_ROOT
    unshare -Urpf --kill-child --mount-proc "$SIM" --port 0 --port-file "$d/sim.port" \
        --extension "$d/extensions/forkcap" --report "$d/report.json" --ext-log "$d/ext.log" --quiet \
        --invokes $N --interval-ms 5 --timeout-ms 3000 --runtime-id "$id" \
        --runtime "exec node '$RUNTIME_JS'" || true
    pipe_stop_intake
    check_all_invocations "$d" $N
    CAP=$d/capture.jsonl
    local want="runtime:$id" got
    got=$(jq -r 'select(.kind == "series" and .status == 202) | .body.series[]?
                 | select(.metric == "shop.orders") | .tags[] | select(startswith("runtime:"))' "$CAP" | sort -u)
    [ "$got" = "$want" ] || fail "$id: custom metrics carry '${got:-no runtime tag}', want $want"
    got=$(jq -r 'select(.kind == "sketches" and .status == 202) | .body.sketches[]?
                 | select(.metric == "aws.lambda.enhanced.invocations") | .tags[] | select(startswith("runtime:"))' "$CAP" | sort -u)
    [ "$got" = "$want" ] || fail "$id: enhanced metrics carry '${got:-no runtime tag}', want $want"
    got=$(jq -r 'select(.kind == "logs" and .status == 202) | .body[]? | .ddtags
                 | split(",")[] | select(startswith("runtime:"))' "$CAP" | sort -u)
    [ "$got" = "$want" ] || fail "$id: logs carry '${got:-no runtime tag}', want $want"
    echo "$id: metrics, enhanced metrics and logs carry $want"
}

one_case nodejs20.x
one_case python3.12
one_case provided.al2023
echo "ok"
