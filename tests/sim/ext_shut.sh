#!/bin/bash
# Records when SHUTDOWN arrived (epoch ms) next to the event, then exits.
. "$(dirname "$0")/ext_lib.sh"
register > /dev/null
ON_SHUTDOWN="record_shutdown"
record_shutdown() { date +%s%3N > "$OUT/$NAME.shutdown_at"; }
event_loop
