#!/bin/bash
# A lifecycle child that sends a malformed frame (test-hooks build: a frame
# declaring a 2-billion-entry map in 10 bytes, after its 3rd INVOKE) is
# logged, dropped and restarted; the supervisor survives and every
# invocation completes.
set -euo pipefail
SIM=$1 FORKCAP=$2
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
test_tmpdir
ext_setup "$T"
export FORKCAP_TEST_GARBAGE_AT_INVOKE=3
run_sim "$T" --invokes 20 --fn-ms 5 --interval-ms 10
check_all_invocations "$T" 20
errs=$(stat_of "$T" .lifecycle.protocol_errors)
echo "protocol errors seen: $errs, lifecycle restarts: $(stat_of "$T" .lifecycle.restarts)"
[ "$errs" -ge 3 ] || fail "expected a protocol error every 3 invocations, saw $errs"
grep -q "ERROR | supervisor | protocol error from lifecycle" "$T/ext.log" || fail "protocol error not logged"
[ "$(stat_of "$T" .phase)" = exit ] || fail "supervisor did not shut down in order"
echo "ok"
