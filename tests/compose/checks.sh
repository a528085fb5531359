# shellcheck shell=bash disable=SC2016 # jq programs in single quotes take their $vars via --arg
# tests/compose/checks.sh — what one run of deploy/compose/docker-compose.yml
# must show, whoever ran it: twin.sh (the services as local processes) and
# containers.sh (the services in podman containers). Sourced; the caller
# provides q (jq on the resolved compose config, `docker-compose config` as
# JSON), fail (tests/lib/common.sh), RUN_TARGET (the lambda service) and T.
#
# compose_checks NAME INVOKES REPORT CAPTURE LAMBDA_LOG PROXY_LOG: the
# simulator's report shows INVOKES successful invocations with forkcap and
# no crash, forkcap logged no ERROR; every request at the intake was answered
# 2xx over TLS for intake.forkcap.test; by the end of SHUTDOWN forkcap
# shipped each function log line once, a REPORT line per invocation,
# aws.lambda.enhanced.invocations = INVOKES and the shutdowns metric, tagged
# with the service's DD_SERVICE/DD_ENV, and some DogStatsD counts; every TLS
# connection the intake accepted is a tunnel the proxy logged. Prints one
# summary line starting with NAME. A lifecycle killed while it waits in
# /next loses the INVOKE the platform hands that dead connection; forkcap
# counts that invocation from its platform.start record (README
# "Invocations, exactly once"), so a run with kills asks for INVOKES too.
compose_checks() {
    local name=$1 invokes=$2 report=$3 capture=$4 lam=$5 proxy_log=$6
    local ext_path
    ext_path=$(q --arg s "$RUN_TARGET" '.services[$s].command as $c
        | [range(0; $c|length) | select($c[.] == "--extension") | $c[. + 1]] | .[0] // empty')

    [ -s "$report" ] || fail "no simulator report at $report"
    jq -e '.init_error == null' "$report" >/dev/null || fail "init failed: $(jq -c .init_error "$report"); $(tail -5 "$lam")"
    [ "$(jq '.crashes | length' "$report")" = 0 ] || fail "crashes: $(jq -c .crashes "$report")"
    [ "$(jq '[.extensions[] | select(.crashed)] | length' "$report")" = 0 ] || fail "forkcap crashed: $(tail -5 "$lam")"
    [ "$(jq -r '.extensions[0].name' "$report")" = "$(basename "$ext_path")" ] || fail "extension not registered"
    [ "$(jq '[.invocations[] | select(.status == "success")] | length' "$report")" = "$invokes" ] ||
        fail "expected $invokes successful invocations: $(jq -c '[.invocations[].status]' "$report")"
    ! grep -E '^\[forkcap(:err)?\] .*(ERROR|FATAL) \|' "$lam" ||
        fail "forkcap logged errors (above)"
    grep -q '^\[forkcap:err\] .*flusher | intake: TLS client ready' "$lam" ||
        fail "forkcap's flusher did not build its intake client: $(grep -i flusher "$lam" | head -3)"

    touch "$capture"
    local fk_reqs fk_ok
    fk_reqs=$(jq -s length "$capture")
    fk_ok=$(jq -s '[.[] | select(.tls and (.status // 0) >= 200 and (.status // 0) < 300
        and ((.headers.host // .headers[":authority"] // "") | test("^intake\\.forkcap\\.test(:443)?$")))] | length' "$capture")
    [ "$fk_ok" = "$fk_reqs" ] || fail "forkcap's requests not all answered 2xx over TLS for intake.forkcap.test: $(head -c 600 "$capture")"

    # what forkcap must have shipped by the end of SHUTDOWN (its final flush):
    # every function log line once, a REPORT per invocation, the enhanced
    # invocations count and the shutdown metric, tagged from the service's DD_*
    local logs=$T/logs.jsonl msg='(.message | if type == "object" then .message else . end)'
    local fn_lines fn_unique want rid service env_tag inv custom tunnels conns
    jq -c 'select(.kind == "logs" and (.status // 0) == 202) | .body[]' "$capture" > "$logs"
    fn_lines=$(jq -s '[.[] | '"$msg"' | select(test(" line [0-9]+ "))] | length' "$logs")
    fn_unique=$(jq -s '[.[] | '"$msg"' | select(test(" line [0-9]+ "))] | unique | length' "$logs")
    want=$(jq .function_log_lines "$report")
    { [ "$fn_lines" = "$want" ] && [ "$fn_unique" = "$want" ]; } ||
        fail "function log lines at the intake: $fn_lines ($fn_unique distinct), the function wrote $want"
    # the invocations without exactly one REPORT line (one jq for all)
    rid=$(jq -rs --slurpfile rep "$report" '[.[] | '"$msg"' | strings
        | capture("^REPORT RequestId: (?<r>[^ \t]+)[ \t]").r] as $seen
        | [$rep[0].invocations[].request_id | . as $r
           | select([$seen[] | select(. == $r)] | length != 1)] | join(" ")' "$logs")
    [ -z "$rid" ] || fail "no single REPORT line at the intake for: $rid"
    service=$(q --arg s "$RUN_TARGET" '.services[$s].environment.DD_SERVICE // empty')
    env_tag=$(q --arg s "$RUN_TARGET" '.services[$s].environment.DD_ENV // empty')
    [ -z "$service" ] || [ "$(jq -s --arg v "$service" '[.[] | select(.service != $v)] | length' "$logs")" = 0 ] ||
        fail "log entries without service $service (DD_SERVICE)"
    [ -z "$env_tag" ] || [ "$(jq -s --arg v "env:$env_tag" '[.[] | select((.ddtags // "") | split(",") | index($v) | not)] | length' "$logs")" = 0 ] ||
        fail "log entries without the env:$env_tag tag (DD_ENV)"
    # enhanced metrics are distributions: count the sketches' points
    inv=$(_compose_sketch_cnt "$capture" aws.lambda.enhanced.invocations)
    [ "$inv" = "$invokes" ] ||
        fail "aws.lambda.enhanced.invocations totals $inv at the intake, $invokes invocations ran"
    [ "$(_compose_sketch_cnt "$capture" aws.lambda.enhanced.shutdowns)" = 1 ] ||
        fail "no aws.lambda.enhanced.shutdowns: the final flush did not arrive"
    # DogStatsD is UDP: only "some arrived", never more than were sent
    custom=$(jq -s '[.[] | select(.kind == "series" and (.status // 0) == 202) | .body.series[]
        | select(.metric == "sim.custom.count") | .points[].value] | add // 0' "$capture")
    [ "$(jq -n --argjson c "$custom" --argjson s "$(jq .statsd_sent "$report")" '$c >= 1 and $c <= $s')" = true ] ||
        fail "sim.custom.count totals $custom at the intake"

    # every TLS connection the intake accepted is a tunnel the proxy opened
    tunnels=$(grep -cE 'Request \(file descriptor [0-9]+\): CONNECT intake\.forkcap\.test:443 ' "$proxy_log" || true)
    conns=$(jq -s '[.[] | select(.tls) | .conn] | unique | length' "$capture")
    [ "$conns" -ge 1 ] || fail "the intake saw no TLS connection"
    [ "$tunnels" -ge "$conns" ] ||
        fail "$conns TLS connections at the intake but $tunnels CONNECT tunnels in the proxy log: $(grep CONNECT "$proxy_log" | head -3)"
    [ "$(jq -s '[.[] | select(.tls | not)] | length' "$capture")" = 0 ] || fail "plain HTTP reached the intake"

    echo "$name: $invokes invocations ok; forkcap shipped $fk_reqs requests ($(jq -s -c 'map(.kind) | group_by(.) | map({(.[0]): length}) | add // {}' "$capture")), $fn_lines function log lines, $inv invocations counted; $conns TLS connections at the intake, $tunnels CONNECT tunnels at the proxy; shutdown $(jq .shutdown_ms "$report") ms"
}
_compose_sketch_cnt() {
    jq -s --arg m "$2" '[.[] | select(.kind == "sketches" and (.status // 0) == 202) | .body.sketches[]
        | select(.metric == $m) | .dogsketches[].cnt] | add // 0' "$1"
}
