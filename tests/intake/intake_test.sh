#!/bin/bash
# intake_test.sh CASE FAKE_INTAKE PAYLOAD_TOOL TESTS_LIB_DIR — end-to-end
# checks of deploy/intake's fake-intake with curl; one CASE per ctest entry.
set -euo pipefail
case_name=$1 INTAKE=$2 PAYLOAD=$3 LIB=$4
# shellcheck source=../lib/common.sh
. "$LIB/common.sh"
# test_tmpdir's EXIT trap would fire in the $(...) subshell and remove the
# folder at once, so this script keeps its own folder and cleanup.
T=$(mktemp -d "${TMPDIR:-/tmp}/forkcap-intake.XXXXXX")
CAP=$T/cap.jsonl
KEY=test-key-123
PID=
cleanup() {
    local p
    for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT

start_intake() {
    rm -f "$T/ports.json"
    "$INTAKE" --port-file "$T/ports.json" --capture "$CAP" --quiet "$@" 2>>"$T/intake.log" &
    PID=$!
    wait_for_file "$T/ports.json" 10 || fail "fake-intake did not start: $(cat "$T/intake.log")"
    H=$(jq -r .http "$T/ports.json")
    S=$(jq -r .https "$T/ports.json")
}

stop_intake() {
    kill -TERM "$PID"
    local rc=0
    wait "$PID" || rc=$?
    [ "$rc" = 0 ] || fail "fake-intake exited $rc on SIGTERM"
    PID=
}

# nth capture line (1-based; -1 = last) as JSON
cap() {
    local n=$1
    if [ "$n" = -1 ]; then tail -n 1 "$CAP"; else sed -n "${n}p" "$CAP"; fi
}
# jq over the last capture line
last() { tail -n 1 "$CAP" | jq -r "$1"; }
ncap() { [ -s "$CAP" ] && wc -l < "$CAP" || echo 0; }

# code URL [curl args...]: prints the HTTP status (000 when no answer)
code() {
    local url=$1; shift
    curl -s -o "$T/resp" -w '%{http_code}' "$@" "$url" || true
}

expect_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }

check_alive() {
    expect_eq "$(code "http://127.0.0.1:$H/api/v1/validate" -H "DD-API-KEY: $KEY")" 200 "server still serving"
}

