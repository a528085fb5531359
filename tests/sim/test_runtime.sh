#!/bin/bash
# --runtime: an external runtime gets events over the Runtime API with the
# documented headers; /response answers 202, 400 InvalidRequestID for a
# wrong id, 403 InvalidStateTransition for a second result; over 6 MiB + 100
# bytes 413 and the invocation is an error (Function.ResponseSizeTooLarge);
# /next without a result gives the same invocation again (as the emulator);
# /error makes the invocation "error"; its output lines become function
# records; /init/error fails init, and after init is 403.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
good=$(stage ext_good)
run_sim --extension "$good" --runtime "exec bash $DIR/runtime.sh" --invokes 5 --function-name rt-fn --region eu-west-1
want "$SIM_RC" 0 "exit code"
cat > "$T/expected" <<EOT
wrong_id 400 InvalidRequestID
response 202 OK
twice 403 InvalidStateTransition
error 202 OK
too_large 413 RequestEntityTooLarge
after_too_large 403 InvalidStateTransition
renext same
response 202 OK
at_limit 202 OK
EOT
diff "$T/expected" "$T/runtime.checks" || fail "Runtime API answers"
want "$(r '[.invocations[].status] | join(",")')" "success,error,error,success,success" "statuses"
want "$(r '.invocations[1].error_type')" Function.TestError "error type"
want "$(r '.invocations[2].error_type')" Function.ResponseSizeTooLarge "error type over the size limit"
want "$(r '.invocations[0].error_type')" null "error type of a success"
want "$(awk '{print $1}' "$T/runtime.headers" | tr '\n' ' ')" "$(r '[.invocations[].request_id] | join(" ")') " "request ids"
want "$(jq -r 'select(.eventType=="INVOKE").requestId' "$T/ext_good.events" | tr '\n' ' ')" "$(r '[.invocations[].request_id] | join(" ")') " "extension saw the same ids"
while read -r rid dl arn trace; do
    [[ "$dl" =~ ^[0-9]{13}$ ]] || fail "deadline header '$dl'"
    want "$arn" "arn:aws:lambda:eu-west-1:123456789012:function:rt-fn" "function ARN header"
    [[ "$trace" == Root=1-* ]] || fail "trace header '$trace'"
done < "$T/runtime.headers"
want "$(r '.function_log_lines')" 5 "function_log_lines from the runtime's output"
awk -v x="$(r '.invocations[0].runtime_ms')" 'BEGIN{exit !(x > 0)}' || fail "runtime_ms"

rm -f "$T/report.json" "$T/runtime.checks"
SIMTEST_RT_INIT_ERROR=1 run_sim --extension "$good" --runtime "exec bash $DIR/runtime.sh" --invokes 2
want "$(cat "$T/runtime.checks")" "init_error 202 OK" "init/error answer"
want "$(r '.init_error')" Runtime.TestInit "init_error"
want "$(r '.invocations | length')" 0 "invocations after a failed init"
# init/error once init is over
rm -f "$T/report.json" "$T/runtime.checks"
SIMTEST_RT_LATE_INIT_ERROR=1 run_sim --extension "$good" --runtime "exec bash $DIR/runtime.sh" --invokes 1
want "$(cat "$T/runtime.checks")" "late_init_error 403 InvalidStateTransition" "init/error after init"
