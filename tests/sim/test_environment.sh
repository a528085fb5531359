#!/bin/bash
# Extensions get Lambda's extension environment: no AWS_EXECUTION_ENV,
# AWS_LAMBDA_LOG_GROUP_NAME, AWS_LAMBDA_LOG_STREAM_NAME, LAMBDA_TASK_ROOT,
# LAMBDA_RUNTIME_DIR, nor any name starting with '_' (bash's own $_ aside; even when the
# simulator itself has them); the runtime gets them, with --runtime-id,
# --handler, --task-root, --runtime-dir; register answers the handler.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
ext=$(stage ext_env)
cp "$DIR/rt_simple.sh" "$T/rt_simple.sh"; chmod +x "$T/rt_simple.sh"
AWS_EXECUTION_ENV=AWS_Lambda_leaked _HANDLER=leaked.h LAMBDA_TASK_ROOT=/leak _X_AMZN_TRACE_ID=leak \
  AWS_LAMBDA_LOG_STREAM_NAME=leak SIM_TEST_CUSTOMER=kept \
  run_sim --extension "$ext" --invokes 2 --runtime "exec $T/rt_simple.sh" --runtime-id python3.12 \
    --handler app.handler --task-root /var/task --runtime-dir /var/lang --function-name fn-env
want "$SIM_RC" 0 "exit code"
E="$T/ext_env.env" R="$T/rt.env"
for v in AWS_EXECUTION_ENV AWS_LAMBDA_LOG_GROUP_NAME AWS_LAMBDA_LOG_STREAM_NAME LAMBDA_TASK_ROOT LAMBDA_RUNTIME_DIR; do
    grep -q "^$v=" "$E" && fail "the extension got $v"
done
want "$(grep -c '^_[^=]' "$E" || true)" 0 "variables starting with _ in the extension's environment"
# what both get
for f in "$E" "$R"; do
    grep -q '^AWS_LAMBDA_RUNTIME_API=127.0.0.1:[0-9]*$' "$f" || fail "$f: AWS_LAMBDA_RUNTIME_API"
    grep -q '^AWS_LAMBDA_FUNCTION_NAME=fn-env$' "$f" || fail "$f: AWS_LAMBDA_FUNCTION_NAME"
    grep -q '^AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128$' "$f" || fail "$f: memory size"
    grep -q '^AWS_LAMBDA_INITIALIZATION_TYPE=on-demand$' "$f" || fail "$f: initialization type"
    grep -q '^AWS_REGION=us-east-1$' "$f" && grep -q '^AWS_DEFAULT_REGION=us-east-1$' "$f" || fail "$f: region"
    grep -q '^TZ=:UTC$' "$f" || fail "$f: TZ"
    grep -q '^SIM_TEST_CUSTOMER=kept$' "$f" || fail "$f: the function's own variables are kept"
done
# the runtime's own
grep -q '^AWS_EXECUTION_ENV=AWS_Lambda_python3.12$' "$R" || fail "runtime AWS_EXECUTION_ENV"
grep -q '^_HANDLER=app.handler$' "$R" || fail "runtime _HANDLER"
grep -q '^LAMBDA_TASK_ROOT=/var/task$' "$R" || fail "runtime LAMBDA_TASK_ROOT"
grep -q '^LAMBDA_RUNTIME_DIR=/var/lang$' "$R" || fail "runtime LAMBDA_RUNTIME_DIR"
grep -q '^AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/fn-env$' "$R" || fail "runtime log group"
grep -Eq '^AWS_LAMBDA_LOG_STREAM_NAME=[0-9]{4}/[0-9]{2}/[0-9]{2}/\[\$LATEST\][0-9a-f]{32}$' "$R" || fail "runtime log stream"
want "$(jq -r .handler "$T/ext_env.register.json")" app.handler "register answer's handler"
want "$(r .runtime_version)" "python:3.12.v13" "runtime version"

# an OS-only runtime has no AWS_EXECUTION_ENV at all
rm -f "$R"
AWS_EXECUTION_ENV=AWS_Lambda_leaked run_sim --extension "$ext" --invokes 1 --runtime "exec $T/rt_simple.sh" \
    --runtime-id provided.al2023
want "$SIM_RC" 0 "exit code (provided.al2023)"
grep -q '^AWS_EXECUTION_ENV=' "$R" && fail "provided.al2023 runtime got AWS_EXECUTION_ENV"
want "$(r .runtime_version)" "provided:al2023.v13" "runtime version (provided.al2023)"
# a bad runtime id is a usage error
rc=0; "$SIM" --runtime-id 'Node 20' --invokes 0 > /dev/null 2>&1 || rc=$?
want "$rc" 2 "bad --runtime-id"