# raw_http BYTES: sends raw bytes on a new connection, prints the status line
raw_http() {
    local out
    out=$(printf '%b' "$1" | timeout 10 curl -s --max-time 5 telnet://127.0.0.1:"$H" 2>/dev/null | head -n 1 | tr -d '\r') || true
    echo "$out"
}

case_basic() {
    start_intake --http-port 0 --api-key "$KEY"
    local url=http://127.0.0.1:$H
    printf '{"series":[{"metric":"m.one","type":3,"points":[{"timestamp":1700000000,"value":1.5}],"tags":["a:b"]}]}' > "$T/series.raw"
    printf '[{"message":"hello","ddsource":"lambda","status":"info"}]' > "$T/logs.raw"
    "$PAYLOAD" sketch m.dist 1 2 3 > "$T/sketches.raw"
    "$PAYLOAD" trace > "$T/traces.raw"
    "$PAYLOAD" stats > "$T/stats.raw"
    local kind path enc want_status n=0 f
    for kind in series sketches logs traces stats; do
        case $kind in
            series) path=/api/v2/series; want_status=202 ;;
            sketches) path=/api/beta/sketches; want_status=202 ;;
            logs) path=/api/v2/logs; want_status=202 ;;
            traces) path=/api/v0.2/traces; want_status=202 ;;
            stats) path=/api/v0.2/stats; want_status=202 ;;
        esac
        for enc in identity zstd gzip deflate; do
            f=$T/$kind.$enc
            case $enc in
                identity) cp "$T/$kind.raw" "$f" ;;
                zstd) zstd -q -c "$T/$kind.raw" > "$f" ;;
                gzip) gzip -c "$T/$kind.raw" > "$f" ;;
                deflate) "$PAYLOAD" deflate < "$T/$kind.raw" > "$f" ;;
            esac
            expect_eq "$(code "$url$path" -H "DD-API-KEY: $KEY" -H "Content-Encoding: $enc" \
                -H 'Content-Type: application/octet-stream' --data-binary @"$f")" "$want_status" "$kind/$enc status"
            n=$((n + 1))
            expect_eq "$(last .kind)" "$kind" "$kind/$enc kind"
            expect_eq "$(last .encoding)" "$enc" "$kind/$enc encoding"
            expect_eq "$(last .bytes_wire)" "$(stat -c %s "$f")" "$kind/$enc bytes_wire"
            expect_eq "$(last .bytes_body)" "$(stat -c %s "$T/$kind.raw")" "$kind/$enc bytes_body"
            expect_eq "$(last .error)" null "$kind/$enc error"
            expect_eq "$(last .path)" "$path" "$kind/$enc path"
            expect_eq "$(last '.headers["dd-api-key"]')" "$KEY" "key recorded as sent"
            case $kind in
                series) expect_eq "$(last '.body.series[0].metric + " " + (.body.series[0].points[0].value|tostring)')" "m.one 1.5" "series body" ;;
                logs) expect_eq "$(last '.body[0].message')" hello "logs body" ;;
                sketches) expect_eq "$(last '.body.sketches[0] | .metric + " " + (.dogsketches[0].cnt|tostring) + " " + (.tags|join(","))')" "m.dist 3 env:test,k:v" "sketch body" ;;
                traces) expect_eq "$(last '.body.tracerPayloads[0].chunks[0].spans[0] | .traceID + " " + (.spanID|tostring) + " " + .meta["http.method"]')" "18446744073709551615 42 GET" "trace body"
                        expect_eq "$(last '.body.hostName')" host-a "trace hostName" ;;
                stats) expect_eq "$(last '.body.Env + " " + (.body.Stats[0].Hits|tostring) + " " + (.body.Stats[0].Duration|tostring)')" "test 7 2.5" "stats body" ;;
            esac
        done
    done
    [ "$(code "$url/api/v2/series" -H "DD-API-KEY: $KEY" -H 'Content-Encoding: zstd' --data-binary @"$T/series.zstd")" = 202 ] \
        && [ "$(cat "$T/resp")" = '{"errors":[]}' ] || fail "series answer body"
    # key check
    expect_eq "$(code "$url/api/v1/validate" -H "DD-API-KEY: $KEY")" 200 validate
    expect_eq "$(cat "$T/resp")" '{"valid":true}' "validate body"
    expect_eq "$(code "$url/api/v1/validate" -H "DD-API-KEY: wrong")" 403 "validate bad key"
    expect_eq "$(cat "$T/resp")" '{"errors":["Forbidden"]}' "validate 403 body"
    expect_eq "$(code "$url/api/v2/logs" --data-binary @"$T/logs.raw")" 403 "missing key"
    expect_eq "$(code "$url/api/v2/series" -H "DD-API-KEY: other" --data-binary @"$T/series.raw")" 403 "other key"
    expect_eq "$(code "$url/api/v1/nothing" -H "DD-API-KEY: $KEY")" 404 "unknown path"
    expect_eq "$(last .kind)" other "unknown path kind"
    expect_eq "$(code "$url/api/v2/series" -H "DD-API-KEY: $KEY")" 405 "GET on series"
    # query string kept apart from the path
    expect_eq "$(code "$url/api/v2/series?dd_q=1&b=2" -H "DD-API-KEY: $KEY" --data-binary @"$T/series.raw")" 202 "query"
    expect_eq "$(last '.path + " " + .query')" "/api/v2/series dd_q=1&b=2" "query recorded"
    # bodies that do not decode: recorded with error and raw bytes, answered 400
    printf 'not zstd at all' > "$T/bad"
    expect_eq "$(code "$url/api/v2/series" -H "DD-API-KEY: $KEY" -H 'Content-Encoding: zstd' --data-binary @"$T/bad")" 400 "corrupt zstd"
    expect_eq "$(last .raw)" "$(base64 -w0 < "$T/bad")" "raw base64"
    [ "$(last .error)" != null ] || fail "corrupt zstd: no error recorded"
    expect_eq "$(code "$url/api/v2/logs" -H "DD-API-KEY: $KEY" --data-binary '[{"message":')" 400 "bad JSON"
    expect_eq "$(last .body)" null "bad JSON body"
    expect_eq "$(code "$url/api/beta/sketches" -H "DD-API-KEY: $KEY" --data-binary @"$T/series.raw")" 400 "JSON as protobuf"
    expect_eq "$(code "$url/api/v0.2/stats" -H "DD-API-KEY: $KEY" --data-binary $'\xc1')" 400 "bad msgpack"
    expect_eq "$(code "$url/api/v2/logs" -H "DD-API-KEY: $KEY" -H 'Content-Encoding: br' --data-binary @"$T/logs.raw")" 415 "unknown encoding"
    # seq numbers run 1..N in order; stats agree with the capture
    local lines; lines=$(ncap)
    expect_eq "$(jq -s '[.[].seq] == [range(1; length + 1)]' "$CAP")" true "seq order"
    curl -s "$url/_intake/stats" > "$T/stats.json"
    expect_eq "$(jq .requests "$T/stats.json")" "$lines" "stats total"
    expect_eq "$(jq '.paths["/api/v2/series"].requests' "$T/stats.json")" "$(jq -s '[.[] | select(.path == "/api/v2/series")] | length' "$CAP")" "stats per path"
    expect_eq "$(jq '.paths["/api/v1/validate"].by_status["403"]' "$T/stats.json")" 1 "stats by status"
    expect_eq "$(ncap)" "$lines" "control requests are not captured"
    stop_intake
    # the capture survives SIGTERM whole: every line is JSON
    jq -e . "$CAP" > /dev/null || fail "capture not valid JSON lines"
}

