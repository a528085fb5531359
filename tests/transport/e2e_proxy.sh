#!/bin/bash
# e2e_proxy.sh DRIVER FAKE_INTAKE — the intake client through a real forward
# proxy (tinyproxy): CONNECT tunnel to the HTTPS intake, NO_PROXY bypass,
# no proxy taken from other variables, a dead proxy fails within the
# budget, proxy credentials never printed.
set -euo pipefail
DRIVER=$1 FAKE=$2
here=$(dirname "$0")
. "$here/../lib/common.sh"
. "$here/lib.sh"
transport_tmpdir
command -v tinyproxy >/dev/null || fail "tinyproxy is not installed (deploy/deps.sh)"
start_intake "$FAKE"
SECRET=pr0xyS3cret
start_tinyproxy "$HTTPS_PORT" forkcap "$SECRET"
connects() { grep -c "CONNECT localhost:$HTTPS_PORT" "$PROXY_LOG" || true; }

# 1. DD_PROXY_HTTPS with credentials: through the tunnel, HTTP/1.1, resumed TLS
ENVS=(DD_TLS_CERT_FILE=$CA "DD_PROXY_HTTPS=http://forkcap:$SECRET@127.0.0.1:$PROXY_PORT")
post via --count 3 --gap-ms 20
[ "$RC" -eq 0 ] || { cat "$TMP/via.err"; fail "through the proxy: exit $RC"; }
[ "$(results via | jq -s 'map(select(.outcome=="ok" and .proxy and (.h2|not))) | length')" -eq 3 ] ||
    fail "through the proxy: $(results via)"
[ "$(connects)" -eq 3 ] || fail "tinyproxy saw $(connects) CONNECTs, expected 3"
[ "$(jq -s 'map(select(.path=="/api/v2/series" and .proto=="HTTP/1.1" and .status==202)) | length' "$CAP")" -eq 3 ] ||
    fail "capture does not hold the 3 tunnelled requests"
[ "$(results via | jq -s 'map(select(.tls_resumed)) | length')" -eq 2 ] || fail "no TLS resumption through the proxy"
grep -q "proxy http://\*\*\*@127.0.0.1:$PROXY_PORT" "$TMP/via.err" || fail "proxy not shown (redacted) at start-up"

# 1b. a wrong proxy password: the proxy refuses the tunnel (tinyproxy answers 401), nothing
#     reaches the intake, and neither password is printed
: > "$CAP"
ENVS=(DD_TLS_CERT_FILE=$CA "DD_PROXY_HTTPS=http://forkcap:wr0ngPassw@127.0.0.1:$PROXY_PORT")
post badauth --count 1 --budget-ms 3000
r=$(results badauth)
jq -e '.outcome=="failed" and (.error|test("40[17]"))' <<<"$r" >/dev/null || fail "wrong proxy password: $r"
[ "$(wc -l <"$CAP")" -eq 0 ] || fail "a request went through with a wrong proxy password"
! grep -l "wr0ngPassw" "$TMP"/badauth.* >/dev/null || fail "wrong proxy password printed"

# 2. HTTPS_PROXY with NO_PROXY covering the intake host: direct, HTTP/2
before=$(connects)
ENVS=(DD_TLS_CERT_FILE=$CA "HTTPS_PROXY=http://127.0.0.1:$PROXY_PORT" "NO_PROXY=example.com,localhost")
post bypass --count 2
[ "$RC" -eq 0 ] || fail "NO_PROXY: exit $RC"
[ "$(results bypass | jq -s 'map(select(.outcome=="ok" and (.proxy|not) and .h2)) | length')" -eq 2 ] ||
    fail "NO_PROXY: $(results bypass)"
[ "$(connects)" -eq "$before" ] || fail "NO_PROXY: the proxy was used anyway"

# 3. DD_PROXY_NO_PROXY wins over NO_PROXY (Datadog's order)
ENVS=(DD_TLS_CERT_FILE=$CA "DD_PROXY_HTTPS=http://127.0.0.1:$PROXY_PORT" "DD_PROXY_NO_PROXY=localhost" "NO_PROXY=example.com")
post ddnp --count 1
[ "$(results ddnp | jq -r '.outcome + " " + (.proxy|tostring)')" = "ok false" ] || fail "DD_PROXY_NO_PROXY: $(results ddnp)"
[ "$(connects)" -eq "$before" ] || fail "DD_PROXY_NO_PROXY: the proxy was used anyway"

# 4. other proxy variables are never picked up implicitly
dead=$REFUSED_PORT
ENVS=(DD_TLS_CERT_FILE=$CA "ALL_PROXY=http://127.0.0.1:$dead" "all_proxy=http://127.0.0.1:$dead"
      "HTTP_PROXY=http://127.0.0.1:$dead" "http_proxy=http://127.0.0.1:$dead")
post implicit --count 1
[ "$(results implicit | jq -r '.outcome + " " + (.proxy|tostring)')" = "ok false" ] ||
    fail "a proxy was taken from ALL_PROXY/HTTP_PROXY: $(results implicit)"

# 5. the proxy is down: the post fails within its budget (a deadline, so a
#    generous bound), retried, and the credentials appear nowhere
ENVS=(DD_TLS_CERT_FILE=$CA "DD_PROXY_HTTPS=http://forkcap:$SECRET@127.0.0.1:$dead")
post dead --count 1 --budget-ms 1000
[ "$RC" -eq 1 ] || fail "dead proxy: exit $RC"
r=$(results dead)
jq -e '(.outcome=="failed" or .outcome=="aborted") and .attempts>=2 and .attempts<=3 and .proxy' <<<"$r" >/dev/null ||
    fail "dead proxy: $r"
el=$(summary dead | jq -r '.elapsed_ms|floor')
[ "$el" -lt 3000 ] || fail "dead proxy: took $el ms with a 1000 ms budget"

# 6. through the proxy to an intake that stalls: the budget still ends it
intake_ctl '{"path":"/api/v2/series","delay_ms":10000}'
ENVS=(DD_TLS_CERT_FILE=$CA "DD_PROXY_HTTPS=http://forkcap:$SECRET@127.0.0.1:$PROXY_PORT")
post stall --count 1 --budget-ms 1000
r=$(results stall)
jq -e '.outcome=="aborted" and .proxy' <<<"$r" >/dev/null || fail "stalled intake via proxy: $r"
el=$(summary stall | jq -r '.elapsed_ms|floor')
[ "$el" -lt 3000 ] || fail "stalled intake via proxy: took $el ms with a 1000 ms budget"
intake_ctl '{"clear":true}'

! grep -l "$SECRET" "$TMP"/*.err "$TMP"/*.jsonl >/dev/null || fail "proxy credentials printed"
echo "PASS"
