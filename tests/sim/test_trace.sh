#!/bin/bash
# Trace context only when there is one (the emulator sets headers only when
# not empty): --trace none gives no "tracing" in INVOKE or telemetry and no
# Lambda-Runtime-Trace-Id; unsampled and sampled (the default) differ in
# Sampled=0/1.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
tele=$(stage ext_telemetry tele_all)
cp "$DIR/rt_simple.sh" "$T/rt_simple.sh"; chmod +x "$T/rt_simple.sh"
for mode in none unsampled sampled; do
    rm -f "$T/tele_all.tele" "$T/tele_all.events" "$T/rt.hdrs"
    args=(--trace "$mode"); [ "$mode" = sampled ] && args=()   # the default
    run_sim --extension "$tele" --invokes 2 --runtime "exec $T/rt_simple.sh" "${args[@]}"
    want "$SIM_RC" 0 "$mode: exit code"
    jq -c '.[]' "$T/tele_all.tele" > "$T/items"
    n_inv_tr=$(jq -r 'select(.eventType=="INVOKE") | has("tracing")' "$T/tele_all.events" | sort -u | tr '\n' ' ')
    n_rec_tr=$(jq -r 'select(.type|test("^platform\\.(start|runtimeDone|report)$")) | .record | has("tracing")' "$T/items" | sort -u | tr '\n' ' ')
    n_hdr=$(grep -ci '^lambda-runtime-trace-id:' "$T/rt.hdrs" || true)
    case $mode in
        none)
            want "$n_inv_tr" "false " "none: tracing in INVOKE"
            want "$n_rec_tr" "false " "none: tracing in records"
            want "$n_hdr" 0 "none: Lambda-Runtime-Trace-Id headers" ;;
        *)
            s=1; [ "$mode" = unsampled ] && s=0
            want "$n_inv_tr" "true " "$mode: tracing in INVOKE"
            want "$n_rec_tr" "true " "$mode: tracing in records"
            want "$n_hdr" 2 "$mode: Lambda-Runtime-Trace-Id headers"
            jq -e -s --arg s "Sampled=$s" 'map(select(.eventType=="INVOKE") | .tracing.value | test("^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};" + $s + "$")) | all' \
                "$T/tele_all.events" > /dev/null || fail "$mode: trace id shape"
            grep -i '^lambda-runtime-trace-id:' "$T/rt.hdrs" | grep -qv "Sampled=$s" && fail "$mode: runtime header sampling" ;;
    esac
done
rc=0; "$SIM" --trace maybe --invokes 0 > /dev/null 2>&1 || rc=$?
want "$rc" 2 "bad --trace"