case_tls() {
    "$LIB/make-ca.sh" "$T/pki" > /dev/null
    "$LIB/make-ca.sh" "$T/other" > /dev/null
    start_intake --http-port 0 --https-port 0 --cert "$T/pki/server.pem" --key "$T/pki/server.key"
    local surl=https://localhost:$S
    expect_eq "$(code "$surl/api/v1/validate" -H "DD-API-KEY: $KEY" --cacert "$T/pki/ca.pem" --http1.1)" 200 "TLS HTTP/1.1"
    expect_eq "$(last '[.tls, .tls_version, .alpn, .proto] | map(tostring) | join(" ")')" "true TLSv1.3 http/1.1 HTTP/1.1" "h1 capture"
    expect_eq "$(code "$surl/api/v1/validate" -H "DD-API-KEY: $KEY" --cacert "$T/pki/ca.pem" --http2)" 200 "TLS HTTP/2"
    expect_eq "$(last '[.alpn, .proto] | join(" ")')" "h2 HTTP/2" "h2 capture"
    expect_eq "$(last .headers.host)" "localhost:$S" "h2 :authority recorded as host"
    # names in the certificate
    expect_eq "$(code "https://127.0.0.1:$S/api/v1/validate" -H "DD-API-KEY: $KEY" --cacert "$T/pki/ca.pem")" 200 "SAN 127.0.0.1"
    expect_eq "$(code "https://intake.forkcap.test:$S/api/v1/validate" -H "DD-API-KEY: $KEY" --cacert "$T/pki/ca.pem" \
        --resolve "intake.forkcap.test:$S:127.0.0.1")" 200 "SAN intake.forkcap.test"
    # TLS 1.2 still offered
    expect_eq "$(code "$surl/api/v1/validate" -H "DD-API-KEY: $KEY" --cacert "$T/pki/ca.pem" --tls-max 1.2)" 200 "TLS 1.2"
    expect_eq "$(last .tls_version)" TLSv1.2 "TLS 1.2 version"
    # a client that does not trust the test CA fails (60: peer certificate)
    local n; n=$(ncap) rc=0
    curl -s -o /dev/null -H "DD-API-KEY: $KEY" "$surl/api/v1/validate" --capath /nonexistent --cacert "$T/other/ca.pem" || rc=$?
    expect_eq "$rc" 60 "untrusted CA"
    rc=0; curl -s -o /dev/null "$surl/api/v1/validate" --cacert /dev/null 2>/dev/null || rc=$?
    [ "$rc" != 0 ] || fail "empty trust store succeeded"
    expect_eq "$(ncap)" "$n" "failed handshakes record nothing"
    # zstd sketch over h2
    "$PAYLOAD" sketch h2.dist 5 > "$T/sk"; zstd -q -c "$T/sk" > "$T/sk.zst"
    expect_eq "$(code "$surl/api/beta/sketches" -H "DD-API-KEY: $KEY" -H 'Content-Encoding: zstd' \
        -H 'Content-Type: application/x-protobuf' --cacert "$T/pki/ca.pem" --http2 --data-binary @"$T/sk.zst")" 202 "h2 sketch"
    expect_eq "$(last '.proto + " " + .body.sketches[0].metric')" "HTTP/2 h2.dist" "h2 sketch capture"
    # two transfers, the server closing after each: the second resumes the TLS session
    curl -s -o /dev/null -o /dev/null --http1.1 -H 'Connection: close' -H "DD-API-KEY: $KEY" --cacert "$T/pki/ca.pem" \
        "$surl/api/v1/validate" "$surl/api/v1/validate"
    expect_eq "$(jq -s -r '.[-2:] | map(.tls_resumed|tostring) | join(" ")' "$CAP")" "false true" "session resumption"
    expect_eq "$(jq -s -r '.[-2].conn != .[-1].conn' "$CAP")" true "Connection: close gives a new connection"
    # h2c with prior knowledge on the plain port
    expect_eq "$(code "http://127.0.0.1:$H/api/v1/validate" -H "DD-API-KEY: $KEY" --http2-prior-knowledge)" 200 "h2c"
    expect_eq "$(last '[.tls, .alpn, .proto] | map(tostring) | join(" ")')" "false null HTTP/2" "h2c capture"
    # many streams on one h2 connection share conn, count conn_req
    local urls=() i
    for i in 1 2 3 4; do urls+=("$surl/api/v1/validate"); done
    curl -s -o /dev/null -o /dev/null -o /dev/null -o /dev/null --http2 -H "DD-API-KEY: $KEY" --cacert "$T/pki/ca.pem" "${urls[@]}"
    expect_eq "$(jq -s -r '.[-4:] | [(map(.conn) | unique | length), (map(.conn_req) | sort | map(tostring) | join(","))] | map(tostring) | join(" ")' "$CAP")" "1 1,2,3,4" "h2 streams on one connection"
    stop_intake
}

