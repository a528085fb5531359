#!/bin/bash
# Issue 10: an intake URL or site that configuration refuses gives one clear
# error line and idle mode (registered, every invocation followed, nothing
# spooled or sent), not a running extension whose flusher refuses to send.
# The three values of the bug report, plus a credential that must not leak.
set -euo pipefail
SIM=$1 FORKCAP=$2
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/e2e_lib.sh"
test_tmpdir

n=0
check_case() {  # VAR VALUE [SECRET]
    local var=$1 value=$2 secret=${3:-} d
    n=$((n + 1)); d=$T/c$n; mkdir -p "$d"
    (
        ext_setup "$d"
        export "$var=$value"
        run_sim "$d" --invokes 3 --fn-ms 5 --interval-ms 2
    ) || fail "$var=$value: the simulator failed"
    check_all_invocations "$d" 3
    [ "$(stat_of "$d" .idle)" = true ] || fail "$var=$value: not idle"
    local lines
    lines=$(grep -c "ERROR | supervisor | idle mode: $var is not a valid\|ERROR | supervisor | idle mode: $var is not a host name" "$d/ext.log" || true)
    [ "$lines" = 1 ] || fail "$var=$value: $lines idle error lines, want 1: $(grep ERROR "$d/ext.log" | head -3)"
    # that line is the only error: the flusher does not refuse it again
    [ "$(grep -c 'ERROR' "$d/ext.log")" = 1 ] || fail "$var=$value: other errors: $(grep ERROR "$d/ext.log")"
    ! grep -q "intake endpoints" "$d/ext.log" || fail "$var=$value: the flusher refused the URL itself"
    if [ -n "$secret" ]; then
        ! grep -q "$secret" "$d/ext.log" || fail "$var: the credential is in the log"
    fi
    echo "$var=$value: $(grep 'idle mode' "$d/ext.log" | sed 's/.*idle mode: //')"
}

check_case DD_SITE "datadoghq.com."
check_case DD_DD_URL "https://api.example.com/x?y=1"
check_case DD_DD_URL "https://-bad.example.com"
check_case DD_LOGS_CONFIG_LOGS_DD_URL "https://user:Pa55w0rdX@logs.example.com"  Pa55w0rdX
echo "ok"
