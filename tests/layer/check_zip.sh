#!/bin/bash
# check_zip.sh ZIP ARCH NAME — a layer zip's layout and binary: exactly
# extensions/NAME, executable, an ELF for ARCH that is fully static (no
# interpreter, no dynamic section), within the size goals (binary 6 MB, zip
# 3 MB), and it runs: started outside Lambda it says so and exits non-zero.
set -euo pipefail
ZIP=$1 ARCH=$2 NAME=$3
. "$(dirname "$0")/../lib/common.sh"
# (not test_tmpdir: called as $(test_tmpdir) its EXIT trap fires in the
# command substitution's subshell and removes the folder at once)
T=$(mktemp -d "${TMPDIR:-/tmp}/forkcap-layer.XXXXXX")
trap 'jobs -p | xargs -r kill 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT

[ "$(unzip -Z1 "$ZIP" | grep -v '/$' | sort)" = "extensions/$NAME" ] ||
    fail "zip holds $(unzip -Z1 "$ZIP" | tr '\n' ' '), expected only extensions/$NAME"
unzip -q "$ZIP" -d "$T/opt"
bin=$T/opt/extensions/$NAME
[ -f "$bin" ] && [ -x "$bin" ] || fail "extensions/$NAME is not an executable file"
# the zip itself must carry the mode: Lambda unpacks it as is
unzip -Z "$ZIP" "extensions/$NAME" | grep -q '^-rwx' || fail "zip entry has no execute bit"

case $ARCH in
    x86_64) machine='Advanced Micro Devices X86-64'; run=();;
    arm64)  machine='AArch64'; run=(qemu-aarch64-static);;
    *) fail "unknown arch $ARCH";;
esac
readelf -h "$bin" | grep -q "Machine: *$machine" || fail "not an $ARCH ELF: $(readelf -h "$bin" | grep Machine)"
! readelf -l "$bin" | grep -qi 'INTERP' || fail "has a program interpreter (dynamically linked)"
readelf -d "$bin" 2>&1 | grep -q 'no dynamic section' || fail "has a dynamic section: $(readelf -d "$bin" | grep NEEDED)"
file "$bin" | grep -q 'statically linked' || fail "file(1) says: $(file -b "$bin")"
! strings "$bin" | grep -q 'GLIBC_2\.' || fail "references glibc symbol versions"

bsize=$(stat -c %s "$bin") zsize=$(stat -c %s "$ZIP")
echo "$ARCH $NAME: binary $bsize bytes, zip $zsize bytes"
[ "$bsize" -le $((6 * 1024 * 1024)) ] || fail "binary $bsize bytes > 6 MB"
[ "$zsize" -le $((3 * 1024 * 1024)) ] || fail "zip $zsize bytes > 3 MB"

# outside Lambda (no AWS_LAMBDA_RUNTIME_API) it must start, log one clear
# line and exit non-zero rather than crash
ver=$("${run[@]}" "$bin" --version) || fail "--version failed"
[[ "$ver" == "forkcap "* ]] || fail "--version printed: $ver"
rc=0
env -u AWS_LAMBDA_RUNTIME_API "${run[@]}" "$bin" >"$T/out" 2>&1 </dev/null || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] || fail "outside Lambda: exit $rc: $(cat "$T/out")"
grep -q 'AWS_LAMBDA_RUNTIME_API' "$T/out" || fail "outside Lambda: $(cat "$T/out")"
echo ok