case_sketch() {
    start_intake --http-port 0
    local url=http://127.0.0.1:$H/api/beta/sketches
    # documented keys: key(0.5)=1293, key(1)=1338, key(2)=1383, key(10)=1487
    "$PAYLOAD" sketch keys.check 10 2 1 0.5 | zstd -q -c > "$T/k.zst"
    expect_eq "$(code "$url" -H "DD-API-KEY: $KEY" -H 'Content-Encoding: zstd' --data-binary @"$T/k.zst")" 202 "sketch post"
    expect_eq "$(last '.body.sketches[0].dogsketches[0].k | map(tostring) | join(",")')" "1293,1338,1383,1487" "bin keys"
    expect_eq "$(last '.body.sketches[0].dogsketches[0] | [.cnt, .min, .max, .sum] | map(tostring) | join(" ")')" "4 0.5 10 13.5" "summary"
    # a spread of values: each quantile within the sketch's accuracy of the
    # agent's rank (round-half-even of q*(n-1)) over the sorted values
    local vals=() i
    for i in $(seq 1 300); do vals+=("$(awk -v i="$i" 'BEGIN{printf "%.6g", 0.05 * i * i}')"); done
    "$PAYLOAD" sketch spread "${vals[@]}" | gzip -c > "$T/s.gz"
    expect_eq "$(code "$url" -H "DD-API-KEY: $KEY" -H 'Content-Encoding: gzip' --data-binary @"$T/s.gz")" 202 "spread post"
    printf '%s\n' "${vals[@]}" | sort -g > "$T/sorted"
    local q want got
    for q in 0.5 0.9 0.99; do
        want=$(awk -v q="$q" '{v[NR-1]=$1} END{r=q*(NR-1); f=int(r); d=r-f; if (d>0.5 || (d==0.5 && f%2==1)) f++; print v[f]}' "$T/sorted")
        got=$(last ".body.sketches[0].dogsketches[0].q[\"$q\"]")
        awk -v w="$want" -v g="$got" 'BEGIN{e=(g-w)/w; if (e<0) e=-e; exit !(e <= 1/64)}' \
            || fail "quantile $q: got $got, want $want within 1/64"
    done
    expect_eq "$(last '.body.sketches[0].dogsketches[0] | (.n | add) == .cnt')" true "bin counts add up to cnt"
    # p50 must move when the data moves (guards against a constant answer)
    "$PAYLOAD" sketch shifted $(printf '%s\n' "${vals[@]}" | awk '{print $1 * 10}') | zstd -q -c > "$T/x.zst"
    code "$url" -H "DD-API-KEY: $KEY" -H 'Content-Encoding: zstd' --data-binary @"$T/x.zst" > /dev/null
    expect_eq "$(jq -s '(.[-1].body.sketches[0].dogsketches[0].q["0.5"] / .[-2].body.sketches[0].dogsketches[0].q["0.5"] - 10) | fabs < 0.2' "$CAP")" true "p50 scales with data"
    stop_intake
}

