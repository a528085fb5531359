#!/bin/bash
# run_sim.sh SIM FAKE_INTAKE MAKE_CA ZIP ARCH NAME PROBE [DEV_FORKCAP] — the layer's binary
# as Lambda runs it: unzipped to an /opt-like DIR/extensions/NAME, started by
# lambda-sim for 5 invocations (arm64 under qemu-aarch64-static), pointed at
# a fake intake over HTTPS at https://intake.forkcap.test:PORT, in a private
# mount namespace where that name resolves only through /etc/hosts (musl
# reads it directly, no NSS) and the test CA is only at Amazon Linux's path.
# PROBE is intake-post built by the same static toolchain: the flusher's
# transport code (CA search order, libcurl, OpenSSL, resolver) must post to
# that name with the CA found at the Amazon Linux path, fail verification
# (curl 60) when the bundle there lacks the CA, and refuse to start without
# any bundle. With DEV_FORKCAP (the development build, same arch), the same
# run is repeated with it and both ready_ms are printed side by side (a
# figure for the bench, not asserted).
set -euo pipefail
SIM=$1 FAKE=$2 MAKECA=$3 ZIP=$4 ARCH=$5 NAME=$6 PROBE=$7 DEV=${8:-}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
# (not test_tmpdir: called as $(test_tmpdir) its EXIT trap fires in the
# command substitution's subshell and removes the folder at once)
T=$(mktemp -d "${TMPDIR:-/tmp}/forkcap-layer.XXXXXX")
trap 'jobs -p | xargs -r kill 2>/dev/null; wait 2>/dev/null; [ -n "${LAYER_TEST_KEEP:-}" ] || rm -rf "$T"' EXIT

if [ "$(id -u)" = 0 ]; then ns=(unshare -m); else ns=(unshare -r -m); fi
if ! "${ns[@]}" true 2>/dev/null; then
    echo "SKIP: cannot create a mount namespace here (need root or user namespaces)"; exit 77
fi

unzip -q "$ZIP" -d "$T/opt"
ext=$T/opt/extensions/$NAME
probe=(); [ "$ARCH" = arm64 ] && probe=(qemu-aarch64-static)
probe+=("$PROBE")
if [ "$ARCH" = arm64 ]; then
    # no binfmt_misc here: the extension file is a wrapper exec'ing qemu
    mkdir -p "$T/arm64"; mv "$ext" "$T/arm64/$NAME"
    printf '#!/bin/sh\nexec qemu-aarch64-static %s "$@"\n' "$T/arm64/$NAME" > "$ext"
    chmod 755 "$ext"
fi

bash "$MAKECA" "$T/pki" 1 >/dev/null
CAP=$T/capture.jsonl; : > "$CAP"
"$FAKE" --http-port 0 --https-port 0 --cert "$T/pki/server.pem" --key "$T/pki/server.key" \
    --port-file "$T/ports.json" --capture "$CAP" --quiet 2>>"$T/intake.log" &
wait_for_file "$T/ports.json" 10 || fail "fake-intake did not start"
HTTPS=$(jq -r .https "$T/ports.json")
printf '127.0.0.1\tlocalhost intake.forkcap.test\n::1\tlocalhost\n' > "$T/hosts"
# the name must not resolve outside the namespace, or the test proves nothing
! getent hosts intake.forkcap.test >/dev/null || fail "intake.forkcap.test resolves on this machine already"

