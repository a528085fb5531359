#!/bin/bash
# A flusher that never answers the final FT_FLUSH (test-hooks build) must
# not keep the supervisor past Lambda's SHUTDOWN deadline: it stops the
# children and exits 0 on its own, before the platform's SIGKILL.
set -euo pipefail
SIM=$1 FORKCAP=$2
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
test_tmpdir
ext_setup "$T"
export FORKCAP_TEST_FLUSHER_IGNORE_FLUSH=1
run_sim "$T" --invokes 3 --fn-ms 5
check_all_invocations "$T" 3
R=$T/report.json
echo "shutdown took $(jq .shutdown_ms "$R") ms (Lambda allows 2000)"
grep -q "final flush not done in time" "$T/ext.log" || fail "the final flush did not time out"
[ "$(jq '.extensions[0].killed' "$R")" = false ] || fail "the platform had to SIGKILL the extension"
[ "$(jq '.extensions[0].exit_status' "$R")" = 0 ] || fail "exit status $(jq '.extensions[0].exit_status' "$R")"
awk -v s="$(jq .shutdown_ms "$R")" 'BEGIN { exit !(s < 2000) }' || fail "exited after the deadline"
echo "ok"