case_fail() {
    start_intake --http-port 0 --fail "path=/api/v2/series,status=500,count=2" --fail "path=/api/v2/logs,reset=1,count=1"
    local url=http://127.0.0.1:$H
    local s1 s2 s3
    s1=$(code "$url/api/v2/series" -H "DD-API-KEY: $KEY" -d '{"series":[]}')
    s2=$(code "$url/api/v2/series" -H "DD-API-KEY: $KEY" -d '{"series":[]}')
    s3=$(code "$url/api/v2/series" -H "DD-API-KEY: $KEY" -d '{"series":[]}')
    expect_eq "$s1 $s2 $s3" "500 500 202" "status injection for 2 requests"
    expect_eq "$(jq -s -r 'map(.injected|tostring) | join(" ")' "$CAP")" "status status null" "injected field"
    expect_eq "$(jq -s -r '.[0].body.series | length' "$CAP")" 0 "body still recorded on an injected failure"
    # reset: curl sees no answer (52 empty reply / 56 recv failure)
    local rc=0
    curl -s -o /dev/null -H "DD-API-KEY: $KEY" -d '[]' "$url/api/v2/logs" || rc=$?
    case $rc in 52|56) ;; *) fail "reset: curl exit $rc, want 52 or 56" ;; esac
    expect_eq "$(last '[.injected, (.status|tostring)] | join(" ")')" "reset null" "reset capture"
    expect_eq "$(code "$url/api/v2/logs" -H "DD-API-KEY: $KEY" -d '[]')" 202 "reset only once"
    # run-time rules through the control endpoint
    expect_eq "$(code "$url/_intake/fail" -d '{"path":"/api/v2/series","status":503,"count":1}')" 200 "control add"
    expect_eq "$(code "$url/api/v2/series" -H "DD-API-KEY: $KEY" -d '{}')" 503 "control status"
    expect_eq "$(code "$url/api/v2/series" -H "DD-API-KEY: $KEY" -d '{}')" 202 "control status count"
    expect_eq "$(code "$url/_intake/fail" -d '{"path":"/api/v2/series","reset":true,"count":1}')" 200 "control reset"
    rc=0; curl -s -o /dev/null -H "DD-API-KEY: $KEY" -d '{}' "$url/api/v2/series" || rc=$?
    case $rc in 52|56) ;; *) fail "control reset: curl exit $rc" ;; esac
    expect_eq "$(code "$url/_intake/fail" -d '{"path":"*","status":429}')" 200 "control always"
    expect_eq "$(code "$url/api/v2/logs" -H "DD-API-KEY: $KEY" -d '[]') $(code "$url/api/v1/validate" -H "DD-API-KEY: $KEY")" "429 429" "* applies to every path, always"
    expect_eq "$(code "$url/_intake/fail" -d '{"clear":true}')" 200 "control clear"
    expect_eq "$(code "$url/api/v2/logs" -H "DD-API-KEY: $KEY" -d '[]')" 202 "cleared"
    expect_eq "$(code "$url/_intake/fail" -d '{"path":"*"}')" 400 "rule without effect"
    expect_eq "$(code "$url/_intake/fail" -d 'nope')" 400 "control bad JSON"
    expect_eq "$(code "$url/_intake/fail" -d '{"path":"*","status":99}')" 400 "control bad status"
    # delay: the answer waits at least delay_ms; a request answered meanwhile
    # on another connection is captured first (lines are in answer order)
    expect_eq "$(code "$url/_intake/fail" -d '{"path":"/api/v2/logs","delay_ms":2000,"count":1}')" 200 "control delay"
    curl -s -o "$T/slow" -w '%{http_code} %{time_total}' -H "DD-API-KEY: $KEY" -d '[{"message":"slow"}]' "$url/api/v2/logs" > "$T/slow.out" &
    local slow=$!
    sleep 0.3
    expect_eq "$(code "$url/api/v2/series" -H "DD-API-KEY: $KEY" -d '{"series":[]}')" 202 "fast request during a delay"
    wait "$slow"
    local st tt
    read -r st tt < "$T/slow.out" || true
    expect_eq "$st" 202 "delayed status"
    awk -v t="$tt" 'BEGIN{exit !(t >= 2.0)}' || fail "delayed answer came after ${tt}s, before 2 s"
    expect_eq "$(jq -s -r '.[-2:] | map(.path + ":" + (.injected|tostring)) | join(" ")' "$CAP")" \
        "/api/v2/series:null /api/v2/logs:delay" "answer order"
    expect_eq "$(jq '.paths["/api/v2/series"].injected' <(curl -s "$url/_intake/stats"))" 4 "stats count injections"
    # the same over HTTP/2 (h2c): status, delay, reset
    expect_eq "$(code "$url/_intake/fail" -d '{"path":"/api/v2/logs","status":500,"count":1}')" 200 "h2 status rule"
    expect_eq "$(code "$url/api/v2/logs" --http2-prior-knowledge -H "DD-API-KEY: $KEY" -d '[]')" 500 "h2 injected status"
    expect_eq "$(code "$url/_intake/fail" -d '{"path":"/api/v2/logs","delay_ms":300,"count":1}')" 200 "h2 delay rule"
    expect_eq "$(code "$url/api/v2/logs" --http2-prior-knowledge -H "DD-API-KEY: $KEY" -d '[]')" 202 "h2 delayed"
    expect_eq "$(last '.proto + " " + .injected')" "HTTP/2 delay" "h2 delay capture"
    expect_eq "$(code "$url/_intake/fail" -d '{"path":"/api/v2/logs","reset":1,"count":1}')" 200 "h2 reset rule"
    rc=0; curl -s -o /dev/null --http2-prior-knowledge -H "DD-API-KEY: $KEY" -d '[]' "$url/api/v2/logs" || rc=$?
    [ "$rc" != 0 ] || fail "h2 reset: curl succeeded"
    expect_eq "$(last '.proto + " " + .injected + " " + (.status|tostring)')" "HTTP/2 reset null" "h2 reset capture"
    check_alive
    # bad --fail specs are refused at start
    local bad
    for bad in "path=/x" "status=500" "path=/x,status=abc" "path=/x,status=500,count=0" "path=/x,bogus=1"; do
        rc=0; "$INTAKE" --http-port 0 --fail "$bad" 2>/dev/null || rc=$?
        expect_eq "$rc" 2 "--fail '$bad' refused"
    done
    stop_intake
}

