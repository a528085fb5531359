#!/bin/bash
# The lifecycle is killed while it is parked in /next, several times during
# the run (test-hooks build: the fault point lc_next_wait fires once the
# /next request is in the kernel, common/testfault.h). Each kill loses the
# event Lambda hands the dead connection (lambda-sim counts lost_events),
# yet aws.lambda.enhanced.invocations at the intake equals the invocations
# the simulator ran: the supervisor counts an invocation whose INVOKE was
# lost from its platform.start record (supervisor/sup_inv.h), once.
# Usage: next_wait_kill.sh LAMBDA_SIM FORKCAP_TESTHOOKS FAKE_INTAKE MAKE_CA
set -euo pipefail
SIM=$1 FORKCAP=$2 INTAKE=$3 MAKE_CA=$4
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
. "$(dirname "$0")/../pipeline/lib.sh"
test_tmpdir
pipe_setup
export FORKCAP_TEST_FAULT_DIR=$T/arm
mkdir -p "$T/arm"

N=40 KILLS=4
rc=0
run_sim "$T" --invokes $N --fn-ms 5 --interval-ms 40 --log-lines 2 &
SIMPID=$!
wait_for_file "$T/stats.json" 10 || fail "forkcap did not start"
k=0
# arm, wait for the fault to fire, wait for the replacement; not near the
# end, where the event lost would be SHUTDOWN rather than an INVOKE
while [ "$k" -lt "$KILLS" ] && kill -0 "$SIMPID" 2>/dev/null &&
      [ "$(jq '.invocations' "$T/stats.json" 2>/dev/null || echo 0)" -lt $((N - 10)) ]; do
    echo 9 > "$T/arm/lc_next_wait.tmp" && mv "$T/arm/lc_next_wait.tmp" "$T/arm/lc_next_wait"
    while [ -e "$T/arm/lc_next_wait" ] && kill -0 "$SIMPID" 2>/dev/null; do sleep 0.01; done
    [ -e "$T/arm/lc_next_wait" ] && break
    k=$((k + 1))
    while [ "$(jq '.lifecycle.restarts' "$T/stats.json" 2>/dev/null || echo 0)" -lt "$k" ] &&
          kill -0 "$SIMPID" 2>/dev/null; do
        sleep 0.02
    done
done
rm -f "$T/arm/lc_next_wait"
wait "$SIMPID" || rc=$?
pipe_stop_intake
R=$T/report.json
[ -s "$R" ] || fail "no report (lambda-sim exit $rc)"
check_all_invocations "$T" $N
[ "$rc" = 0 ] || fail "lambda-sim exit $rc"
faults=$(grep -c '^lc_next_wait 9 ' "$T/arm/faults.log" || true)
lost=$(jq '[.extensions[].lost_events] | add' "$R")
ran=$(jq '.invocations | length' "$R")
got=$(sketch_stat aws.lambda.enhanced.invocations cnt)
from_start=$(jq '.invocation_ids.from_start' "$T/stats.json")
echo "lifecycle killed in /next $faults times; events lost $lost; invocations ran $ran," \
     "counted $got at the intake ($from_start from platform.start)"
[ "$faults" -ge 2 ] || fail "too few kills landed ($faults)"
[ "$lost" -ge 2 ] || fail "only $lost events lost: the kills did not land in /next"
[ "$got" = "$ran" ] || fail "aws.lambda.enhanced.invocations $got, $ran invocations ran"
[ "$from_start" -ge "$lost" ] || fail "$from_start counted from platform.start, $lost INVOKEs lost"
echo "ok"
