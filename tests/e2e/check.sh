#!/bin/bash
# forkcap check against fake-intake (HTTPS, a CA made here, one accepted key)
# and a real tinyproxy. Each verdict: the exit code, exactly one error line
# on stderr naming the cause, the report on stdout, the key never shown.
#   good key      exit 0, validate + one post per endpoint reach the intake
#   through proxy exit 0, the report says "through proxy", tinyproxy saw CONNECTs
#   NO_PROXY      exit 0, "direct: host matched by NO_PROXY", the proxy unused
#   bad key       exit 1, "rejected the API key", HTTP 403
#   proxy down    exit 1, "cannot post to ...", through the proxy
#   bad CA        exit 1, certificate verification named (an unrelated CA)
#   no key        exit 1, the idle reason (what the extension would do)
# Usage: check.sh FORKCAP FAKE_INTAKE MAKE_CA
set -euo pipefail
FORKCAP=$1 INTAKE=$2 MAKE_CA=$3
. "$(dirname "$0")/../lib/common.sh"
test_tmpdir
KEY=0123456789abcdef0123456789abcdef
bash "$MAKE_CA" "$T/pki" >/dev/null
bash "$MAKE_CA" "$T/other" >/dev/null
"$INTAKE" --http-port 0 --https-port 0 --cert "$T/pki/server.pem" --key "$T/pki/server.key" \
    --port-file "$T/ports.json" --capture "$T/cap.jsonl" --api-key "$KEY" --quiet 2>>"$T/intake.log" &
wait_for_file "$T/ports.json" 10 || fail "fake-intake did not start"
P=$(jq -r .https "$T/ports.json")
URL=https://localhost:$P

# run NAME [VAR=value...]: forkcap check in a clean environment; sets RC,
# NAME.out (report) and NAME.err (error lines).
run() {
    local name=$1; shift
    RC=0
    env -i PATH="$PATH" DD_API_KEY=$KEY DD_DD_URL="$URL" DD_LOGS_CONFIG_LOGS_DD_URL="$URL" \
        DD_TLS_CERT_FILE="$T/pki/ca.pem" "$@" \
        "$FORKCAP" check --budget-ms 5000 > "$T/$name.out" 2> "$T/$name.err" || RC=$?
    ! grep -q "$KEY" "$T/$name.out" "$T/$name.err" || fail "$name: the key was printed"
}
verdict() { tail -1 "$T/$1.out"; }
one_error() { # NAME PATTERN: exactly one stderr line, matching PATTERN
    [ "$(wc -l < "$T/$1.err")" = 1 ] || fail "$1: stderr has $(wc -l < "$T/$1.err") lines: $(cat "$T/$1.err")"
    grep -qE "^forkcap check: .*$2" "$T/$1.err" || fail "$1: error line $(cat "$T/$1.err"), want /$2/"
}

# good key
: > "$T/cap.jsonl"
run good DD_ENV=ci
[ "$RC" = 0 ] || fail "good key: exit $RC: $(cat "$T/good.err")"
[ ! -s "$T/good.err" ] || fail "good key: stderr $(cat "$T/good.err")"
[[ "$(verdict good)" == "verdict: OK"* ]] || fail "good key: $(verdict good)"
grep -q "DD_API_KEY  *\*\*\*\*cdef (32 characters)" "$T/good.out" || fail "good key: key not shown masked"
grep -q "system bundle .*certificates" "$T/good.out" && grep -q "DD_TLS_CERT_FILE .*(1 certificates)" "$T/good.out" ||
    fail "good key: CA store not described: $(grep -A3 '^CA store' "$T/good.out")"
tagline=$(grep "^  tags " "$T/good.out" || true)
[[ "$tagline" == *" env:ci,"* || "$tagline" == *",env:ci,"* ]] && [[ "$tagline" == *dd_extension_version:* ]] ||
    fail "good key: the function tag set not shown: $tagline"
for p in /api/v1/validate /api/v2/series /api/v2/logs; do
    [ "$(jq -s --arg p "$p" 'map(select(.path == $p and .status < 300)) | length' "$T/cap.jsonl")" -ge 1 ] ||
        fail "good key: the intake saw no accepted $p"
done

# through a real proxy, then the same proxy bypassed by NO_PROXY
printf 'Listen 127.0.0.1\nTimeout 30\nLogFile "%s"\nLogLevel Connect\nMaxClients 20\nAllow 127.0.0.1\nConnectPort %s\n' \
    "$T/tinyproxy.log" "$P" > "$T/tinyproxy.conf"
tinyproxy_start "$T/tinyproxy.conf" || fail "tinyproxy did not start"
connects() { grep -c 'CONNECT' "$T/tinyproxy.log" 2>/dev/null || true; }
run proxy DD_PROXY_HTTPS="http://user:pw-secret@127.0.0.1:$TINYPROXY_PORT"
[ "$RC" = 0 ] || fail "through the proxy: exit $RC: $(cat "$T/proxy.err")"
grep -q "series .*(through proxy http://\*\*\*@127.0.0.1:$TINYPROXY_PORT)" "$T/proxy.out" ||
    fail "through the proxy: decision not shown: $(grep series "$T/proxy.out")"
! grep -q pw-secret "$T/proxy.out" || fail "proxy credentials printed"
[ "$(connects)" -ge 1 ] || fail "through the proxy: tinyproxy saw no CONNECT"
before=$(connects)
run noproxy DD_PROXY_HTTPS="http://127.0.0.1:$TINYPROXY_PORT" DD_PROXY_NO_PROXY=localhost
[ "$RC" = 0 ] || fail "NO_PROXY: exit $RC: $(cat "$T/noproxy.err")"
grep -q "series .*(direct: host matched by NO_PROXY)" "$T/noproxy.out" || fail "NO_PROXY: decision not shown"
[ "$(connects)" = "$before" ] || fail "NO_PROXY: the proxy was used"

# bad key
run badkey DD_API_KEY=ffffffffffffffffffffffffffffffff
[ "$RC" = 1 ] || fail "bad key: exit $RC"
one_error badkey "rejected the API key \(HTTP 403 from $URL/api/v1/validate\)"
[[ "$(verdict badkey)" == "verdict: FAILED: "* ]] || fail "bad key: $(verdict badkey)"

# proxy down
run proxydown DD_PROXY_HTTPS="http://127.0.0.1:$REFUSED_PORT"
[ "$RC" = 1 ] || fail "proxy down: exit $RC"
one_error proxydown "cannot post to $URL/api/v2/series: .*through the proxy http://127.0.0.1:$REFUSED_PORT$"

# bad CA: the intake's certificate is not signed by the CA given
run badca DD_TLS_CERT_FILE="$T/other/ca.pem"
[ "$RC" = 1 ] || fail "bad CA: exit $RC"
one_error badca "cannot post to $URL/api/v2/series: .*(certificate|SSL)"

# no key: what the extension would do (idle), as the one line
run nokey DD_API_KEY=
[ "$RC" = 1 ] || fail "no key: exit $RC"
one_error nokey "DD_API_KEY is (not set|empty): the extension would run idle"
echo "ok"
