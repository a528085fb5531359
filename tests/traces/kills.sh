#!/bin/bash
# Traces, crash: SIGKILL the flusher (it owns the trace port) and the
# lifecycle child many times while a scripted tracer sends one trace per
# invocation and the intake holds every trace post for a while (most kills
# land mid-flush or mid-request). Every trace the tracer was answered 200 for
# reaches the intake (duplicates allowed and counted); a request cut by a
# kill is retried by the tracer, as dd-trace does; no Extension.Crash.
# Usage: kills.sh LAMBDA_SIM FORKCAP FAKE_INTAKE MAKE_CA
set -euo pipefail
SIM=$1 FORKCAP=$2 INTAKE=$3 MAKE_CA=$4
. "$(dirname "$0")/lib.sh"
intake_ctl '{"path":"/api/v0.2/traces","delay_ms":80}'

N=120
# background flushes overlap trace arrivals, so a frame acked before its
# delivery would be lost to the next kill
export DD_SERVERLESS_FLUSH_STRATEGY=continuously,60
TRACER_LOG=$T/tracer.log run_sim "$T" --invokes $N --interval-ms 20 --runtime "exec node $TRACER" &
SIMPID=$!
wait_for_file "$T/stats.json" 10 || fail "no stats file"
# no kill in the last 10 invocations: a child killed during the SHUTDOWN
# flush is a different case (the supervisor then stops without a new flusher)
kill_both_checked 12 $(( N - 10 ))

jq -r 'select(.kind == "traces" and .status == 202) | .body.tracerPayloads[].chunks[].spans[]
       | select(.name == "aws.lambda") | .meta.request_id' "$CAP" | sort > "$T/at_intake"
jq -r 'select(.status == 200) | .rid' "$T/tracer.log" | sort -u > "$T/accepted"
accepted=$(wc -l < "$T/accepted")
answered_other=$(jq -r 'select(.status != 200) | "\(.status)"' "$T/tracer.log" | sort | uniq -c | tr '\n' ' ')
lost=$(comm -23 "$T/accepted" <(sort -u "$T/at_intake") | wc -l)
dups=$(( $(wc -l < "$T/at_intake") - $(sort -u "$T/at_intake" | wc -l) ))
retried=$(jq -s 'map(select(.tries > 1)) | length' "$T/tracer.log")
echo "traces: $accepted answered 200 (others: ${answered_other:-none}), $retried retried after a kill, $lost lost, $dups duplicates at the intake"
[ "$accepted" -ge $(( N * 9 / 10 )) ] || fail "only $accepted of $N traces answered 200"
[ "$lost" = 0 ] || fail "$lost accepted traces never reached the intake: $(comm -23 "$T/accepted" <(sort -u "$T/at_intake") | head -3 | tr '\n' ' ')"
echo "ok"