url=https://intake.forkcap.test:$HTTPS
# in_ns DIR CA|- CMD...: CMD with the extension's environment, in the namespace
in_ns() {
    local d=$1 ca=$2; shift 2
    mkdir -p "$d"
    env -u HTTPS_PROXY -u https_proxy -u HTTP_PROXY -u http_proxy -u DD_PROXY_HTTPS \
        -u DD_SITE -u DD_TLS_CERT_FILE -u DD_SKIP_SSL_VALIDATION -u SSL_CERT_FILE -u SSL_CERT_DIR \
        DD_API_KEY=0123456789abcdef0123456789abcdef \
        DD_DD_URL="$url" DD_APM_DD_URL="$url" DD_LOGS_CONFIG_LOGS_DD_URL="$url" \
        "${ns[@]}" bash "$here/ns_etc.sh" "$d" "$T/hosts" "$ca" -- "$@"
}
# verified_to_name: capture lines over TLS, answered 2xx, for our host name
verified_to_name() {
    jq -s --arg h "intake.forkcap.test:$HTTPS" \
        'map(select(.tls and (.status // 0) >= 200 and (.status // 0) < 300 and
            ((.headers.host // .headers[":authority"] // "") == $h))) | length' "$CAP"
}

# 1. the transport code, static: CA only at the Amazon Linux path
rc=0
in_ns "$T/probe-ca" "$T/pki/ca.pem" "${probe[@]}" --count 2 >"$T/probe-ca.jsonl" 2>"$T/probe-ca.err" || rc=$?
[ "$rc" = 0 ] || fail "static intake-post with the CA at /etc/pki/tls/certs/ca-bundle.crt: exit $rc: $(tail -3 "$T/probe-ca.err"; tail -2 "$T/probe-ca.jsonl")"
[ "$(jq -s 'map(select(.event=="result" and .outcome=="ok")) | length' "$T/probe-ca.jsonl")" = 2 ] ||
    fail "static intake-post: $(grep result "$T/probe-ca.jsonl")"
grep -q '/etc/pki/tls/certs/ca-bundle.crt' "$T/probe-ca.err" ||
    fail "the CA bundle was not taken from the Amazon Linux path: $(grep -i 'bundle' "$T/probe-ca.err")"
sleep 0.3 # the intake writes its capture lines after answering
[ "$(verified_to_name)" -ge 2 ] || fail "the intake did not see 2 verified requests to intake.forkcap.test: $(head -c 400 "$CAP")"

# 2. a bundle at that path without our CA: verification fails (curl 60),
#    nothing reaches the intake
: > "$CAP"; rc=0
in_ns "$T/probe-other" "$T/pki/extra-cas.pem" "${probe[@]}" --count 1 >"$T/probe-other.jsonl" 2>"$T/probe-other.err" || rc=$?
[ "$rc" = 1 ] || fail "static intake-post with an unrelated CA: exit $rc: $(tail -3 "$T/probe-other.err")"
[ "$(jq -r 'select(.event=="result") | .curl' "$T/probe-other.jsonl")" = 60 ] ||
    fail "with an unrelated CA: expected curl 60 (peer verification): $(grep result "$T/probe-other.jsonl")"
[ ! -s "$CAP" ] || fail "a request reached the intake without a trusted CA: $(head -c 300 "$CAP")"

# 3. no bundle anywhere: one clear error, no unverified traffic
rc=0
in_ns "$T/probe-none" - "${probe[@]}" --count 1 >"$T/probe-none.jsonl" 2>"$T/probe-none.err" || rc=$?
[ "$rc" -ne 0 ] || fail "static intake-post without any CA bundle succeeded"
grep -q 'no system CA bundle found' "$T/probe-none.err" || fail "without any CA bundle: $(tail -3 "$T/probe-none.err")"
[ ! -s "$CAP" ] || fail "a request reached the intake without any CA bundle"
echo "$ARCH: static transport resolved intake.forkcap.test from /etc/hosts and verified TLS with the Amazon Linux bundle"

# 4. the layer's own binary under lambda-sim, same namespace and environment
# sim_run DIR EXT: 5 invocations of lambda-sim with extension EXT
sim_run() {
    local d=$1 e=$2 rc=0
    FORKCAP_TELEMETRY_PORT=0 DD_DOGSTATSD_PORT=0 DD_APM_RECEIVER_PORT=0 \
    FORKCAP_LAMBDA_PORT=0 FORKCAP_STATS_FILE=$d/stats.json \
    in_ns "$d" "$T/pki/ca.pem" "$SIM" --port 0 --port-file "$d/sim.port" --extension "$e" --invokes 5 \
        --fn-ms 5 --log-lines 2 --statsd-port-file "$d/stats.json" --statsd-per-invoke 3 \
        --report "$d/report.json" --ext-log "$d/ext.log" --quiet || rc=$?
    [ "$rc" = 0 ] || fail "lambda-sim exit $rc: $(tail -5 "$d/ext.log")"
}
: > "$CAP"
d=$T/sim
sim_run "$d" "$ext"
r=$d/report.json
[ -s "$r" ] || fail "no report"
[ "$(jq '.crashes | length' "$r")" = 0 ] || fail "crashes: $(jq -c .crashes "$r")"
[ "$(jq '[.extensions[] | select(.crashed)] | length' "$r")" = 0 ] || fail "extension crashed: $(tail -5 "$d/ext.log")"
[ "$(jq -r '.extensions[0].name' "$r")" = "$NAME" ] || fail "registered as $(jq -r '.extensions[0].name' "$r"), expected $NAME"
[ "$(jq '[.invocations[] | select(.status == "success")] | length' "$r")" = 5 ] ||
    fail "invocations: $(jq -c '[.invocations[].status]' "$r")"
! grep -q 'ERROR' "$d/ext.log" || fail "the extension logged errors: $(grep ERROR "$d/ext.log" | head -3)"
# the layer binary's own flusher found the CA at the Amazon Linux path
grep -q 'flusher | intake: TLS client ready .*CA bundle /etc/pki/tls/certs/ca-bundle.crt' "$d/ext.log" ||
    fail "the flusher did not load /etc/pki/tls/certs/ca-bundle.crt: $(grep -i 'flusher' "$d/ext.log" | head -3)"
sleep 0.3
# whatever it shipped went over verified TLS to the name from /etc/hosts
[ "$(verified_to_name)" = "$(jq -s length "$CAP")" ] ||
    fail "requests not over verified TLS to intake.forkcap.test: $(head -c 400 "$CAP")"
echo "$ARCH $NAME under lambda-sim: 5 invocations ok, $(verified_to_name) verified requests to intake.forkcap.test"

if [ -n "$DEV" ]; then
    mkdir -p "$T/dev/extensions"; cp "$DEV" "$T/dev/extensions/$NAME"
    sim_run "$T/devsim" "$T/dev/extensions/$NAME"
    echo "$ARCH ready_ms: layer (static) $(jq '.extensions[0].ready_ms' "$r"), development build $(jq '.extensions[0].ready_ms' "$T/devsim/report.json")"
else
    echo "$ARCH ready_ms: layer (static) $(jq '.extensions[0].ready_ms' "$r")"
fi
echo ok
