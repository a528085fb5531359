#!/bin/bash
# A well-behaved extension: register, log a line, loop on /next, exit on SHUTDOWN.
. "$(dirname "$0")/ext_lib.sh"
register > "$OUT/$NAME.regcode"
echo "$NAME registered"
event_loop
