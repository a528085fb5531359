#!/bin/bash
# deploy/demo.sh BUILD_DIR — run forkcap as a Lambda extension on lambda-sim
# against fake-intake (HTTPS with a throw-away CA), then print the cold
# start, the per-invocation overhead, what the intake received and
# forkcap's summary: one screen (make demo builds quietly first).
set -euo pipefail
B=${1:?usage: deploy/demo.sh BUILD_DIR}
B=$(cd "$B" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIM=$B/deploy/sim/lambda-sim
INTAKE=$B/deploy/intake/fake-intake
FORKCAP=$B/supervisor/forkcap
for f in "$SIM" "$INTAKE" "$FORKCAP"; do
    [ -x "$f" ] || { echo "demo: $f is not built" >&2; exit 1; }
done
. "$ROOT/tests/lib/common.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/forkcap-demo.XXXXXX")
INTAKE_PID=""
cleanup() {
    [ -n "$INTAKE_PID" ] && kill "$INTAKE_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

bash "$ROOT/tests/lib/make-ca.sh" "$T/pki" >/dev/null
"$INTAKE" --http-port 0 --https-port 0 --cert "$T/pki/server.pem" --key "$T/pki/server.key" \
    --port-file "$T/intake.ports" --capture "$T/capture.jsonl" --quiet &
INTAKE_PID=$!
wait_for_file "$T/intake.ports" 10 || { echo "demo: fake-intake did not start" >&2; exit 1; }
HTTPS=$(jq -r .https "$T/intake.ports")

# Lambda starts /opt/extensions/<name>; the name is what forkcap registers as.
mkdir -p "$T/extensions"
cp "$FORKCAP" "$T/extensions/forkcap"
export DD_API_KEY=0123456789abcdef0123456789abcdef
export DD_DD_URL=https://127.0.0.1:$HTTPS DD_APM_DD_URL=https://127.0.0.1:$HTTPS
export DD_LOGS_CONFIG_LOGS_DD_URL=https://127.0.0.1:$HTTPS
export DD_TLS_CERT_FILE=$T/pki/ca.pem
export DD_DOGSTATSD_PORT=0 FORKCAP_TELEMETRY_PORT=0
export DD_APM_RECEIVER_PORT=0 FORKCAP_LAMBDA_PORT=0
export FORKCAP_STATS_FILE=$T/stats.json
N=${DEMO_INVOKES:-20} LINES=3 STATSD=4

echo "forkcap demo: $N invocations on lambda-sim (the local Lambda), forkcap as"
echo "/opt/extensions/forkcap, shipping over HTTPS to fake-intake (a local Datadog intake)"
"$SIM" --port 0 --port-file "$T/sim.port" --extension "$T/extensions/forkcap" \
    --invokes "$N" --fn-ms 20 --interval-ms 50 --log-lines $LINES \
    --statsd-port-file "$T/stats.json" --statsd-per-invoke $STATSD \
    --report "$T/report.json" --ext-log "$T/ext.log" --quiet
# SIGTERM: the intake writes its last capture lines and exits
kill "$INTAKE_PID" 2>/dev/null; wait "$INTAKE_PID" 2>/dev/null || true; INTAKE_PID=""

R=$T/report.json C=$T/capture.jsonl
echo
echo "cold start (Lambda's init waits for every extension's first /next)"
echo "  ready         $(jq '.extensions[0].ready_ms' "$R") ms after Lambda started forkcap (Lambda's init: $(jq .init_ms "$R") ms)"
sed -n 's/.*INFO | supervisor | ready in \([0-9.]*\) ms .*flusher tls \([0-9.]*\).*/  in forkcap    \1 ms from main(); the rest is exec and the dynamic loader\
  TLS set-up    \2 ms, beside the start instead of before it/p' "$T/ext.log" | head -2
echo
echo "overhead per invocation (time Lambda waits for the extension after the function returns)"
jq -r '[.invocations[].extension_overhead_ms] | sort as $s |
       "  p50 \($s[(length - 1) / 2 | floor]) ms, p99 \($s[((length - 1) * 0.99) | floor]) ms, max \($s[-1]) ms over \($s | length) invocations"' "$R"
echo "  $(jq '[.invocations[] | select(.status == "success")] | length' "$R") of $N succeeded; crashes $(jq '.crashes | length' "$R"), sandbox resets $(jq .resets "$R")"
echo
echo "what the intake received"
ok() { jq -s --arg k "$1" 'map(select(.kind == $k and .status < 300)) | length' "$C"; }
lines=$(jq -s '[.[] | select(.kind == "logs" and .status < 300) | .body[]? | .message.message // .message
               | tostring | select(test("line [0-9]+"))] | length' "$C")
echo "  logs      $(ok logs) posts: $lines of $((N * LINES)) function log lines, plus platform and extension lines"
count=$(jq -s '[.[] | select(.kind == "series" and .status < 300) | .body.series[]?
               | select(.metric == "sim.custom.count") | .points[].value] | add // 0' "$C")
inv=$(jq -s '[.[] | select(.kind == "sketches" and .status < 300) | .body.sketches[]?
             | select(.metric == "aws.lambda.enhanced.invocations") | .dogsketches[].cnt] | add // 0' "$C")
echo "  metrics   $(ok series) series + $(ok sketches) sketch posts: sim.custom.count $count of $((N * STATSD / 2)) (DogStatsD),"
echo "            aws.lambda.enhanced.invocations $inv of $N"
echo
echo "forkcap's summary"
sed -n 's/^\(\[forkcap:err\] \)\{0,1\}INFO | \(supervisor\|flusher\) | exiting\(.*\)/\2: exiting\3/p' "$T/ext.log" |
    while IFS= read -r l; do fold -s -w 96 <<<"$l" | sed '1s/^/  /; 1!s/^/    /'; done
bad=$(grep -cE '(WARN|ERROR) \||\[(warn|err)\]' "$T/ext.log" || true)
if [ "$bad" -gt 0 ]; then
    echo
    echo "forkcap logged $bad warning(s) or error(s):"
    grep -E '(WARN|ERROR) \||\[(warn|err)\]' "$T/ext.log" | sed 's/^\[forkcap:err\] /  /' | cut -c1-160 | head -5
fi
echo
echo "(V=1 make demo shows the build; deploy/sim/README.md and deploy/intake/README.md say more)"
