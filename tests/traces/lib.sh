# tests/traces/lib.sh — the common start of the trace tests under lambda-sim:
# the shared helpers, a skip (77) without node, TRACER (the scripted tracer,
# tracer_runtime.js), a fresh T, the intake (pipe_setup) and DD_APM_DD_URL
# pointing at it. Source it after `set -euo pipefail` with SIM, FORKCAP,
# INTAKE and MAKE_CA set.
TRACES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$TRACES_DIR/../lib/common.sh"
. "$TRACES_DIR/../e2e/e2e_lib.sh"
. "$TRACES_DIR/../pipeline/lib.sh"
command -v node >/dev/null || { echo "SKIP: node is not installed (the scripted tracer is a Node script)"; exit 77; }
TRACER=$TRACES_DIR/tracer_runtime.js
test_tmpdir
pipe_setup
export DD_APM_DD_URL="https://localhost:$HTTPS_PORT"
