#!/bin/bash
# Exits (status 0) in the middle of its second INVOKE, once per test run.
. "$(dirname "$0")/ext_lib.sh"
register > /dev/null
n=0
while :; do
    code=$(next_event); [ "$code" = 200 ] || exit 1
    cat "$OUT/$NAME.event" >> "$OUT/$NAME.events"; echo >> "$OUT/$NAME.events"
    grep -q '"SHUTDOWN"' "$OUT/$NAME.event" && exit 0
    n=$((n+1))
    if [ $n = 2 ] && [ ! -e "$OUT/$NAME.crashed" ]; then touch "$OUT/$NAME.crashed"; exit 0; fi
done
