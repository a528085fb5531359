#!/bin/bash
# tests/bench/charts.sh on a bench.json from a real (tiny) bench run
# (tests/bench/sample-bench.json: BENCH_COLD_RUNS=3 BENCH_INVOKES=60 ...):
# both SVGs are written next to the input, are one balanced <svg> document,
# hold exactly one bar per figure present in bench.json with that figure as
# its value, drawn to scale (the longest bar within the plot, widths
# proportional to values); the date and commit are on each chart; a case
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
to_scale() { # FILE WHAT: widths proportional to values, the longest within the plot (480 px)
    awk -v what="$2" '{ v[NR] = $1; w[NR] = $2; if ($1 > mv) { mv = $1; mw = $2 } }
        END { if (mw <= 0 || mw > 480) { print what ": longest bar " mw " px"; exit 1 }
              for (i = 1; i <= NR; i++) if (v[i] > 0 && (w[i] / mw - v[i] / mv > 0.01 || v[i] / mv - w[i] / mw > 0.01)) {
                  print what ": bar " v[i] " is " w[i] " px against " mv " at " mw " px"; exit 1 } }' "$1" || fail "$2 not to scale"
}
bars "$C" > "$T/c.got"; want_cold "$T/bench.json" > "$T/c.want"
[ -s "$T/c.want" ] || fail "sample has no cold-start figures"
same_values "$T/c.got" "$T/c.want" "cold start"
to_scale "$T/c.got" "cold start"
bars "$O" > "$T/o.got"; want_ovh "$T/bench.json" > "$T/o.want"
[ -s "$T/o.want" ] || fail "sample has no overhead figures"
same_values "$T/o.got" "$T/o.want" "overhead"
to_scale "$T/o.got" "overhead"
for s in $(jq -r '.overhead[].strategy' "$T/bench.json" | sort -u); do
    grep -q "text-anchor=\"end\">$s</text>" "$O" || fail "overhead: no group for strategy $s"
done

# missing figures are left out: no layer build, one overhead case without a report
jq 'del(.cold_start.cases["layer-single"], .cold_start.cases["layer-large"])
    | .overhead[0] = {strategy: .overhead[0].strategy, data: .overhead[0].data, invocations: 0, error: "no report"}' \
    "$T/bench.json" > "$T/m/bench.json" 2>/dev/null || { mkdir -p "$T/m"; jq 'del(.cold_start.cases["layer-single"], .cold_start.cases["layer-large"])
    | .overhead[0] = {strategy: .overhead[0].strategy, data: .overhead[0].data, invocations: 0, error: "no report"}' \
    "$T/bench.json" > "$T/m/bench.json"; }
bash "$HERE/charts.sh" "$T/m/bench.json" > /dev/null
! grep -q 'layer (static)' "$T/m/bench-cold-start.svg" || fail "a missing layer case was drawn"
bars "$T/m/bench-cold-start.svg" > "$T/mc.got"; want_cold "$T/m/bench.json" > "$T/mc.want"
same_values "$T/mc.got" "$T/mc.want" "cold start without the layer"
[ "$(wc -l < "$T/mo.got" 2>/dev/null || bars "$T/m/bench-overhead.svg" | wc -l)" = "$(( $(wc -l < "$T/o.got") - 1 ))" ] ||
    fail "an overhead case without a report was drawn"
echo "ok"