case_idle() {
    start_intake --http-port 0 --idle-close-ms 500
    local url=http://127.0.0.1:$H/api/v1/validate
    # back to back: the connection is reused
    curl -s -o /dev/null -o /dev/null -w '%{num_connects}\n' -H "DD-API-KEY: $KEY" "$url" "$url" > "$T/nc1"
    expect_eq "$(tr '\n' ' ' < "$T/nc1")" "1 0 " "back-to-back reuse"
    expect_eq "$(jq -s -r '.[-2:] | (.[0].conn == .[1].conn)' "$CAP")" true "same conn back to back"
    # 1.5 s apart (curl --rate): the server has closed the idle connection, curl needs a new one
    curl -s -o /dev/null -o /dev/null -w '%{num_connects}\n' --rate 40/m -H "DD-API-KEY: $KEY" "$url" "$url" > "$T/nc2"
    expect_eq "$(tr '\n' ' ' < "$T/nc2")" "1 1 " "idle connection closed"
    expect_eq "$(jq -s -r '.[-2:] | (.[0].conn != .[1].conn)' "$CAP")" true "conn differs after idle close"
    stop_intake
    # control: without --idle-close-ms the same pacing keeps one connection
    start_intake --http-port 0
    url=http://127.0.0.1:$H/api/v1/validate
    curl -s -o /dev/null -o /dev/null -w '%{num_connects}\n' --rate 40/m -H "DD-API-KEY: $KEY" "$url" "$url" > "$T/nc3"
    expect_eq "$(tr '\n' ' ' < "$T/nc3")" "1 0 " "no idle close by default"
    stop_intake
    # HTTP/2 over TLS goes stale the same way
    "$LIB/make-ca.sh" "$T/pki" > /dev/null
    start_intake --https-port 0 --cert "$T/pki/server.pem" --key "$T/pki/server.key" --idle-close-ms 500
    url=https://localhost:$S/api/v1/validate
    curl -s -o /dev/null -o /dev/null -w '%{num_connects}\n' --http2 --rate 40/m --cacert "$T/pki/ca.pem" \
        -H "DD-API-KEY: $KEY" "$url" "$url" > "$T/nc4"
    expect_eq "$(tr '\n' ' ' < "$T/nc4")" "1 1 " "h2 idle connection closed"
    expect_eq "$(jq -s -r '.[-2:] | (.[0].conn != .[1].conn) and (.[1].proto == "HTTP/2")' "$CAP")" true "h2 conn differs"
    stop_intake
}

