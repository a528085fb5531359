#!/bin/bash
# tests/bench/charts.sh BENCH_JSON [OUT_DIR] — the two charts of `make bench`,
# as SVG written directly (jq only, no plotting package), next to bench.json
# unless OUT_DIR is given:
#   bench-cold-start.svg  spawn -> first /next (sim ready_ms) against what a
#                         serial design would wait (flusher TLS set-up, then
#                         register), per build (dev, layer) and CA set
#                         (1 extra CA, 301 extra CAs); bars p50, whiskers p90
#   bench-overhead.svg    per-invocation overhead (extension_overhead_ms) per
#                         flush strategy, with nothing to flush and with logs
#                         + metrics; bars p50, whiskers p99
# A case missing from bench.json (e.g. the layer was not built) is left out.
# Each chart carries the run's date, commit and machine load.
set -euo pipefail
IN=${1:?usage: charts.sh BENCH_JSON [OUT_DIR]}
OUT=${2:-$(dirname "$IN")}
mkdir -p "$OUT"

# chart: a horizontal grouped bar chart from a spec on stdin:
# {title, note, unit, hi_name, series: [{name, color}],
#  groups: [{label, bars: [{series, value, hi}]}]}   (hi: whisker end, may be null)
CHART='
def esc: tostring | gsub("&"; "&amp;") | gsub("<"; "&lt;") | gsub(">"; "&gt;") | gsub("\""; "&quot;");
def fmt: if . == null then "–" elif . >= 100 then (. | round | tostring)
         elif . >= 10 then ((. * 10 | round) / 10 | tostring) else ((. * 100 | round) / 100 | tostring) end;
# a round axis end >= m: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten
def nice: if . <= 0 then 1 else
    (. | log10 | floor) as $e | pow(10; $e) as $p | (. / $p) as $f |
    ([1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10] | map(select(. >= $f - 1e-9)) | .[0]) * $p end;
