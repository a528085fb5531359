#!/bin/bash
# forkcap by hand: --version and --help exit 0 with their output (every
# variable forkcap reads is in --help), an unknown argument exits 2 with the
# usage on stderr. Under lambda-sim, set DD_* variables forkcap does not
# honour are named in one start-up line (values never shown); variables of
# Datadog's in-function libraries and honoured ones are not; a clean
# environment gets no such line.
set -euo pipefail
SIM=$1 FORKCAP=$2
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/e2e_lib.sh"
test_tmpdir
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

rc=0; out=$(env -i "$FORKCAP" --version 2>&1) || rc=$?
[ "$rc" = 0 ] || fail "--version exit $rc"
[[ "$out" =~ ^forkcap\ [0-9]+\.[0-9]+\.[0-9]+\ \(.+\)$ ]] || fail "--version printed: $out"

rc=0; env -i "$FORKCAP" --help > "$T/help" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "--help exit $rc"
grep -q '^usage: forkcap' "$T/help" || fail "--help without usage"
grep -q -- '--version' "$T/help" && grep -q -- '^  check ' "$T/help" || fail "--help misses an option"
# every variable any module reads is listed, on a line of its own
names=$(grep -rhoE '"(DD|FORKCAP)_[A-Z0-9_]+"' "$ROOT"/common/config.c "$ROOT"/flusher/*.c \
        "$ROOT"/lifecycle/*.c "$ROOT"/supervisor/*.c | tr -d '"' | sort -u | grep -v '^FORKCAP_TEST_')
[ -n "$names" ] || fail "no variable names found in the sources"
for n in $names; do
    grep -qE "^  $n +[^ ]" "$T/help" || fail "--help does not list $n"
done

rc=0; env -i "$FORKCAP" --bogus > "$T/out" 2> "$T/err" || rc=$?
[ "$rc" = 2 ] || fail "unknown argument: exit $rc, want 2"
grep -q "unknown argument '--bogus'" "$T/err" && grep -q '^usage: forkcap' "$T/err" ||
    fail "unknown argument: stderr $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "unknown argument wrote to stdout"
rc=0; env -i "$FORKCAP" check --nope > /dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "check with an unknown option: exit $rc, want 2"

# the start-up line under lambda-sim
ext_setup "$T/a"
DD_FOO_UNKNOWN=secret-value-1 DD_TRACE_ENABLED=true DD_LAMBDA_HANDLER=index.handler DD_ENV=prod \
    run_sim "$T/a" --invokes 2 --fn-ms 5
check_all_invocations "$T/a" 2
line=$(grep 'not honoured' "$T/a/ext.log" || true)
[ "$(grep -c 'not honoured' "$T/a/ext.log" || true)" = 1 ] || fail "want one not-honoured line: $line"
[[ "$line" == *"WARN | supervisor | "* ]] || fail "not a supervisor warning: $line"
[[ "$line" == *DD_FOO_UNKNOWN* && "$line" == *DD_TRACE_ENABLED* ]] || fail "names missing: $line"
[[ "$line" != *DD_LAMBDA_HANDLER* && "$line" != *DD_ENV* && "$line" != *DD_API_KEY* ]] ||
    fail "a library or honoured variable listed: $line"
[[ "$line" != *secret-value-1* ]] || fail "a value was printed: $line"

ext_setup "$T/b"
run_sim "$T/b" --invokes 2 --fn-ms 5
check_all_invocations "$T/b" 2
! grep -q 'not honoured' "$T/b/ext.log" || fail "a clean environment got: $(grep 'not honoured' "$T/b/ext.log")"
echo "ok"
