#!/bin/bash
# e2e_tls.sh DRIVER FAKE_INTAKE — the intake client's TLS: the test CA is
# trusted only through DD_TLS_CERT_FILE, DD_SKIP_SSL_VALIDATION skips the
# check (with a warning), HTTP/2 unless DD_HTTP_PROTOCOL=http1, the CA
# bundle is parsed once per process, the key check, no key in any output.
set -euo pipefail
DRIVER=$1 FAKE=$2
here=$(dirname "$0")
. "$here/../lib/common.sh"
. "$here/lib.sh"
transport_tmpdir
ENVS=()
KEY=abcdef0123456789
start_intake "$FAKE"

# 1. the test CA is not in the system bundle: verification fails, not retried
post noca --count 1
[ "$RC" -eq 1 ] || fail "untrusted intake: exit $RC"
r=$(results noca)
[ "$(jq -r .outcome <<<"$r")" = failed ] || fail "untrusted: $r"
[ "$(jq -r .curl <<<"$r")" = 60 ] || fail "untrusted: expected CURLE_PEER_FAILED_VERIFICATION: $r"
[ "$(jq -r .attempts <<<"$r")" = 1 ] || fail "a certificate error was retried: $r"
[ "$(wc -l <"$CAP")" -eq 0 ] || fail "a request reached the intake over an unverified connection"

# 2. DD_TLS_CERT_FILE adds the test CA: HTTP/2 by default, headers as Datadog's
ENVS=(DD_TLS_CERT_FILE=$CA)
post ca --count 2
[ "$RC" -eq 0 ] || { cat "$TMP/ca.err"; fail "with DD_TLS_CERT_FILE: exit $RC"; }
[ "$(results ca | jq -s 'map(select(.outcome=="ok" and .h2 and .tls)) | length')" -eq 2 ] ||
    fail "with DD_TLS_CERT_FILE: $(results ca)"
[ "$(jq -s 'map(select(.alpn=="h2" and .proto=="HTTP/2" and .tls)) | length' "$CAP")" -eq 2 ] ||
    fail "capture does not show HTTP/2 over TLS"
jq -e -s --arg k "$KEY" 'all(.headers["dd-api-key"]==$k and (.headers["user-agent"]|startswith("forkcap/"))
       and .headers["content-encoding"]=="zstd" and .headers["content-type"]=="application/json"
       and .body.series[0].metric=="forkcap.intake_post")' "$CAP" >/dev/null ||
    fail "headers or body not as expected: $(head -c 600 "$CAP")"
grep -q "TLS client ready in" "$TMP/ca.err" || fail "no TLS setup line"

# 3. DD_HTTP_PROTOCOL=http1
: > "$CAP"
ENVS=(DD_TLS_CERT_FILE=$CA DD_HTTP_PROTOCOL=http1)
post h1 --count 1
[ "$RC" -eq 0 ] || fail "http1: exit $RC"
[ "$(results h1 | jq -r .h2)" = false ] || fail "http1: $(results h1)"
[ "$(jq -r .proto "$CAP")" = HTTP/1.1 ] && [ "$(jq -r .alpn "$CAP")" = http/1.1 ] ||
    fail "http1: capture shows $(jq -c '{proto,alpn}' "$CAP")"

# 4. DD_SKIP_SSL_VALIDATION=true: works without the CA, and says so
ENVS=(DD_SKIP_SSL_VALIDATION=true)
post skip --count 1
[ "$RC" -eq 0 ] || fail "skip validation: exit $RC"
grep -q "WARN .*NOT verified" "$TMP/skip.err" || fail "no warning about skipped validation"

# 5. the CA files are read once, at start-up: removing the extra CA file
#    after the init line changes nothing, and libcurl loads no bundle itself
cp "$CA" "$TMP/extra-ca.pem"
ENVS=(DD_TLS_CERT_FILE=$TMP/extra-ca.pem)
( post once --count 4 --gap-ms 300 ) &
drv=$!
n=200
until grep -q '"event":"init"' "$TMP/once.jsonl" 2>/dev/null; do
    n=$((n - 1)); [ $n -gt 0 ] || fail "driver never initialised"; sleep 0.02
done
rm -f "$TMP/extra-ca.pem"
wait $drv || true
[ "$(results once | jq -s 'map(select(.outcome=="ok")) | length')" -eq 4 ] ||
    fail "posts after the CA file was removed failed: $(results once)"
[ "$(summary once | jq -r .curl_store_certs)" = 0 ] || fail "libcurl loaded CA certificates itself"

# 6. key check: valid, then a key the intake rejects -> one clear line, no key
ENVS=(DD_TLS_CERT_FILE=$CA)
post val --kind validate
[ "$(jq -r 'select(.event=="validate") | .valid' "$TMP/val.jsonl")" = 1 ] || fail "validate: $(cat "$TMP/val.jsonl")"
kill "$INTAKE_PID"; wait "$INTAKE_PID" 2>/dev/null || true
start_intake "$FAKE" --api-key someotherkey0000
post inval --kind validate
[ "$(jq -r 'select(.event=="validate") | .valid' "$TMP/inval.jsonl")" = 0 ] || fail "invalid key: $(cat "$TMP/inval.jsonl")"
[ "$(grep -c 'ERROR .*API key was rejected' "$TMP/inval.err")" -eq 1 ] || fail "no single error line: $(cat "$TMP/inval.err")"

# the key never shows in anything the driver printed
! grep -l "$KEY" "$TMP"/*.err >/dev/null || fail "API key printed"
echo "PASS"
