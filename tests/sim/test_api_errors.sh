#!/bin/bash
# The Extensions and Telemetry APIs answer every misuse with AWS's status
# and errorType; init/error and exit/error are accepted, then the extension
# may make no further call.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
api=$(stage ext_api)
# --no-freeze: the extension makes its checks while the sandbox idles
run_sim --extension "$api" --invokes 2 --interval-ms 600 --no-freeze --account-id 999988887777 --function-name fn-x
want "$SIM_RC" 0 "exit code"
cat > "$T/expected" <<EOT
empty_name 403 Extension.InvalidExtensionName
bad_event 403 Extension.InvalidEventType
bad_json 403 InvalidRequestFormat
config_keys 403 InvalidRequestFormat
wrong_name 403 Extension.InvalidExtensionName
unknown_id 403 Extension.UnknownExtensionIdentifier
register 200
register_body fn-x \$LATEST 999988887777 true
double_register 403 Extension.InvalidExtensionState
missing_id 403 Extension.MissingExtensionIdentifier
invalid_id 403 Extension.InvalidExtensionIdentifier
sub_schema 400 ValidationError
sub_protocol 400 ValidationError
sub_types 400 ValidationError
sub_items 400 ValidationError
sub_bytes 400 ValidationError
sub_timeout 400 ValidationError
sub_outside 400 ValidationError
sub_outside_ip 400 ValidationError
sub_loopback 200 -
sub_sandbox 200 -
sub_no_id_check_after 400 ValidationError
first_next 200 INVOKE
late_register 403 Extension.RegistrationClosed
late_subscribe 403 Telemetry.SubscriptionClosed
late_init_error 403 Extension.InvalidExtensionState
second_next 403 Extension.InvalidExtensionState
parked_next 200 INVOKE
EOT
diff "$T/expected" "$T/ext_api.checks" || fail "API answers differ (expected vs got above)"
want "$(r '.extensions[0].registrations')" 1 "registrations"

# exit/error: 202, then calls fail, then its exit is a crash that fails the invocation
rm -rf "$T/ext" "$T/report.json"
ee=$(stage ext_exiterr); good=$(stage ext_good)
run_sim --extension "$ee" --extension "$good" --invokes 2
want "$SIM_RC" 3 "exit code after exit/error + exit"
want "$(head -4 "$T/ext_exiterr.checks" | tr '\n' ' ')" "exit_error 202 OK next_after 403 Extension.InvalidExtensionState exit_error_again 202 OK init_error_after 403 Extension.InvalidExtensionState " "exit/error then other calls"
want "$(r '.invocations[0].status')" failure "invocation with the failed extension"
want "$(r '.invocations[0].error_type')" Extension.ExitError "reported as Extension.ExitError"
want "$(r '.crashes[0].phase')" invoke "crash phase"

# init/error: 202, init fails with the reported type
rm -rf "$T/ext" "$T/report.json"
ie=$(stage ext_initerr); good=$(stage ext_good)
run_sim --extension "$ie" --extension "$good" --invokes 2
want "$(tr '\n' ' ' < "$T/ext_initerr.checks")" "no_header 403 Extension.MissingHeader init_error 202 OK again 202 OK exit_error 403 Extension.InvalidExtensionState " "init/error answers"
want "$(r '.init_error')" Extension.InitError "init_error"
# it exits 2.5 s later by itself: waited for, not killed at the 2 s deadline
want "$(r '.extensions[0] | "\(.exit_status) \(.killed)"')" "1 false" "the failed extension was waited for"
want "$(r '.invocations | length')" 0 "no invocation after a failed init"
want "$SIM_RC" 3 "exit code after a failed init"
