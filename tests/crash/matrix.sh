#!/bin/bash
# The crash-isolation matrix (issue 11): forkcap (test-hooks build) under
# lambda-sim shipping to fake-intake over HTTPS, a child taking a signal at a
# named phase (common/testfault.h: the child raises it on itself exactly
# there), combined with an intake fault. One lambda-sim run per cell.
#
# Phases (hook name: where):
#   lc_register     lifecycle, register request in flight (once per sandbox)
#   lc_next_before  lifecycle, about to call the first /next
#   lc_invoke       lifecycle, the first /next returned (INVOKE handed over)
#   lc_next_wait    lifecycle, waiting in /next: the request sent, no event
#                   yet; the event Lambda hands it is lost (repeated)
#   lc_tele         lifecycle, telemetry batch handed over, Lambda not yet
#                   answered (repeated)
#   lc_shutdown     lifecycle, SHUTDOWN received
#   fl_start        flusher, starting (before READY)
#   fl_tele         flusher, log frame received (repeated)
#   fl_flush        flusher, flush posts in flight (repeated)
#   fl_final        flusher, SHUTDOWN's final flush in flight
# Signals: KILL, SEGV, ABRT, STOP (held STOP_HOLD_MS, beyond the flush
# budget of an invocation, then continued).
# Intake faults, re-armed at each child fault: none, 5xx (3 x 503), slow
# (4 x 400 ms), reset (2 x RST), 413 (1 x 413).
#
# Each cell prints one JSON line: invocations completed/expected,
# Extension.Crash seen, function log lines written/received distinct/
# duplicated (and dropped by the platform after its retries), DogStatsD
# counts sent/received, enhanced invocations counted,
# restarts, faults injected, time to recover (fault -> the child's
# replacement spawned; for STOP the hold).
#
# usage: matrix.sh SIM FORKCAP_TESTHOOKS INTAKE MAKE_CA short|long [RESULTS]
#        matrix.sh SIM FORKCAP_TESTHOOKS INTAKE MAKE_CA cell PHASE SIGNAL IFAULT NFAULTS
# short: a few cells, asserted (make test). long (make crash): every child x
# phase x signal x intake fault, >= 1,000 faults; RESULTS gets the JSON lines
# (tests/crash/table.sh turns them into the README table).
set -euo pipefail
SIM=$1 FORKCAP=$2 INTAKE=$3 MAKE_CA=$4 MODE=$5 OUT=
[ "$MODE" = cell ] || OUT=${6:-}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../e2e/e2e_lib.sh"
. "$(dirname "$0")/../pipeline/lib.sh"
test_tmpdir
BASE=$T
STOP_HOLD_MS=${STOP_HOLD_MS:-1000}
RES=$BASE/results.jsonl
# written as it goes: an interrupted long run keeps the cells it finished
[ -n "$OUT" ] && RES=$(realpath -m "$OUT")
: > "$RES"

sig_num() { case $1 in KILL) echo 9 ;; SEGV) echo 11 ;; ABRT) echo 6 ;; STOP) echo 19 ;; esac; }
child_of() { case $1 in lc_*) echo lifecycle ;; *) echo flusher ;; esac; }
repeating() { case $1 in lc_next_wait|lc_tele|fl_tele|fl_flush) return 0 ;; *) return 1 ;; esac; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

intake_fault() { # KIND: arm the intake's fault rule for the next posts
    local body
    case $1 in
        none) return 0 ;;
        5xx) body='{"path":"*","status":503,"count":3}' ;;
        slow) body='{"path":"*","delay_ms":400,"count":4}' ;;
        reset) body='{"path":"*","reset":true,"count":2}' ;;
        413) body='{"path":"*","status":413,"count":1}' ;;
    esac
    curl -sS --noproxy '*' -o /dev/null -X POST -H 'Content-Type: application/json' -d "$body" \
        "http://127.0.0.1:$HTTP_PORT/_intake/fail" || true
}

# watcher DIR: for each fault logged, continue a STOPped child after the
# hold, or time the replacement of a killed one; one line per fault in
# DIR/recover.log ("phase signal ms").
watcher() {
    local d=$1 seen=0 n line phase sig pid t0 who np end
    while :; do
        n=$(wc -l < "$d/arm/faults.log" 2>/dev/null || echo 0)
        while [ "$seen" -lt "$n" ]; do
            seen=$((seen + 1))
            line=$(sed -n "${seen}p" "$d/arm/faults.log")
            read -r phase sig pid t0 <<<"$line"
            who=$(child_of "$phase")
            if [ "$sig" = 19 ]; then
                sleep "$(awk -v m="$STOP_HOLD_MS" 'BEGIN { print m / 1000 }')"
                kill -CONT "$pid" 2>/dev/null || true
                echo "$phase $sig $(( $(now_ms) - t0 ))" >> "$d/recover.log"
                continue
            fi
            end=$(( $(now_ms) + 5000 ))
            while np=$(jq -r ".$who.pid // 0" "$d/stats.json" 2>/dev/null || echo 0); \
                  { [ "$np" = "$pid" ] || [ "$np" = 0 ] || [ "$np" = null ]; } && [ "$(now_ms)" -lt "$end" ] &&
                  [ ! -e "$d/done" ]; do
                sleep 0.01
            done
            if [ "$np" != "$pid" ] && [ "$np" != 0 ] && [ "$np" != null ]; then
                echo "$phase $sig $(( $(now_ms) - t0 ))" >> "$d/recover.log"
            else
                echo "$phase $sig -1" >> "$d/recover.log" # not replaced (e.g. shutting down)
            fi
        done
        [ -e "$d/done" ] && [ "$seen" -ge "$(wc -l < "$d/arm/faults.log" 2>/dev/null || echo 0)" ] && break
        sleep 0.02
    done
}

