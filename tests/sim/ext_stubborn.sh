#!/bin/bash
# Ignores SHUTDOWN: keeps running (with a child) until SIGKILLed.
. "$(dirname "$0")/ext_lib.sh"
register > /dev/null
sleep 1000 &
echo $! > "$OUT/$NAME.child"
while :; do
    code=$(next_event); [ "$code" = 200 ] || exit 1
    if grep -q '"SHUTDOWN"' "$OUT/$NAME.event"; then touch "$OUT/$NAME.got_shutdown"; sleep 1000; fi
done
