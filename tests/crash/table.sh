#!/bin/bash
# table.sh RESULTS: the crash matrix's JSON lines (matrix.sh long) as the
# README's markdown tables: one row per phase and signal (the five intake
# faults together), then one row per intake fault. Traces: distinct trace
# ids at the intake / payloads forkcap answered 200 for, (answered 200 and
# missing at the intake, spans received more than once).
set -euo pipefail
R=$1
jq -r -s '
  def row(g): {faults: (g | map(.faults) | add), inv: (g | map(.invocations) | add),
               exp: (g | map(.expected) | add), crash: (g | map(.extension_crash) | add),
               lw: (g | map(.lines_written) | add), lr: (g | map(.lines_received) | add),
               pd: (g | map(.platform_dropped) | add), dups: (g | map(.duplicates) | add),
               cs: (g | map(.counts_sent) | add), cr: (g | map(.counts_received) | add),
               ts: (g | map(.traces_sent // 0) | add), tr: (g | map(.traces_received // 0) | add),
               tl: (g | map(.traces_lost // 0) | add), td: (g | map(.traces_dup // 0) | add),
               enh: (g | map(.enhanced_invocations) | add), d413: (g | map(.dropped_413_alone // 0) | add), restarts: (g | map(.restarts) | add),
               rmed: (g | map(.recover_ms_median) | sort | .[length / 2 | floor]),
               rmax: (g | map(.recover_ms_max) | max)};
  def line(k; r): "| \(k) | \(r.faults) | \(r.inv)/\(r.exp) | \(r.crash) | \(r.lr)/\(r.lw) (\(r.pd)) | \(r.dups) | \(r.cr)/\(r.cs) | \(r.tr)/\(r.ts) (\(r.tl), \(r.td)) | \(r.enh)/\(r.exp) | \(r.d413) | \(r.restarts) | \(r.rmed) / \(r.rmax) |";
  map(select(.error | not)) as $all |
  "| child, phase, signal | faults | invocations ok | Extension.Crash | log lines received/written (dropped by Lambda) | duplicates | DogStatsD counts received/sent | traces received/accepted (lost, duplicate spans) | enhanced invocations | entries dropped alone on 413 | restarts | recover ms median / max |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ($all | group_by([.child, .phase, .signal]) | .[] | line("\(.[0].child) \(.[0].phase) \(.[0].signal)"; row(.))),
  "",
  "| intake fault | faults | invocations ok | Extension.Crash | log lines received/written (dropped by Lambda) | duplicates | DogStatsD counts received/sent | traces received/accepted (lost, duplicate spans) | enhanced invocations | entries dropped alone on 413 | restarts | recover ms median / max |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ($all | group_by(.intake) | .[] | line(.[0].intake; row(.))),
  "",
  "| all | \(row($all) | .faults) faults in \($all | length) cells |"
' "$R"
