#!/bin/bash
# build_layers.sh ROOT OUTDIR — the layer tests' fixture: builds both layer
# zips with deploy/layer/build.sh (libraries come from its cache; a cold
# cache builds them, several minutes), once with the default extension
# name (datadog-agent) into OUTDIR/dist (with the static intake-post probes)
# and once with --name forkcap into OUTDIR/dist-fc.
set -euo pipefail
ROOT=$1 OUT=$2
mkdir -p "$OUT"
t0=$SECONDS
bash "$ROOT/deploy/layer/build.sh" --arch all --probe --out "$OUT/dist" --build "$OUT/build"
t1=$SECONDS
bash "$ROOT/deploy/layer/build.sh" --arch all --name forkcap --out "$OUT/dist-fc" --build "$OUT/build"
echo "layer build: $((t1 - t0)) s, again with --name forkcap: $((SECONDS - t1)) s"
for a in x86_64 arm64; do
    [ -s "$OUT/dist/forkcap-layer-$a.zip" ] || { echo "FAIL: no $a zip" >&2; exit 1; }
    [ -s "$OUT/dist-fc/forkcap-layer-$a.zip" ] || { echo "FAIL: no $a --name forkcap zip" >&2; exit 1; }
done
