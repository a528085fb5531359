#!/bin/bash
# Issue 5, delivery: forkcap under lambda-sim (flush strategy "end") ships to
# a fake intake over HTTPS. Every function log line arrives exactly once with
# its request id in message.lambda.request_id; the enhanced metrics match the
# simulator's report (counts exact, values through the decoded sketches'
# cnt/sum/min/max); DogStatsD datagrams arrive with the right counts.
# Usage: delivery.sh LAMBDA_SIM FORKCAP FAKE_INTAKE MAKE_CA
set -euo pipefail
SIM=$1 FORKCAP=$2 INTAKE=$3 MAKE_CA=$4
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
. "$(dirname "$0")/lib.sh"
test_tmpdir
pipe_setup

N=12 LINES=5 STATSD=4 TMO=1500
run_sim "$T" --invokes $N --fn-ms 15 --interval-ms 5 --timeout-ms $TMO --log-lines $LINES \
    --error-every 4 --timeout-every 7 --statsd-port-file "$T/stats.json" --statsd-per-invoke $STATSD || true
pipe_stop_intake
R=$T/report.json
[ -s "$R" ] || fail "no report"
[ "$(jq '.crashes | length' "$R")" = 0 ] || fail "crashes: $(jq -c .crashes "$R")"
[ "$(jq '.invocations | length' "$R")" = $N ] || fail "$(jq '.invocations | length' "$R") invocations"
# only the function may time out (every 7th); a timeout whose runtime ended
# early means the extension held the invocation past its deadline
late=$(jq --argjson t $TMO '[.invocations[] | select(.status == "timeout" and .runtime_ms < $t * 0.9)] | length' "$R")
[ "$late" = 0 ] || fail "$late invocations timed out after their function was done (extension too late)"
! grep -qE "runtime error:|AddressSanitizer|LeakSanitizer" "$T/ext.log" || fail "sanitizer report"

# ---- logs: every line exactly once, with its request id ------------------
function_lines > "$T/lines.tsv"
want=$(( N * LINES ))
got=$(cut -f3 "$T/lines.tsv" | sort -u | wc -l)
dups=$(( $(wc -l < "$T/lines.tsv") - got ))
echo "function log lines: $got distinct of $want written, $dups duplicates"
[ "$got" = "$want" ] || fail "$got distinct function lines at the intake, want $want"
[ "$dups" = 0 ] || fail "$dups duplicated lines"
bad=$(awk -F'\t' '$1 != $2' "$T/lines.tsv" | wc -l)
[ "$bad" = 0 ] || fail "$bad lines with a wrong message.lambda.request_id: $(awk -F'\t' '$1 != $2' "$T/lines.tsv" | head -2)"
# logs carry the function's identity
jq -e -s '[.[] | select(.kind == "logs") | .body[]?] | all(.ddsource == "lambda" and (.ddtags | test("env:e2e")) and .service == "pipe-svc")' "$CAP" >/dev/null ||
    fail "log entries without ddsource/env/service"
jq -e -s '[.[] | select(.kind == "logs") | .headers["dd-protocol"]] | all(. == "agent-json")' "$CAP" >/dev/null ||
    fail "a logs post without DD-PROTOCOL: agent-json"

# ---- enhanced metrics against the report ---------------------------------
E=aws.lambda.enhanced
errors=$(jq '[.invocations[] | select(.status != "success")] | length' "$R")
timeouts=$(jq '[.invocations[] | select(.status == "timeout")] | length' "$R")
sandboxes=$(jq '[.invocations[] | select(.cold_start)] | length' "$R")
[ "$timeouts" -ge 1 ] || fail "the run had no timeout"
[ "$(sketch_stat $E.invocations cnt)" = $N ] || fail "invocations: $(sketch_stat $E.invocations cnt), want $N"
[ "$(sketch_stat $E.errors cnt)" = "$errors" ] || fail "errors: $(sketch_stat $E.errors cnt), want $errors"
[ "$(sketch_stat $E.timeouts cnt)" = "$timeouts" ] || fail "timeouts: $(sketch_stat $E.timeouts cnt), want $timeouts"
for m in duration billed_duration max_memory_used post_runtime_duration estimated_cost; do
    [ "$(sketch_stat $E.$m cnt)" = $N ] || fail "$m: $(sketch_stat $E.$m cnt) values, want $N"
done
[ "$(sketch_stat $E.init_duration cnt)" = "$sandboxes" ] || fail "init_duration: $(sketch_stat $E.init_duration cnt) values, want $sandboxes"
close_to "$(sketch_stat $E.duration sum)" "$(jq '[.invocations[].duration_ms] | add / 1000' "$R")" 0.001 0.001 "duration sum (s)"
close_to "$(sketch_stat $E.duration max)" "$(jq '[.invocations[].duration_ms] | max / 1000' "$R")" 0.001 0.0001 "duration max (s)"
close_to "$(sketch_stat $E.billed_duration sum)" "$(jq '[.invocations[].billed_ms] | add / 1000' "$R")" 0.001 0.001 "billed_duration sum (s)"
close_to "$(sketch_stat $E.max_memory_used sum)" "$(jq '[.invocations[].max_memory_mb] | add' "$R")" 0 0 "max_memory_used sum (MB)"
close_to "$(sketch_stat $E.max_memory_used min)" "$(jq '[.invocations[].max_memory_mb] | min' "$R")" 0 0 "max_memory_used min (MB)"
close_to "$(sketch_stat $E.init_duration sum)" "$(jq '[.invocations[] | select(.cold_start) | .init_duration_ms] | add / 1000' "$R")" 0.001 0.001 "init_duration sum (s)"
close_to "$(sketch_stat $E.post_runtime_duration sum)" "$(jq '[.invocations[] | .duration_ms - .runtime_ms] | add' "$R")" 0.01 0.05 "post_runtime_duration sum (ms)"
close_to "$(sketch_stat $E.estimated_cost sum)" "$(jq '[.invocations[] | 0.0000002 + (.billed_ms / 1000) * (128 / 1024) * 0.0000166667] | add' "$R")" 0.001 0 "estimated_cost sum (USD)"

# ---- DogStatsD ------------------------------------------------------------
sent=$(jq .statsd_sent "$R")
[ "$sent" = $(( N * STATSD )) ] || fail "the simulator sent $sent datagrams, want $(( N * STATSD ))"
[ "$(series_sum sim.custom.count)" = $(( N * STATSD / 2 )) ] || fail "sim.custom.count: $(series_sum sim.custom.count), want $(( N * STATSD / 2 ))"
[ "$(sketch_stat sim.custom.latency cnt)" = $(( N * STATSD / 2 )) ] || fail "sim.custom.latency: $(sketch_stat sim.custom.latency cnt) values, want $(( N * STATSD / 2 ))"
jq -e -s '[.[] | select(.kind == "series") | .body.series[]? | select(.metric == "sim.custom.count") | .tags] | all(index("source:sim") and index("env:e2e") and index("team:pipe"))' "$CAP" >/dev/null ||
    fail "sim.custom.count without its own or the common tags"
echo "posts: $(jq -s '[.[] | .kind] | group_by(.) | map({(.[0]): length}) | add' "$CAP" | tr -d ' \n')"
echo "ok"