case_signal() {
    # SIGTERM right after the port file appears: still a clean exit 0
    local i
    for i in 1 2 3; do
        start_intake --http-port 0
        stop_intake
    done
    # a request still waiting on an injected delay is captured on the way out
    start_intake --http-port 0 --fail "path=*,delay_ms=30000"
    curl -s -o /dev/null -H "DD-API-KEY: $KEY" "http://127.0.0.1:$H/api/v1/validate" &
    local c=$!
    for i in $(seq 1 100); do
        [ "$(curl -s "http://127.0.0.1:$H/_intake/stats" | jq .connections)" -ge 2 ] && break
        sleep 0.05
    done
    sleep 0.2
    stop_intake
    wait "$c" || true
    expect_eq "$(last '[(.status|tostring), .injected, .error] | join(" ")')" "null delay connection closed before the answer" "pending request captured at exit"
}

case_keepalive() {
    start_intake --http-port 0
    local url=http://127.0.0.1:$H/api/v1/validate
    curl -s -o /dev/null -o /dev/null -H "DD-API-KEY: $KEY" "$url" "$url"
    curl -s -o /dev/null -H "DD-API-KEY: $KEY" "$url"
    expect_eq "$(jq -s -r 'map("\(.conn):\(.conn_req)") | join(" ")' "$CAP")" "1:1 1:2 2:1" "keep-alive shares conn"
    # HTTP/1.0 and Connection: close end the connection after the answer
    curl -s -o /dev/null -o /dev/null -0 -H "DD-API-KEY: $KEY" "$url" "$url"
    expect_eq "$(jq -s -r '.[-2:] | (.[0].conn != .[1].conn)' "$CAP")" true "HTTP/1.0 closes"
    curl -s -o /dev/null -o /dev/null -0 -H 'Connection: keep-alive' -H "DD-API-KEY: $KEY" "$url" "$url"
    expect_eq "$(jq -s -r '.[-2:] | (.[0].conn == .[1].conn)' "$CAP")" true "HTTP/1.0 keep-alive kept"
    curl -s -o /dev/null -o /dev/null -H 'Connection: close' -H "DD-API-KEY: $KEY" "$url" "$url"
    expect_eq "$(jq -s -r '.[-2:] | (.[0].conn != .[1].conn)' "$CAP")" true "Connection: close closes"
    # pipelined requests in one write are answered in order on one connection
    local req="GET /api/v1/validate HTTP/1.1\r\nHost: x\r\nDD-API-KEY: $KEY\r\n\r\n"
    local out
    out=$(printf '%b%b' "$req" "${req/validate/nothing}" | timeout 10 curl -s --max-time 2 telnet://127.0.0.1:"$H" | grep -ao 'HTTP/1\.1 [0-9][0-9][0-9]' | tr '\n' '|') || true
    expect_eq "$out" "HTTP/1.1 200|HTTP/1.1 404|" "pipelined answers"
    expect_eq "$(jq -s -r '.[-2:] | map("\(.conn_req)") | join(" ")' "$CAP")" "1 2" "pipelined conn_req"
    expect_eq "$(jq -s -r '.[-2:] | (.[0].conn == .[1].conn)' "$CAP")" true "pipelined conn"
    stop_intake
}

case_malformed() {
    start_intake --http-port 0
    local big; big=$(head -c 70000 /dev/zero | tr '\0' a)
    local -a cases=(
        "400|GARBAGE\r\n\r\n"
        "400|GET /api/v1/validate HTTP/1.1\nHost: x\n\n"
        "505|GET /api/v1/validate HTTP/2.0\r\nHost: x\r\n\r\n"
        "400|GET /api/v1/validate HTTP/1.1\r\n\r\n"
        "400|GET api/v1/validate HTTP/1.1\r\nHost: x\r\n\r\n"
        "400|GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"
        "400|GET /api/v1/validate HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n"
        "400|GET /api/v1/validate HTTP/1.1\r\nHost: x\r\nA: b\r\n  folded\r\n\r\n"
        "400|POST /api/v2/logs HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        "400|POST /api/v2/logs HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
        "400|POST /api/v2/logs HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"
        "413|POST /api/v2/logs HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n"
        "501|POST /api/v2/logs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
        "400|POST /api/v2/logs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
        "400|POST /api/v2/logs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n"
        "417|POST /api/v2/logs HTTP/1.1\r\nHost: x\r\nExpect: magic\r\nContent-Length: 2\r\n\r\n"
        "431|GET /api/v1/validate HTTP/1.1\r\nHost: x\r\nX-Big: $big\r\n\r\n"
    )
    local c want bytes got i
    for c in "${cases[@]}"; do
        want=${c%%|*} bytes=${c#*|}
        got=$(raw_http "$bytes")
        [[ $got == "HTTP/1.1 $want "* ]] || fail "malformed '${bytes:0:60}': got '$got', want $want"
        check_alive
    done
    expect_eq "$(jq -s -r 'map(select(.status == 413)) | .[0].error' "$CAP")" "body larger than 16 MiB" "413 captured"
    # bytes that are not UTF-8 in the path (not 0xff: curl telnet doubles it) are captured as valid JSON
    got=$(raw_http "GET /api/\xc0\xfe?q=\xc3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nDD-API-KEY: $KEY\r\n\r\n")
    expect_eq "$got" "HTTP/1.1 404 Not Found" "non-UTF-8 path"
    expect_eq "$(last '.path + " " + .query')" "/api/?? q=?" "non-UTF-8 path captured"
    expect_eq "$(curl -s "http://127.0.0.1:$H/_intake/stats" | jq '.paths["/api/??"].requests')" 1 "non-UTF-8 path in stats"
    # chunked upload, trailers included, decodes like any body
    local url=http://127.0.0.1:$H/api/v2/logs
    got=$(raw_http "POST /api/v2/logs HTTP/1.1\r\nHost: x\r\nConnection: close\r\nDD-API-KEY: $KEY\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n[{\"m\r\n8\r\n\":\"chunk\r\n3\r\n\"}]\r\n0\r\nX-T: 1\r\n\r\n")
    expect_eq "$got" "HTTP/1.1 202 Accepted" "chunked request"
    expect_eq "$(last '.body[0].m + " " + (.bytes_wire|tostring)')" "chunk 15" "chunked body"
    # large bodies: curl waits for 100 Continue; over 16 MiB is 413
    { printf '[{"message":"'; head -c 15000000 /dev/zero | tr '\0' a; printf '"}]'; } > "$T/big.json"
    expect_eq "$(code "$url" -H "DD-API-KEY: $KEY" -H 'Expect: 100-continue' --data-binary @"$T/big.json")" 202 "15 MB body"
    expect_eq "$(last '(.body[0].message | length)')" 15000000 "15 MB body decoded"
    expect_eq "$(last '.headers.expect')" 100-continue "expect recorded"
    head -c 17000000 /dev/zero > "$T/huge"
    expect_eq "$(code "$url" -H "DD-API-KEY: $KEY" --data-binary @"$T/huge")" 413 "17 MB body"
    check_alive
    # a small zstd body that expands past 64 MiB
    head -c 70000000 /dev/zero | zstd -q -c > "$T/bomb.zst"
    expect_eq "$(code "$url" -H "DD-API-KEY: $KEY" -H 'Content-Encoding: zstd' --data-binary @"$T/bomb.zst")" 413 "zstd bomb"
    head -c 70000000 /dev/zero | gzip -1 -c > "$T/bomb.gz"
    expect_eq "$(code "$url" -H "DD-API-KEY: $KEY" -H 'Content-Encoding: gzip' --data-binary @"$T/bomb.gz")" 413 "gzip bomb"
    # random bytes on the plain and the h2c path
    for i in 1 2 3 4 5; do
        head -c 4096 /dev/urandom > "$T/noise"
        timeout 5 curl -s --max-time 2 telnet://127.0.0.1:"$H" < "$T/noise" > /dev/null || true
        { printf 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'; cat "$T/noise"; } > "$T/h2noise"
        timeout 5 curl -s --max-time 2 telnet://127.0.0.1:"$H" < "$T/h2noise" > /dev/null || true
    done
    check_alive
    stop_intake
}

case_proxy() {
    command -v tinyproxy > /dev/null || { echo "SKIP: no tinyproxy"; exit 77; }
    "$LIB/make-ca.sh" "$T/pki" > /dev/null
    start_intake --http-port 0 --https-port 0 --cert "$T/pki/server.pem" --key "$T/pki/server.key"
    cat > "$T/tinyproxy.conf" <<CONF
Listen 127.0.0.1
Timeout 30
LogLevel Error
MaxClients 10
CONF
    if [ "$(id -u)" = 0 ]; then printf 'User nobody\nGroup nogroup\n' >> "$T/tinyproxy.conf"; fi
    tinyproxy_start "$T/tinyproxy.conf" || { echo "FAIL: tinyproxy did not start"; exit 1; }
    local tp=$TINYPROXY_PID pport=$TINYPROXY_PORT
    expect_eq "$(code "https://localhost:$S/api/v1/validate" -x "http://127.0.0.1:$pport" -H "DD-API-KEY: $KEY" --cacert "$T/pki/ca.pem" --http1.1)" 200 "TLS through CONNECT"
    expect_eq "$(last '[.tls, .proto, .peer | tostring] | join(" ") | test("^true HTTP/1.1 127.0.0.1:[0-9]+$")')" true "capture through CONNECT"
    expect_eq "$(code "https://localhost:$S/api/beta/sketches" -x "http://127.0.0.1:$pport" -H "DD-API-KEY: $KEY" \
        --cacert "$T/pki/ca.pem" --http2 --data-binary @<("$PAYLOAD" sketch p.dist 3))" 202 "h2 through CONNECT"
    expect_eq "$(last '.alpn + " " + .body.sketches[0].metric')" "h2 p.dist" "h2 capture through CONNECT"
    expect_eq "$(code "http://127.0.0.1:$H/api/v2/series" -x "http://127.0.0.1:$pport" -H "DD-API-KEY: $KEY" -d '{"series":[]}')" 202 "plain through the proxy"
    expect_eq "$(last .path)" /api/v2/series "proxied path"
    kill "$tp" 2>/dev/null || true
    wait "$tp" 2>/dev/null || true
    stop_intake
}

# --raw-log-bodies (the throughput bench): a logs body that is a one-line
# JSON array is answered 202 unparsed and captured byte for byte; anything
# else, and every other kind, is handled as without the flag
case_raw() {
    start_intake --http-port 0 --raw-log-bodies
    local url=http://127.0.0.1:$H/api/v2/logs body='[{"message":"a \u00e9 b","x":[1, 2]} ,{"m":"c"}]'
    expect_eq "$(code "$url" -H "DD-API-KEY: $KEY" -H 'Content-Type: application/json' --data-binary "$body")" 202 "raw logs"
    expect_eq "$(last '.body | tojson')" '[{"message":"a é b","x":[1,2]},{"m":"c"}]' "raw body captured"
    expect_eq "$(tail -n 1 "$CAP" | grep -c -F ',"body":[{"message":"a \u00e9 b","x":[1, 2]} ,{"m":"c"}]}')" 1 "body bytes verbatim"
    expect_eq "$(last '.bytes_body')" "${#body}" "raw body size"
    # zstd-encoded: decoded first, then taken as it is
    printf '%s' "$body" | zstd -q -c > "$T/b.zst"
    expect_eq "$(code "$url" -H "DD-API-KEY: $KEY" -H 'Content-Encoding: zstd' --data-binary @"$T/b.zst")" 202 "raw zstd logs"
    expect_eq "$(last '.body[1].m')" c "raw zstd body"
    # not an array on one line: parsed as usual (and refused when not JSON)
    expect_eq "$(code "$url" -H "DD-API-KEY: $KEY" --data-binary $'[1,\n2]')" 202 "two-line array parsed"
    expect_eq "$(last '.body | tojson')" '[1,2]' "two-line array captured parsed"
    expect_eq "$(code "$url" -H "DD-API-KEY: $KEY" --data-binary '{"a":1')" 400 "broken JSON still refused"
    # other kinds are parsed as ever
    expect_eq "$(code "http://127.0.0.1:$H/api/v2/series" -H "DD-API-KEY: $KEY" --data-binary '[1,}]')" 400 "series not raw"
    # and the key is still checked first
    expect_eq "$(code "$url" --data-binary '[1]')" 403 "raw logs without a key"
    # every capture line is valid JSON
    jq -e . "$CAP" >/dev/null || fail "capture holds a line that is not JSON"
    stop_intake
}

"case_$case_name"
echo "PASS: intake_$case_name"
