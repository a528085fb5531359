#!/bin/bash
# Never registers (and leaves a child behind in its process group).
. "$(dirname "$0")/ext_lib.sh"
sleep 1000 &
echo $! > "$OUT/$NAME.child"
sleep 1000
