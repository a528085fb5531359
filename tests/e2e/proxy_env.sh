#!/bin/bash
# The Runtime API is local plain HTTP: proxy variables pointing at a dead
# port must not affect registration or /next.
set -euo pipefail
SIM=$1 FORKCAP=$2
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/e2e_lib.sh"
test_tmpdir
ext_setup "$T"
dead=$REFUSED_PORT
export HTTP_PROXY="http://127.0.0.1:$dead" http_proxy="http://127.0.0.1:$dead"
export ALL_PROXY="http://127.0.0.1:$dead" all_proxy="http://127.0.0.1:$dead"
run_sim "$T" --invokes 10 --fn-ms 5 --interval-ms 2
check_all_invocations "$T" 10
[ "$(jq '.extensions[0].registrations' "$T/report.json")" = 1 ] || fail "not registered once"
echo "ok"
