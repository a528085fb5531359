#!/bin/bash
# Telemetry POSTs by hand to forkcap's listener while it runs under
# lambda-sim: unreadable batches are answered 200 and logged once; invalid
# UTF-8 and a line past Datadog's 1 MiB cap are accepted (bounded); chunked
# bodies work; an oversize body is refused with 413 without hurting the
# listener; idle connections past the cap do not lock Lambda out. The
# sandbox sees no crash and every invocation succeeds.
set -euo pipefail
SIM=$1 FORKCAP=$2
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
. "$(dirname "$0")/lib.sh"
test_tmpdir
ext_setup "$T"
intake_refused
N=40
run_sim "$T" --invokes $N --fn-ms 5 --interval-ms 100 &
simpid=$!
for _ in $(seq 1 200); do
    [ "$(jq -r .phase "$T/stats.json" 2>/dev/null)" = ready ] && break
    sleep 0.05
done
[ "$(jq -r .phase "$T/stats.json" 2>/dev/null)" = ready ] || fail "forkcap not ready"
P=$(fc_port "$T/stats.json" telemetry) || fail "no telemetry port in the stats file"

rec='{"time":"2022-10-12T00:00:00.000Z","type":"function","record":'
printf '[%s"by hand"}]' "$rec" > "$T/ok.json"
printf '{not json at all' > "$T/bad.json"
printf '[%s"bad \xff\xfe utf-8 \xc3"}]' "$rec" > "$T/utf.json"
{ printf '[%s"' "$rec"; head -c 1500000 /dev/zero | tr '\0' 'a'; printf '\xff"}]'; } > "$T/huge.json"
head -c 3000000 /dev/zero | tr '\0' ' ' > "$T/over.json"

for i in 1 2 3; do
    [ "$(post "$P" "$T/bad.json")" = 200 ] || fail "malformed batch $i not answered 200"
done
[ "$(post "$P" "$T/utf.json")" = 200 ] || fail "invalid UTF-8 batch not answered 200"
[ "$(post "$P" "$T/ok.json" -H 'Transfer-Encoding: chunked')" = 200 ] || fail "chunked batch not answered 200"
code=$(post "$P" "$T/over.json")
[ "$code" = 413 ] || fail "3 MB body answered $code, not 413"
# hold more idle connections than the listener keeps; Lambda still gets in
for _ in $(seq 1 12); do exec {fd}<>"/dev/tcp/127.0.0.1/$P"; done
[ "$(post "$P" "$T/ok.json")" = 200 ] || fail "valid batch refused while idle connections were open"
# last of the batches: 1.5 MB spooled is above the spool's high-water mark,
# so until the flusher's delivery stalls (the intake is refused here) new
# batches get 503 (README "Backpressure")
[ "$(post "$P" "$T/huge.json")" = 200 ] || fail "1.5 MB line not answered 200"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$P/")
[ "$code" = 405 ] || fail "GET answered $code, not 405"

wait "$simpid" || fail "lambda-sim failed"
check_all_invocations "$T" $N
n=$(grep -c "telemetry listener: a batch of .* could not be read" "$T/ext.log" || true)
[ "$n" = 1 ] || fail "unreadable batches logged $n times, expected once"
[ "$(stat_of "$T" .lifecycle.restarts)" = 0 ] || fail "the lifecycle child restarted"
echo "ok"
