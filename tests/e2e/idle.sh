#!/bin/bash
# Idle mode: without DD_API_KEY (and with an unreadable DD_TLS_CERT_FILE)
# the extension logs one clear error, still registers, follows every
# invocation, and never crashes.
set -euo pipefail
SIM=$1 FORKCAP=$2
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/e2e_lib.sh"
test_tmpdir
DD_API_KEY="" ext_setup "$T"
unset DD_API_KEY
run_sim "$T" --invokes 10 --fn-ms 5 --interval-ms 2
check_all_invocations "$T" 10
[ "$(stat_of "$T" .idle)" = true ] || fail "not idle"
[ "$(grep -c 'ERROR | supervisor | idle mode: DD_API_KEY is not set' "$T/ext.log")" = 1 ] || fail "no single idle error line"

T2=$T/cert; mkdir -p "$T2"
ext_setup "$T2"
export DD_TLS_CERT_FILE=$T2/missing.pem
run_sim "$T2" --invokes 5 --fn-ms 5 --interval-ms 2
check_all_invocations "$T2" 5
grep -q "idle mode: DD_TLS_CERT_FILE" "$T2/ext.log" || fail "no idle error for the cert file"
echo "ok"
