#!/bin/bash
# Its /next connection dies while pending (the curl is killed), as when a
# child process dies inside the long-poll; then it retries /next.
. "$(dirname "$0")/ext_lib.sh"
register > /dev/null
code=$(next_event); cat "$OUT/$NAME.event" >> "$OUT/$NAME.events"; echo >> "$OUT/$NAME.events"
curl -sS --noproxy '*' -o /dev/null -H "Lambda-Extension-Identifier: $EXT_ID" "$EXT_API/event/next" 2>/dev/null &
cpid=$!
sleep 0.3
kill -9 $cpid; wait $cpid 2>/dev/null || true
while :; do
    code=$(next_event)
    echo "$code $(jq -r '.errorType // .eventType' "$OUT/$NAME.event")" >> "$OUT/$NAME.codes"
    if [ "$code" = 200 ]; then
        cat "$OUT/$NAME.event" >> "$OUT/$NAME.events"; echo >> "$OUT/$NAME.events"
        break
    fi
    sleep 0.1
done
event_loop
