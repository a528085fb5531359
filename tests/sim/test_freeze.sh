#!/bin/bash
# The whole sandbox is frozen between invocations by default, a setsid
# child of an extension included (cgroup v2 cgroup.freeze when the machine
# has it, else every descendant SIGSTOPped); nothing runs while frozen; no
# process of the sandbox outlives the simulator. --no-freeze: never frozen.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
ext=$(stage ext_setsid)
CG2=$(awk '$0 ~ / - cgroup2 / {print $5; exit}' /proc/self/mountinfo)

# frozen PID: stopped by a signal (T) or in a frozen cgroup
frozen() {
    local st cg
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ "$st" = T ] && return 0
    cg=$(sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null)
    [ -n "$CG2" ] && [ -n "$cg" ] && grep -qx 'frozen 1' "$CG2$cg/cgroup.events" 2>/dev/null
}

# run_bg ARGS: the simulator in the background; waits for the setsid child
run_bg() {
    rm -f "$T/ext_setsid.child" "$T/ext_setsid.count" "$T/ext_setsid.events" "$T/report.json"
    "$SIM" --port 0 --report "$T/report.json" --quiet --ext-log "$T/ext.log" --extension "$ext" \
        --invokes 3 --interval-ms 800 "$@" > "$T/sim.out" 2> "$T/sim.err" &
    simpid=$!
    wait_for_file "$T/ext_setsid.child" 10 || fail "the setsid child did not start"
    child=$(cat "$T/ext_setsid.child")
}

for method in auto signals; do
    run_bg --freeze-method "$method"
    seen=0
    for i in $(seq 300); do
        kill -0 "$simpid" 2>/dev/null || break
        if frozen "$child"; then
            c1=$(wc -l < "$T/ext_setsid.count")
            sleep 0.3
            if frozen "$child"; then   # still the same freeze: nothing may have run
                c2=$(wc -l < "$T/ext_setsid.count")
                want "$c2" "$c1" "$method: the setsid child ran while frozen"
                seen=1
                break
            fi
        fi
        sleep 0.02
    done
    wait "$simpid" || fail "$method: simulator failed"
    [ "$seen" = 1 ] || fail "$method: never saw the setsid child frozen"
    gone "$child" || fail "$method: the setsid child outlived the simulator"
    want "$(r '[.invocations[].status] | join(",")')" "success,success,success" "$method: statuses"
    want "$(grep -c '"INVOKE"' "$T/ext_setsid.events")" 3 "$method: INVOKEs after thaws"
    case "$method" in
        signals) want "$(r .freeze)" signals "freeze method in the report" ;;
        auto)
            [[ "$(r .freeze)" =~ ^(cgroup|signals)$ ]] || fail "freeze method: $(r .freeze)"
            # where the machine has a writable cgroup v2, auto uses it, and removes it at exit
            if [ -n "$CG2" ] && [ -w "$CG2" ] && [ -e "$CG2/cgroup.procs" ]; then
                want "$(r .freeze)" cgroup "auto with a writable cgroup v2"
                [ ! -e "$CG2/lambda-sim.$simpid" ] || fail "the simulator's cgroup was left behind"
            fi ;;
    esac
done

# --no-freeze: the child keeps running between invocations, and still dies with the sandbox
run_bg --no-freeze
while kill -0 "$simpid" 2>/dev/null; do
    frozen "$child" && fail "--no-freeze: frozen"
    sleep 0.02
done
wait "$simpid" || fail "--no-freeze: simulator failed"
gone "$child" || fail "--no-freeze: the setsid child outlived the simulator"
want "$(r .freeze)" off "freeze off in the report"