. as $c |
($c.groups | map(.bars |= map(select(.value != null))) | map(select(.bars | length > 0))) as $g |
([$g[].bars[] | .value, (.hi // 0)] | max // 1 | nice) as $max |
170 as $left | 480 as $pw | 16 as $bh | 4 as $bgap | 18 as $ggap | 78 as $top |
($g | map((.bars | length) * ($bh + $bgap) - $bgap + $ggap)) as $gh |
($top + ($gh | add // 0) + 40) as $height |
($left + $pw + 150) as $width |
def x($v): $left + ($v / $max * $pw);
[
  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\($width)\" height=\"\($height)\" viewBox=\"0 0 \($width) \($height)\" font-family=\"sans-serif\" font-size=\"12\">",
  "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
  "<text x=\"10\" y=\"22\" font-size=\"16\" font-weight=\"bold\">\($c.title | esc)</text>",
  "<text x=\"10\" y=\"40\" fill=\"#555\">\($c.note | esc)</text>",
  # legend
  ($c.series | to_entries[] | .key as $i | .value as $s |
    "<rect x=\"\(10 + $i * 230)\" y=\"50\" width=\"12\" height=\"12\" fill=\"\($s.color)\"/>",
    "<text x=\"\(26 + $i * 230)\" y=\"60\">\($s.name | esc)</text>"),
  # grid and axis
  (range(0; 6) as $k | ($max * $k / 5) as $v |
    "<line x1=\"\(x($v))\" y1=\"\($top - 6)\" x2=\"\(x($v))\" y2=\"\($height - 34)\" stroke=\"#ddd\"/>",
    "<text x=\"\(x($v))\" y=\"\($height - 20)\" text-anchor=\"middle\" fill=\"#555\">\($v | fmt)</text>"),
  "<text x=\"\($left + $pw / 2)\" y=\"\($height - 6)\" text-anchor=\"middle\" fill=\"#555\">\($c.unit | esc)</text>",
  # groups
  (range(0; $g | length) as $i | $g[$i] as $grp |
    ($top + ([$gh[0:$i][]] | add // 0)) as $y0 |
    (($grp.bars | length) * ($bh + $bgap) - $bgap) as $h |
    "<text x=\"\($left - 8)\" y=\"\($y0 + $h / 2 + 4)\" text-anchor=\"end\">\($grp.label | esc)</text>",
    ($grp.bars | to_entries[] | .key as $j | .value as $b |
      ($y0 + $j * ($bh + $bgap)) as $y |
      ([$c.series[] | select(.name == $b.series) | .color] | .[0] // "#888") as $col |
      "<rect class=\"bar\" data-value=\"\($b.value)\" x=\"\($left)\" y=\"\($y)\" width=\"\([x($b.value) - $left, 0.5] | max)\" height=\"\($bh)\" fill=\"\($col)\"><title>\($b.series | esc): \($b.value | fmt) \($c.unit | esc)</title></rect>",
      (if $b.hi != null and $b.hi > $b.value then
        "<line x1=\"\(x($b.value))\" y1=\"\($y + $bh / 2)\" x2=\"\(x($b.hi))\" y2=\"\($y + $bh / 2)\" stroke=\"#333\"/>",
        "<line x1=\"\(x($b.hi))\" y1=\"\($y + 3)\" x2=\"\(x($b.hi))\" y2=\"\($y + $bh - 3)\" stroke=\"#333\"/>"
       else empty end),
      "<text x=\"\(x([$b.value, ($b.hi // 0)] | max) + 4)\" y=\"\($y + $bh - 4)\">\($b.value | fmt)\(if $b.hi != null then " (\($c.hi_name) \($b.hi | fmt))" else "" end)</text>")),
  "</svg>"
] | join("\n")
'

jq -r '
  def bname: {"dev": "development build", "layer": "layer (static)"}[.] // .;
  def ca: {"single": "1 extra CA", "large": "301 extra CAs"}[.] // .;
  {title: "Cold start: spawn to first /next (p50, whisker p90)",
   note: "\(.date), commit \(.commit), \(.machine.nproc) cores, load \(.machine.load_start) → \(.machine.load_end); \(.cold_start.runs_per_case) starts per case",
   unit: "milliseconds", hi_name: "p90",
   series: [{name: "forkcap (TLS beside register)", color: "#2a7ab9"},
            {name: "serial design (TLS, then register)", color: "#d9822b"}],
   groups: [.cold_start.cases | to_entries[] | (.key | split("-")) as [$b, $c] |
            {label: "\($b | bname), \($c | ca)",
             bars: [{series: "forkcap (TLS beside register)", value: .value.sim_ready_ms.p50, hi: .value.sim_ready_ms.p90},
                    {series: "serial design (TLS, then register)", value: .value.serial_ms.p50, hi: .value.serial_ms.p90}]}]}
' "$IN" | jq -r "$CHART" > "$OUT/bench-cold-start.svg"

jq -r '
  {title: "Overhead per invocation (p50, whisker p99)",
   note: "\(.date), commit \(.commit), \(.machine.nproc) cores, load \(.machine.load_start) → \(.machine.load_end); lambda-sim, --fn-ms 1",
   unit: "milliseconds Lambda waits for the extension after the function returns", hi_name: "p99",
   series: [{name: "nothing to flush", color: "#2a7ab9"},
            {name: "5 log lines + 5 metrics per invocation", color: "#5aa54b"}],
   groups: [.overhead as $o | reduce $o[].strategy as $s ([]; if index([$s]) then . else . + [$s] end)
            | .[] as $s | [$o[] | select(.strategy == $s)] |
            {label: $s,
             bars: [.[] | {series: (if .data == "none" then "nothing to flush" else "5 log lines + 5 metrics per invocation" end),
                           value: .overhead_ms.p50?, hi: .overhead_ms.p99?}]}]}
' "$IN" | jq -r "$CHART" > "$OUT/bench-overhead.svg"
echo "charts: $OUT/bench-cold-start.svg $OUT/bench-overhead.svg"
