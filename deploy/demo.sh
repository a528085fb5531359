#!/bin/bash
# deploy/demo.sh BUILD_DIR — run forkcap as a Lambda extension on lambda-sim
# against fake-intake (HTTPS with a throw-away CA), then print the cold
# start, the per-invocation overhead and what the intake received.
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
N=${DEMO_INVOKES:-20}

echo "== lambda-sim: $N invocations, forkcap as /opt/extensions/forkcap, intake https://127.0.0.1:$HTTPS"
"$SIM" --port 0 --port-file "$T/sim.port" --extension "$T/extensions/forkcap" \
    --invokes "$N" --fn-ms 20 --interval-ms 50 --log-lines 3 \
    --statsd-port-file "$T/stats.json" --statsd-per-invoke 5 \
    --report "$T/report.json" --ext-log "$T/ext.log" --quiet
sleep 0.5 # let the intake write its last capture lines

R=$T/report.json
echo
echo "== cold start"
echo "   Lambda init:          $(jq .init_ms "$R") ms"
echo "   forkcap register:     $(jq '.extensions[0].register_ms' "$R") ms after exec"
echo "   forkcap ready:        $(jq '.extensions[0].ready_ms' "$R") ms after exec (first /next)"
sed -n 's/.*INFO | supervisor | \(ready in .*\)/   forkcap says:         \1/p' "$T/ext.log" | head -1
echo
echo "== per-invocation overhead (PostRuntimeExtensionsDuration)"
jq -r '[.invocations[].extension_overhead_ms] | sort as $s |
       "   \($s | length) invocations: p50 \($s[(length - 1) / 2 | floor]) ms, p99 \($s[((length - 1) * 0.99) | floor]) ms, max \($s[-1]) ms"' "$R"
echo "   statuses: $(jq -c '[.invocations[].status] | group_by(.) | map({(.[0]): length}) | add' "$R")"
echo "   crashes: $(jq '.crashes | length' "$R"), resets: $(jq .resets "$R"), shutdown: $(jq .shutdown_ms "$R") ms"
echo
echo "== what the intake received"
if [ -s "$T/capture.jsonl" ]; then
    jq -rs 'group_by(.path) | .[] | "   \(.[0].path) (\(.[0].kind // "?")): \(length) request(s)"' "$T/capture.jsonl"
else
    echo "   nothing yet (the flusher's intake pipeline is not wired in this build)"
fi
echo
echo "== forkcap's own log"
sed 's/^/   /' "$T/ext.log" | head -20
