#!/bin/bash
# --traces-per-invoke: the synthetic function PUTs N v0.4 payloads (one
# trace of two spans, a trace key "<request id>#<index>" in the spans' meta)
# to the trace port before it returns; the report counts those answered 200
# (traces_sent, their keys in trace_keys) and the others (traces_refused:
# a non-200 answer, no listener), and the invocations succeed either way.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
"$LISTENER" --hex --fail-first 3 --port-file "$T/tport" --out "$T/traces.txt" &
wait_for_file "$T/tport" 10 || fail "trace sink did not start"
echo "{\"ports\":{\"apm\":$(cat "$T/tport")}}" > "$T/stats.json"
run_sim --invokes 4 --traces-port-file "$T/stats.json" --traces-per-invoke 2
want "$SIM_RC" 0 "exit code"
want "$(r '[.invocations[] | select(.status == "success")] | length')" 4 "invocations"
# 8 payloads, the first 3 answered 500 (the sink keeps the others)
want "$(wc -l < "$T/traces.txt")" 5 "payloads kept"
want "$(r .traces_sent)/$(r .traces_refused)" 5/3 "sent/refused"
want "$(r '.trace_keys | length')" 5 "keys of the payloads answered 200"
want "$(r '.trace_keys | unique | length')" 5 "distinct keys"
# the keys are "<request id>#<index>" of the last 5 payloads, in order
want "$(r '.trace_keys | join(" ")')" "$(r '[.invocations[] | "\(.request_id)#0", "\(.request_id)#1"] | .[3:] | join(" ")')" "keys"
# every payload kept: PUT /v0.4/traces, [[span, span]] (fixarray 1, fixarray 2), its key inside
hexof() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
i=3
while read -r uri body; do
    want "$uri" /v0.4/traces "path"
    want "${body:0:4}" 9192 "one trace of two spans"
    key=$(r "[.invocations[] | \"\(.request_id)#0\", \"\(.request_id)#1\"] | .[$i]")
    [[ "$body" == *"$(hexof "$key")"* ]] || fail "payload $i lacks its key $key"
    [[ "$body" == *"$(hexof sim.trace_key)"* ]] && [[ "$body" == *"$(hexof trace_id)"* ]] || fail "payload $i fields"
    i=$((i + 1))
done < "$T/traces.txt"
# nobody listening: every payload refused, the invocations still succeed
kill %1; wait %1 2>/dev/null || true
run_sim --invokes 3 --traces-port "$(cat "$T/tport")" --traces-per-invoke 2
want "$SIM_RC" 0 "exit code without a listener"
want "$(r '[.invocations[] | select(.status == "success")] | length')" 3 "invocations without a listener"
want "$(r .traces_sent)/$(r .traces_refused)/$(r '.trace_keys | length')" 0/6/0 "sent/refused without a listener"
# without the option: none sent, and the counts are there
run_sim --invokes 2
want "$(r .traces_sent)/$(r .traces_refused)" 0/0 "no traces by default"
echo ok