# cell PHASE SIGNAL IFAULT NFAULTS
cell() {
    local phase=$1 sname=$2 ifault=$3 nf=$4
    local sig who ninv d
    sig=$(sig_num "$sname")
    who=$(child_of "$phase")
    d=$BASE/$phase-$sname-$ifault
    mkdir -p "$d/arm"
    : > "$d/arm/faults.log"
    : > "$d/recover.log"
    (
    T=$d
    pipe_setup
    export FORKCAP_TEST_FAULT_DIR=$d/arm
    if repeating "$phase"; then ninv=$(( nf * 4 + 6 )); else ninv=8; fi
    repeating "$phase" || { echo "$sig" > "$d/arm/$phase"; intake_fault "$ifault"; }
    local t0
    t0=$(now_ms)
    run_sim "$d" --invokes "$ninv" --fn-ms 10 --interval-ms 40 --timeout-ms 6000 --log-lines 4 \
        --statsd-port-file "$d/stats.json" --statsd-per-invoke 4 &
    local simpid=$! rc=0 k=0
    watcher "$d" &
    local wpid=$!
    if repeating "$phase"; then
        wait_for_file "$d/stats.json" 10 || true
        while [ "$k" -lt "$nf" ] && kill -0 "$simpid" 2>/dev/null; do
            echo "$sig" > "$d/arm/$phase.tmp" && mv "$d/arm/$phase.tmp" "$d/arm/$phase"
            intake_fault "$ifault"
            while [ -e "$d/arm/$phase" ] && kill -0 "$simpid" 2>/dev/null; do sleep 0.01; done
            [ -e "$d/arm/$phase" ] && break
            k=$((k + 1))
            # the next fault once this one is over (child replaced or continued)
            while [ "$(wc -l < "$d/recover.log" 2>/dev/null || echo 0)" -lt "$k" ] && kill -0 "$simpid" 2>/dev/null; do
                sleep 0.02
            done
        done
        rm -f "$d/arm/$phase"
    fi
    wait "$simpid" || rc=$?
    touch "$d/done"
    wait "$wpid" || true
    pipe_stop_intake
    local R=$d/report.json
    local faults inv_ok crash lines_w pdrop lines_got lines_all dups cnt_sent cnt_got enh restarts rec_max rec_med
    faults=$(wc -l < "$d/arm/faults.log")
    if [ -s "$R" ]; then
        inv_ok=$(jq '[.invocations[] | select(.status == "success")] | length' "$R")
        crash=$(jq '(.crashes | length) + ([.extensions[] | select(.crashed)] | length) + (if .init_error == "Extension.Crash" then 1 else 0 end)' "$R")
        lines_w=$(jq '.function_log_lines' "$R")
        pdrop=$(jq '[.telemetry[].dropped // 0] | add // 0' "$R")
        cnt_sent=$(( $(jq .statsd_sent "$R") / 2 ))
    else
        inv_ok=0 crash=-1 lines_w=0 pdrop=0 cnt_sent=0
    fi
    function_lines > "$d/lines.tsv" || true
    lines_got=$(cut -f3 "$d/lines.tsv" | sort -u | wc -l)
    lines_all=$(wc -l < "$d/lines.tsv")
    dups=$(( lines_all - lines_got ))
    cnt_got=$(series_sum sim.custom.count)
    enh=$(sketch_stat aws.lambda.enhanced.invocations cnt)
    restarts=$(jq '.lifecycle.restarts + .flusher.restarts' "$d/stats.json" 2>/dev/null || echo -1)
    # entries the intake refused alone with 413 (one series, sketch or trace
    # frame cannot be split further): dropped by forkcap, counted and logged
    drop413=$(jq '[.refused // {} | to_entries[] | select(.key | startswith("intake_413_")) | .value] | add // 0' \
        "$d/stats.json" 2>/dev/null || echo 0)
    rec_max=$(awk '$3 >= 0 { if ($3 > m) m = $3 } END { print m + 0 }' "$d/recover.log" 2>/dev/null || echo 0)
    rec_med=$(awk '$3 >= 0 { print $3 }' "$d/recover.log" 2>/dev/null | sort -n | awk '{ a[NR] = $1 } END { print NR ? a[int((NR + 1) / 2)] : 0 }')
    jq -c -n --arg child "$who" --arg phase "$phase" --arg signal "$sname" --arg intake "$ifault" \
        --argjson faults "$faults" --argjson inv_ok "$inv_ok" --argjson inv "$ninv" --argjson crash "$crash" \
        --argjson lines_w "$lines_w" --argjson pdrop "$pdrop" --argjson lines_got "$lines_got" --argjson dups "$dups" \
        --argjson cnt_sent "$cnt_sent" --argjson cnt_got "$cnt_got" --argjson enh "$enh" \
        --argjson restarts "$restarts" --argjson drop413 "$drop413" --argjson rec_max "$rec_max" --argjson rec_med "$rec_med" \
        --argjson sim_rc "$rc" --argjson ms $(( $(now_ms) - t0 )) \
        '{child:$child, phase:$phase, signal:$signal, intake:$intake, faults:$faults,
          invocations:$inv_ok, expected:$inv, extension_crash:$crash, lines_written:$lines_w,
          platform_dropped:$pdrop,
          lines_received:$lines_got, duplicates:$dups, counts_sent:$cnt_sent, counts_received:$cnt_got,
          enhanced_invocations:$enh, dropped_413_alone:$drop413, restarts:$restarts, recover_ms_median:$rec_med,
          recover_ms_max:$rec_max, sim_exit:$sim_rc, wall_ms:$ms}' >> "$RES"
    tail -1 "$RES"
    )
}

