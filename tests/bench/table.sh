#!/bin/bash
# tests/bench/table.sh BENCH_JSON — the bench's figures as markdown tables
# (what `make bench` prints and what tests/bench/README.md quotes).
set -euo pipefail
J=${1:?usage: table.sh bench.json}
jq -r '
def f: if . == null then "–" elif type == "number" then (. * 100 | round / 100 | tostring) else tostring end;
def d3: "\(.p50 | f) / \(.p90 | f) / \(.p99 | f)";
def mb: if . == null then "–" else (. / 1024 * 100 | round / 100 | tostring) end;
def bytes: if . == null then "–" else "\(. / 1048576 * 100 | round / 100) MB (\(.) B)" end;
def ratio($a; $b): if $a == null or $b == null or $b == 0 then "–" else ($a / $b * 100 | round / 100 | tostring) + "×" end;

"forkcap bench — \(.date), commit \(.commit), \(.wall_s) s",
"machine: \(.machine.nproc) CPUs, \(.machine.cpu), load \(.machine.load_start) at start, \(.machine.load_end) at end",
"",
"### Cold start (lambda-sim, --invokes 1; \(.cold_start.runs_per_case) fresh starts per row; ms p50 / p90 / p99)",
"",
"CA sets: single = system bundle (\(.cold_start.system_bundle_certs) certs) + DD_TLS_CERT_FILE with 1 CA; large = system bundle + \(.cold_start.large_extra_certs) CAs.",
"sim register/ready: spawn → register done / first /next, as Lambda sees it. forkcap register / first_next: the supervisor'"'"'s own clock (from its start). serial = flusher tls + first_next: one process doing TLS set-up before register.",
"",
"| build / CA | ok | sim register_ms | sim ready_ms | register | subscribe | first_next | flusher tls | flusher ready | serial | serial / ready |",
"|---|---|---|---|---|---|---|---|---|---|---|",
(.cold_start.cases | to_entries[] | .value as $c |
 "| \(.key) | \($c.runs - $c.failed)/\($c.runs) | \($c.sim_register_ms | d3) | \($c.sim_ready_ms | d3) | \($c.register_ms | d3) | \($c.subscribe_ms | d3) | \($c.first_next_ms | d3) | \($c.flusher_tls_ms | d3) | \($c.flusher_ready_ms | d3) | \($c.serial_ms | d3) | \(ratio($c.serial_ms.p50; $c.sim_ready_ms.p50)) |"),
(.cold_start.cases["dev-single-secret"] | select(. != null) |
 "", "dev-single-secret: the key in Secrets Manager (DD_API_KEY_SECRET_ARN, over TLS to the fake intake): resolved \(.key_resolved_ms | d3) ms after the flusher started; the AWS call itself \(.key_call_ms | d3) ms."),
