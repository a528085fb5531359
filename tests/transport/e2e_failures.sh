#!/bin/bash
# e2e_failures.sh DRIVER FAKE_INTAKE — intake failure classes: a stall past
# DD_FLUSH_TIMEOUT (bounded attempts and time), 5xx retried up to 3 attempts
# then kept for the next flush, 400 not retried, a reset retried, 403 on
# logs reported as "forbidden" (stop), a full retry buffer dropping the oldest.
set -euo pipefail
DRIVER=$1 FAKE=$2
here=$(dirname "$0")
. "$here/../lib/common.sh"
. "$here/lib.sh"
transport_tmpdir
start_intake "$FAKE"
S=/api/v2/series
reqs() { jq -s --arg p "$1" 'map(select(.path==$p)) | length' "$CAP"; }

# 1. the intake stalls past DD_FLUSH_TIMEOUT=1: each attempt is cut at 1 s,
#    at most 3 attempts, and the 2.5 s budget ends it (deadline: generous bound)
intake_ctl "{\"path\":\"$S\",\"delay_ms\":10000}"
ENVS=(DD_TLS_CERT_FILE=$CA DD_FLUSH_TIMEOUT=1)
post stall --count 1 --budget-ms 2500
r=$(results stall)
jq -e '(.outcome=="failed" or .outcome=="aborted") and .attempts>=2 and .attempts<=3 and .kept' <<<"$r" >/dev/null ||
    fail "stall: $r"
el=$(summary stall | jq -r '.elapsed_ms|floor')
[ "$el" -ge 1000 ] && [ "$el" -lt 5000 ] || fail "stall: $el ms (timeout 1 s per attempt, budget 2.5 s)"
intake_ctl '{"clear":true}'

# 2. 500: three attempts, then counted as failed and kept
: > "$CAP"
intake_ctl "{\"path\":\"$S\",\"status\":500}"
ENVS=(DD_TLS_CERT_FILE=$CA)
post e500 --count 1 --budget-ms 5000
r=$(results e500)
jq -e '.outcome=="failed" and .status==500 and .attempts==3 and .kept' <<<"$r" >/dev/null || fail "500: $r"
[ "$(reqs $S)" -eq 3 ] || fail "500: intake saw $(reqs $S) requests, expected 3"
intake_ctl '{"clear":true}'

# 3. 400: final at once
: > "$CAP"
intake_ctl "{\"path\":\"$S\",\"status\":400}"
post e400 --count 1 --budget-ms 5000
r=$(results e400)
jq -e '.outcome=="rejected" and .status==400 and .attempts==1 and (.kept|not)' <<<"$r" >/dev/null || fail "400: $r"
[ "$(reqs $S)" -eq 1 ] || fail "400 was retried"
intake_ctl '{"clear":true}'

# 4. 429 and 408 are retried like 5xx
intake_ctl "{\"path\":\"$S\",\"status\":429,\"count\":1}"
post e429 --count 1 --budget-ms 5000
jq -e '.outcome=="ok" and .attempts==2' <<<"$(results e429)" >/dev/null || fail "429: $(results e429)"
intake_ctl '{"clear":true}'

# 5. a reset connection is retried
intake_ctl "{\"path\":\"$S\",\"reset\":true,\"count\":1}"
post reset --count 1 --budget-ms 5000
jq -e '.outcome=="ok" and .attempts==2' <<<"$(results reset)" >/dev/null || fail "reset: $(results reset)"
intake_ctl '{"clear":true}'

# 6. 403 on logs: "forbidden", not retried, one clear line without the key
: > "$CAP"
intake_ctl '{"path":"/api/v2/logs","status":403}'
KEY=abcdef0123456789
post logs403 --kind logs --count 1 --budget-ms 5000
r=$(results logs403)
jq -e '.outcome=="forbidden" and .status==403 and .attempts==1 and (.kept|not)' <<<"$r" >/dev/null || fail "403: $r"
[ "$(reqs /api/v2/logs)" -eq 1 ] || fail "403 was retried"
jq -e -s 'all(.headers["dd-protocol"]=="agent-json")' "$CAP" >/dev/null || fail "logs without DD-PROTOCOL: agent-json"
grep -q "ERROR .*403 Forbidden: the API key was rejected" "$TMP/logs403.err" || fail "no 403 error line"
! grep -q "$KEY" "$TMP/logs403.err" || fail "API key printed"
intake_ctl '{"clear":true}'

# 7. a flush whose payloads all fail is kept and resent by the next flush
intake_ctl "{\"path\":\"$S\",\"status\":503,\"count\":9}"
post resend --flush --count 3 --budget-ms 5000
f=$(jq -s -c 'map(select(.event=="flush"))' "$TMP/resend.jsonl")
jq -e '.[0].failed==3 and .[1].ok==3 and .[1].posted==3' <<<"$f" >/dev/null || fail "resend: $f"
[ "$(results resend | jq -s 'map(select(.resent and .outcome=="ok")) | length')" -eq 3 ] || fail "resend: not resent"
intake_ctl '{"clear":true}'

# 8. the retry buffer is bounded: room for two, the oldest third is dropped
intake_ctl "{\"path\":\"$S\",\"status\":503}"
post bounded --flush --count 3 --budget-ms 3000 --retry-buffer 600
[ "$(summary bounded | jq -r .dropped)" -ge 1 ] || fail "bounded: nothing dropped: $(summary bounded)"
[ "$(results bounded | jq -s 'map(select(.outcome=="dropped")) | length')" -ge 1 ] || fail "bounded: no dropped result"
intake_ctl '{"clear":true}'
echo "PASS"
