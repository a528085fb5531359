#!/bin/bash
# tests/bench/charts.sh on a bench.json from a real (tiny) bench run
# (tests/bench/sample-bench.json: BENCH_COLD_RUNS=3 BENCH_INVOKES=60
# BENCH_CASE_BUDGET_S=3 BENCH_TOTAL_S=60 BENCH_SPAWN_RUNS=20 BENCH_FLUSH_N=10):
# both SVGs are written next to the input, are one balanced <svg> document,
# hold exactly one bar per figure present in bench.json with that figure as
# its value, drawn to scale (value / axis end * plot width); the date and commit are on each chart; a case
# missing from bench.json (layer not built, an overhead case without a
# report) is left out, not drawn as zero.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/common.sh"
test_tmpdir
cp "$HERE/sample-bench.json" "$T/bench.json"
bash "$HERE/charts.sh" "$T/bench.json" > /dev/null
C=$T/bench-cold-start.svg O=$T/bench-overhead.svg
for f in "$C" "$O"; do
    [ -s "$f" ] || fail "$(basename "$f") not written next to bench.json"
    [ "$(head -c 4 "$f")" = "<svg" ] && [ "$(tail -n 1 "$f")" = "</svg>" ] || fail "$f: not one <svg> document"
    [ "$(grep -o '<svg' "$f" | wc -l)" = 1 ] || fail "$f: nested svg"
    [ "$(grep -o '<rect class="bar"' "$f" | wc -l)" = "$(grep -o '</rect>' "$f" | wc -l)" ] || fail "$f: unbalanced bars"
    grep -q "$(jq -r .date "$T/bench.json"), commit $(jq -r .commit "$T/bench.json")" "$f" || fail "$f: no date and commit"
done

bars() { grep -o 'class="bar" data-value="[^"]*" x="[^"]*" y="[^"]*" width="[^"]*"' "$1" |
         sed 's/.*data-value="\([^"]*\)".*width="\([^"]*\)"/\1 \2/'; }
want_cold() {
    jq -r '.cold_start.cases[] | .sim_ready_ms.p50, .serial_ms.p50 | select(. != null)' "$1"
}
want_ovh() { jq -r '.overhead[] | .overhead_ms.p50? | select(. != null)' "$1"; }
same_values() { # GOT-FILE WANT-FILE WHAT
    diff <(awk '{print $1 + 0}' "$1" | sort -g) <(awk '{print $1 + 0}' "$2" | sort -g) > /dev/null ||
        fail "$3: bar values $(awk '{print $1}' "$1" | tr '\n' ' ') != bench.json $(tr '\n' ' ' < "$2")"
}
to_scale() { # FILE SVG WHAT: every bar is value / axis end * 480 px (the plot width), within 1 %
    local axis
    axis=$(grep -o 'text-anchor="middle" fill="#555">[0-9.]*<' "$2" | sed 's/.*>\([0-9.]*\)</\1/' | sort -g | tail -1)
    [ -n "$axis" ] || fail "$3: no axis labels"
    awk -v a="$axis" -v what="$3" '{ want = $1 / a * 480; if (want < 0.5) want = 0.5
            d = $2 - want; if (d < 0) d = -d
            if (d > 0.01 * want + 0.01 || $2 > 480) { print what ": bar " $1 " is " $2 " px, want " want " (axis " a ")"; exit 1 } }' "$1" ||
        fail "$3 not to scale"
}
bars "$C" > "$T/c.got"; want_cold "$T/bench.json" > "$T/c.want"
[ -s "$T/c.want" ] || fail "sample has no cold-start figures"
same_values "$T/c.got" "$T/c.want" "cold start"
to_scale "$T/c.got" "$C" "cold start"
bars "$O" > "$T/o.got"; want_ovh "$T/bench.json" > "$T/o.want"
[ -s "$T/o.want" ] || fail "sample has no overhead figures"
same_values "$T/o.got" "$T/o.want" "overhead"
to_scale "$T/o.got" "$O" "overhead"
for s in $(jq -r '.overhead[].strategy' "$T/bench.json" | sort -u); do
    grep -q "text-anchor=\"end\">$s</text>" "$O" || fail "overhead: no group for strategy $s"
done

# missing figures are left out: no layer build, one overhead case without a report
mkdir -p "$T/m"
jq 'del(.cold_start.cases["layer-single"], .cold_start.cases["layer-large"])
    | .overhead[0] = {strategy: .overhead[0].strategy, data: .overhead[0].data, invocations: 0, error: "no report"}' \
    "$T/bench.json" > "$T/m/bench.json"
bash "$HERE/charts.sh" "$T/m/bench.json" > /dev/null
! grep -q 'layer (static)' "$T/m/bench-cold-start.svg" || fail "a missing layer case was drawn"
bars "$T/m/bench-cold-start.svg" > "$T/mc.got"; want_cold "$T/m/bench.json" > "$T/mc.want"
same_values "$T/mc.got" "$T/mc.want" "cold start without the layer"
[ "$(bars "$T/m/bench-overhead.svg" | wc -l)" = "$(( $(wc -l < "$T/o.got") - 1 ))" ] ||
    fail "an overhead case without a report was drawn"
echo "ok"