if [ "$MODE" = cell ]; then # one cell by hand: ... cell PHASE SIGNAL IFAULT NFAULTS
    shift 5
    cell "$@"
    exit 0
fi
# the long form's cells; CRASH_PHASES / CRASH_SIGNALS / CRASH_IFAULTS (space
# separated) run a part of it again
read -r -a SIGNALS <<< "${CRASH_SIGNALS:-KILL SEGV ABRT STOP}"
read -r -a IFAULTS <<< "${CRASH_IFAULTS:-none 5xx slow reset 413}"
read -r -a PHASES <<< "${CRASH_PHASES:-lc_register lc_next_before lc_invoke lc_next_wait lc_tele lc_shutdown fl_start fl_tele fl_flush fl_final}"
if [ "$MODE" = long ]; then
    NF=${CRASH_FAULTS_PER_CELL:-11}
    for phase in "${PHASES[@]}"; do
        for s in "${SIGNALS[@]}"; do
            for f in "${IFAULTS[@]}"; do
                cell "$phase" "$s" "$f" "$NF" || echo "{\"phase\":\"$phase\",\"signal\":\"$s\",\"intake\":\"$f\",\"error\":true}" >> "$RES"
            done
        done
    done
else
    cell lc_next_wait KILL 5xx 2
    cell lc_tele SEGV none 2
    cell lc_register ABRT reset 1
    cell lc_invoke KILL slow 1
    cell lc_shutdown KILL none 1
    cell fl_flush KILL slow 2
    cell fl_tele ABRT 5xx 2
    cell fl_final SEGV none 1
    cell fl_flush STOP none 1
fi
total=$(jq -s '[.[].faults // 0] | add' "$RES")
echo "faults injected: $total in $(wc -l < "$RES") cells"

[ "$MODE" = short ] || exit 0
# short form: what forkcap guarantees today, asserted per cell
jq -e -s 'all(.[]; .extension_crash == 0)' "$RES" >/dev/null || fail "Extension.Crash seen"
jq -e -s 'all(.[]; .invocations == .expected)' "$RES" >/dev/null || fail "an invocation did not complete"
jq -e -s 'all(.[]; .faults >= 1)' "$RES" >/dev/null || fail "a cell injected no fault"
# a line Lambda dropped after its retries (the listener answered 503 while
# the spool was full) is the platform's loss, reported as logsDropped
jq -e -s 'all(.[]; .lines_received >= .lines_written - .platform_dropped)' "$RES" >/dev/null ||
    fail "function log lines lost"
jq -e -s 'all(.[]; .counts_received <= .counts_sent)' "$RES" >/dev/null || fail "DogStatsD counted twice"
# each invocation counted once, whatever died: an INVOKE lost with a
# lifecycle killed in /next is counted from its platform.start record
jq -e -s 'all(.[]; .enhanced_invocations == .expected)' "$RES" >/dev/null ||
    fail "aws.lambda.enhanced.invocations differs from the invocations: $(jq -c -s '[.[] | select(.enhanced_invocations != .expected) | {phase, signal, intake, enhanced_invocations, expected}]' "$RES")"
echo "ok"