(if .notes.layer != "" then "", "layer build: \(.notes.layer)" else empty end),
"",
"### Spawn + exit of a do-nothing program (fork/exec/wait, ms p50 / p90 / p99)",
"",
"| program | runs | p50 / p90 / p99 |",
"|---|---|---|",
(.spawn[] | "| \(.case)\(if .shared_objects then " (\(.shared_objects) shared objects, as forkcap)" else " (static)" end) | \(.runs) | \(.p50_ms | f) / \(.p90_ms | f) / \(.p99_ms | f) |"),
(if .notes.spawn != "" then "", "spawn: \(.notes.spawn)" else empty end),
"",
"### Per-invocation overhead (extension_overhead_ms; --fn-ms 1 --interval-ms 0; logs+metrics = 5 log lines + 5 DogStatsD datagrams per invocation)",
"",
"| strategy | data | invocations | failed | p50 / p90 / p99 ms | max ms | intake posts | wall s |",
"|---|---|---|---|---|---|---|---|",
(.overhead[] | "| \(.strategy) | \(.data) | \(.invocations) | \(.failed // "–") | \(if .overhead_ms then (.overhead_ms | d3) else (.error // "–") end) | \(.overhead_max_ms | f) | \(.intake_posts // "–") | \(.wall_s | f) |"),
"",
"### Flush cost (one post on a fresh connection, loopback; tests/transport/bench.sh)",
"",
"| case | median ms | connect | TLS done | first byte | 40 ms stalls | posts | ok | TLS resumed | h2 |",
"|---|---|---|---|---|---|---|---|---|---|",
(.flush_cost.cases[] | "| \(.case) | \((.median_ms // .ms) | f) | \(.connect_ms | f) | \(.tls_ms | f) | \(.first_byte_ms | f) | \(.stalls_40ms // "–") | \(.count // "–") | \(.ok // "–") | \(.tls_resumed // "–") | \(.h2 // "–") |"),
"",
"ratios: " + ([.flush_cost.ratios | to_entries[] | "\(.key) \(.value | f)"] | join(", ")),
(if .notes.flush != "" then "flush cost: \(.notes.flush)" else empty end),
"",
"### Telemetry throughput (function log lines → Telemetry API → forkcap → intake, counted at the intake)",
"",
"| lines/invocation | invocations | sent | delivered | lost | of which last invocation | sim dropped | wall s | lines/s | payload MB/s | wire MB/s |",
"|---|---|---|---|---|---|---|---|---|---|---|",
(.throughput.steps[] | "| \(.lines_per_invoke) | \(.invocations) | \(.sent) | \(.delivered) | \(.lost) | \(.lost_last_invocation) | \(.sim_dropped) | \(.wall_s | f) | \(.lines_per_s | f) | \(.payload_mb_per_s | f) | \(.wire_mb_per_s | f) |"),
"",
"stopped: \(.throughput.stopped_by)" +
  (if .throughput.best_zero_loss then "; best zero-loss rate \(.throughput.best_zero_loss.lines_per_s) lines/s (\(.throughput.best_zero_loss.payload_mb_per_s) MB/s of log text)" else "; no step without any loss" end) +
  (if .throughput.best_no_steady_loss then "; best rate without loss before the last invocation \(.throughput.best_no_steady_loss.lines_per_s) lines/s (\(.throughput.best_no_steady_loss.payload_mb_per_s) MB/s)" else "" end),
"",
(.throughput.steps[] | select(.lost > 0) | "at \(.lines_per_invoke) lines/invocation: forkcap spool \(.forkcap_spool | tojson); \(.posts_cut_by_deadline) intake posts cut by the flush deadline; \(.last_deadline_flush)\(if .flusher_summary != "" then "; " + .flusher_summary else "" end)"),
"",
"### Traces (tests/traces/bench.sh)",
"",
"| end overhead | p50 ms | p99 ms | invocations |",
"|---|---|---|---|",
((.traces.end_overhead // [])[] | "| \(if .tracer then "with the scripted tracer" else "without a tracer" end) | \(.overhead_ms.p50 | f) | \(.overhead_ms.p99 | f) | \(.overhead_ms.n) |"),
"",
"| payloads × spans / invocation | accepted spans | refused payloads (503) | at the intake | lost | spans/s | flusher RSS / HWM MB |",
"|---|---|---|---|---|---|---|",
((.traces.ingest // [])[] | "| \(.payloads_per_invocation) × \(.spans_per_payload) | \(.accepted_spans) | \(.refused_payloads) | \(.spans_at_intake) | \(.lost) | \(.spans_per_s) | \(.flusher_rss_kb | mb) / \(.flusher_hwm_kb | mb) |"),
"",
"### Memory (MB; idle = one invocation per 100 ms, nothing shipped; load = back-to-back invocations, 200 log lines + 50 datagrams each, max over 4 s)",
"",
"| build / mode | supervisor RSS / PSS / HWM | lifecycle RSS / PSS / HWM | flusher RSS / PSS / HWM | total PSS | total RSS |",
"|---|---|---|---|---|---|",
(.memory | to_entries[] | .value as $m |
 "| \(.key) | " + ([("supervisor", "lifecycle", "flusher") as $p | $m.processes[$p] | "\(.rss_kb | mb) / \(.pss_kb | mb) / \(.hwm_kb | mb)"] | join(" | ")) + " | \($m.total_pss_kb | mb) | \($m.total_rss_kb | mb) |"),
"",
"### Size",
"",
"| artefact | size |",
"|---|---|",
"| dev binary, stripped copy | \(.size.dev_stripped | bytes) |",
"| dev binary as built | \(.size.dev_unstripped | bytes) |",
"| layer binary (extensions/forkcap) | \(.size.layer_binary | bytes) |",
"| layer zip | \(.size.layer_zip | bytes) |",
"",
"### Targets",
"",
"| target | value | met | note |",
"|---|---|---|---|",
(.targets[] | "| \(.target) | \(.value | f) | \(if .met == null then "not measured" elif .met then "met" else "NOT met" end) | \(.why) |")
' "$J"
