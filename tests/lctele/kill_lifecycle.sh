#!/bin/bash
# kill -9 of the lifecycle child while Lambda delivers telemetry (many log
# lines per invocation): every replacement serves the listener again on
# the same inherited socket without subscribing again, lambda-sim's
# retried POSTs land, the sandbox sees no crash, and the supervisor still
# receives the records of (nearly) every invocation.
set -euo pipefail
SIM=$1 FORKCAP=$2
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
. "$(dirname "$0")/lib.sh"
test_tmpdir
ext_setup "$T"
intake_refused
N=50 KILLS=6
run_sim "$T" --invokes $N --fn-ms 20 --log-lines 300 --log-bytes 1000 --interval-ms 60 &
simpid=$!
wait_for_file "$T/stats.json" 10 || fail "forkcap did not start"
P=$(fc_port "$T/stats.json" telemetry) || fail "no telemetry port in the stats file"
kill_loop "$T" lifecycle $KILLS
# the last replacement answers a batch by hand (a POST the killed child had
# accepted is reset, as Lambda's would be: try again, as Lambda does)
printf '[{"time":"2022-10-12T00:00:00.000Z","type":"function","record":"after the kills"}]' > "$T/ok.json"
for _ in 1 2 3 4 5; do
    sleep 0.2
    code=$(post "$P" "$T/ok.json")
    [ "$code" = 200 ] && break
done
wait "$simpid" || fail "lambda-sim failed"
kills=$(wc -l < "$T/kills.log" 2>/dev/null || echo 0)
echo "lifecycle killed $kills times"
[ "$kills" -ge 2 ] || fail "could not kill the lifecycle child often enough"
[ "$code" = 200 ] || fail "the replacement child answered $code by hand"
check_all_invocations "$T" $N
r=$T/report.json
[ "$(jq '.extensions[0].registrations' "$r")" = 1 ] || fail "registered again"
[ "$(jq '.telemetry | length' "$r")" = 1 ] || fail "subscriptions: $(jq -c .telemetry "$r")"
[ "$(grep -c 'telemetry subscribe' "$T/ext.log" || true)" = 0 ] || fail "a replacement tried to subscribe"
echo "telemetry: $(jq -c '.telemetry[0] | {batches, records, retries, failed_posts, dropped}' "$r")"
s=$(spooled "$T")
echo "data frames at the supervisor: $s"
[ "$s" -ge $(( 3 * (N - 1) )) ] || fail "only $s data frames reached the supervisor"
[ "$(stat_of "$T" .lifecycle.restarts)" -ge "$kills" ] || fail "restarts below kills"
echo "ok"
