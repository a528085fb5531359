#!/bin/bash
# On its first INVOKE (once per test run) it never calls /next again.
. "$(dirname "$0")/ext_lib.sh"
register > /dev/null
while :; do
    code=$(next_event); [ "$code" = 200 ] || exit 1
    cat "$OUT/$NAME.event" >> "$OUT/$NAME.events"; echo >> "$OUT/$NAME.events"
    grep -q '"SHUTDOWN"' "$OUT/$NAME.event" && exit 0
    if [ ! -e "$OUT/$NAME.hung" ]; then touch "$OUT/$NAME.hung"; sleep 1000; fi
done
