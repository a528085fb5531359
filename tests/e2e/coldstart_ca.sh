#!/bin/bash
# Cold start with a 1-certificate DD_TLS_CERT_FILE versus one holding a few
# hundred extra CAs: the lifecycle's ready time must not depend on the
# flusher's CA loading. Prints ready_ms and the flusher's TLS set-up for
# both (figures for the bench; no timing is asserted), and checks the
# ordering that is the design's point: the first /next does not wait for
# the flusher's TLS set-up when that set-up is the slow part.
set -euo pipefail
SIM=$1 FORKCAP=$2 MAKECA=$3
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/e2e_lib.sh"
test_tmpdir
bash "$MAKECA" "$T/pki" 300 >/dev/null
[ -s "$T/pki/ca.pem" ] && [ -s "$T/pki/extra-cas.pem" ] || fail "make-ca.sh wrote no bundles"
RUNS=${COLDSTART_RUNS:-5}
for kind in small large; do
    file=$T/pki/ca.pem; [ $kind = large ] && file=$T/pki/extra-cas.pem
    for i in $(seq 1 "$RUNS"); do
        d=$T/$kind-$i; mkdir -p "$d"
        ext_setup "$d"
        DD_TLS_CERT_FILE=$file run_sim "$d" --invokes 1 --fn-ms 1
        check_all_invocations "$d" 1
        echo "$(jq '.extensions[0].ready_ms' "$d/report.json") $(stat_of "$d" .first_next_ms) $(stat_of "$d" .flusher_tls_ms) $(stat_of "$d" .flusher_ready_ms)" >> "$T/$kind.txt"
    done
    # medians: sim ready_ms, forkcap first_next, flusher tls set-up, flusher ready
    read -r r n t f < <(sort -n "$T/$kind.txt" | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}')
    med() { awk -v c="$1" '{print $c}' "$T/$kind.txt" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
    echo "$kind bundle ($(grep -c 'BEGIN CERT' "$file") extra certs): sim ready_ms p50 $(med 1), first_next $(med 2) ms, flusher tls $(med 3) ms, flusher ready $(med 4) ms"
    eval "${kind}_tls=$(med 3) ${kind}_next=$(med 2)"
done
# the large bundle really costs the flusher more, and the lifecycle does not pay it
awk -v a="$small_tls" -v b="$large_tls" 'BEGIN { exit !(b > a) }' || fail "large bundle not slower to load ($large_tls vs $small_tls)"
awk -v n="$large_next" -v t="$large_tls" 'BEGIN { exit !(n < t) }' || fail "first /next ($large_next ms) waited for the flusher's TLS ($large_tls ms)"
echo "ok"
