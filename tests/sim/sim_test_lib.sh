# sim_test_lib.sh — shared by tests/sim/test_*.sh: run lambda-sim, read its report.
# Usage in a test: SIM=$1 LISTENER=$2 DIR=$3; . "$DIR/sim_test_lib.sh"
. "$DIR/../lib/common.sh"
# (test_tmpdir's trap would run inside the $(...) subshell, so keep our own)
T=$(mktemp -d "${TMPDIR:-/tmp}/forkcap-sim.XXXXXX")
trap 'jobs -p | xargs -r kill 2>/dev/null; [ -n "${SIM_KEEP:-}" ] || rm -rf "$T"' EXIT
export SIMTEST_OUT=$T
export SIMTEST_LISTENER=$LISTENER
SIM_RC=0

# run_sim ARGS...: runs the simulator to completion; sets SIM_RC; report in $T/report.json
run_sim() {
    SIM_RC=0
    "$SIM" --port 0 --report "$T/report.json" --ext-log "$T/ext.log" --quiet "$@" \
        > "$T/sim.out" 2> "$T/sim.err" || SIM_RC=$?
    [ -s "$T/report.json" ] || { cat "$T/sim.err" >&2; fail "no report written"; }
}

# r EXPR: jq -r EXPR on the report
r() { jq -r "$1" "$T/report.json"; }

# want GOT EXPECTED WHAT
want() { [ "$1" = "$2" ] || { echo "--- report:" >&2; cat "$T/report.json" >&2; echo "--- sim stderr:" >&2; tail -30 "$T/sim.err" >&2; fail "$3: got '$1', want '$2'"; }; }

# stage NAME: copies extension script NAME.sh into $T/ext/ under file name AS (default NAME)
stage() {
    mkdir -p "$T/ext"
    cp "$DIR/$1.sh" "$T/ext/${2:-$1}"
    cp "$DIR/ext_lib.sh" "$T/ext/ext_lib.sh"
    chmod +x "$T/ext/${2:-$1}"
    echo "$T/ext/${2:-$1}"
}

# gone PID: the process no longer exists (zombies of others do not count)
gone() { [ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

# jall FILE TYPE COND: FILE holds one telemetry item per line; at least one
# item has type TYPE and COND (jq, on .record) holds for every such item
jall() { jq -s -e --arg t "$2" "[.[] | select(.type==\$t) | .record | ($3)] | length > 0 and all" "$1" > /dev/null; }
# jany FILE TYPE COND: COND holds for at least one item of type TYPE
jany() { jq -s -e --arg t "$2" "[.[] | select(.type==\$t) | .record | ($3)] | any" "$1" > /dev/null; }
