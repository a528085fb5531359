#!/bin/bash
# The --report contract: every field with its type; the synthetic function's
# log lines, DogStatsD datagrams and JSON log format; --port-file; exit 0.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
"$LISTENER" --udp --port-file "$T/uport" --out "$T/statsd.txt" &
wait_for_file "$T/uport" 10 || fail "udp sink did not start"
a=$(stage ext_good ext_a); b=$(stage ext_telemetry ext_b)
run_sim --extension "$a" --extension "$b" --invokes 4 --log-lines 3 --log-bytes 100 --json-logs \
    --statsd-port "$(cat "$T/uport")" --statsd-per-invoke 2 --memory-mb 256 --port-file "$T/port"
want "$SIM_RC" 0 "exit code"
[[ "$(cat "$T/port")" =~ ^[0-9]+$ ]] || fail "port file"
# the top level: every key of the contract, with its type
jq -e '
  (.init_ms|type=="number") and .init_error==null and (.resets==0) and .shutdown_reason=="spindown"
  and (.shutdown_ms|type=="number") and (.function_log_lines==12) and (.statsd_sent==8)
  and (.crashes==[]) and (.extensions|length==2) and (.invocations|length==4) and (.telemetry|length==1)
  and all(.extensions[]; (.name|type=="string") and (.path|type=="string") and (.pid|type=="number")
      and (.register_ms|type=="number") and (.ready_ms >= .register_ms) and .registrations==1
      and .crashed==false and .exit_status==0 and .killed==false)
  and all(.invocations[]; (.request_id|test("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"))
      and .status=="success" and .error_type==null and (.runtime_ms > 0) and (.extension_overhead_ms >= 0)
      and (.duration_ms >= .runtime_ms) and (.billed_ms == (.duration_ms|ceil))
      and (.max_memory_mb > 0 and .max_memory_mb <= 256) and (.cold_start|type=="boolean"))
  and ([.invocations[].cold_start] == [true,false,false,false])
  and (.invocations[0].init_duration_ms == .init_ms) and ([.invocations[1:][].init_duration_ms] == [null,null,null])
  and all(.telemetry[]; .extension=="ext_b" and (.uri|startswith("http://sandbox.localdomain:"))
      and .types==["platform","function","extension"] and .batches>0 and .records>0 and .retries==0 and .failed_posts==0)
' "$T/report.json" > /dev/null || { cat "$T/report.json" >&2; fail "report fields"; }
# the default runtime: provided.al2023 (initStart's runtimeVersion, the register answer's handler)
want "$(r .runtime_version)" "provided:al2023.v13" "default runtime version"
jq -c '.[]' "$T/ext_b.tele" > "$T/ext_b.items"
jall "$T/ext_b.items" platform.initStart '.runtimeVersion=="provided:al2023.v13"' || fail "initStart runtimeVersion by default"
want "$(jq -r .handler "$T/ext_a.register.json")" function.handler "default handler"
# overhead: the telemetry extension sleeps 50 ms after each INVOKE
awk -v x="$(r '.invocations[2].extension_overhead_ms')" 'BEGIN{exit !(x > 0)}' || fail "extension_overhead_ms"
# statsd datagrams as documented
want "$(grep -c '^sim.custom.count:1|c|#source:sim$' "$T/statsd.txt")" 4 "count datagrams"
want "$(grep -Ec '^sim.custom.latency:[0-9.]+\|d\|#source:sim$' "$T/statsd.txt")" 4 "distribution datagrams"
# --json-logs: function records are objects with level, message, requestId
jq -c '.[]' "$T/ext_b.tele" > "$T/items"
jall "$T/items" function '(type=="object") and .level=="INFO" and (.requestId|type=="string") and (.message|type=="string" and length>0)' \
    || fail "JSON function records"
rid=$(r '.invocations[3].request_id')
want "$(jq -r --arg r "$rid" 'select(.type=="function" and .record.requestId==$r) | .type' "$T/items" | wc -l)" 3 "log lines per invocation"
jall "$T/items" platform.report '.metrics.memorySizeMB == 256' || fail "memorySizeMB"
# the register answer, INVOKE and SHUTDOWN bodies as documented
jq -e '.functionName=="forkcap-sim-fn" and .functionVersion=="$LATEST" and .accountId=="123456789012" and has("handler")' \
    "$T/ext_a.register.json" > /dev/null || fail "register body"
jq -s -e '(map(select(.eventType=="INVOKE")) | length==4 and all(.[]; (.deadlineMs|type=="number")
    and (.invokedFunctionArn=="arn:aws:lambda:us-east-1:123456789012:function:forkcap-sim-fn")
    and .tracing.type=="X-Amzn-Trace-Id" and (.tracing.value|startswith("Root=1-"))))
    and (map(select(.eventType=="SHUTDOWN")) | length==1 and (.[0].deadlineMs|type=="number") and .[0].shutdownReason=="spindown")' \
    "$T/ext_a.events" > /dev/null || fail "event bodies"
grep -qi '^Lambda-Extension-Identifier: [0-9a-f-]\{36\}' "$T/ext_a.reghdr" || fail "identifier header"
# INVOKE responses carry Lambda-Extension-Event-Identifier; SHUTDOWN's do not
# (as the emulator: no identifier, Go's sniffed text/plain content type)
awk 'BEGIN{RS="--\n"} {print (tolower($0) ~ /lambda-extension-event-identifier: [0-9a-f-]+/) ? "id" : "noid"}' \
    "$T/ext_a.evhdrs" > "$T/idseq"
want "$(tr '\n' ' ' < "$T/idseq")" "id id id id noid " "event identifier headers (4 INVOKE, then SHUTDOWN)"
tr -d '\r' < "$T/ext_a.evhdr" | grep -qi '^content-type: text/plain; charset=utf-8$' || fail "SHUTDOWN content type"
# extension output went to --ext-log with the name prefix
grep -q '^\[ext_a\] ext_a registered$' "$T/ext.log" || fail "ext-log line"
# the human summary (not --quiet)
"$SIM" --port 0 --invokes 1 > "$T/summary.txt" 2>/dev/null || fail "summary run"
grep -q 'init .* ms' "$T/summary.txt" && grep -q 'overhead p50' "$T/summary.txt" || fail "summary"
