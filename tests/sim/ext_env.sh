#!/bin/bash
# Records its environment, then behaves.
. "$(dirname "$0")/ext_lib.sh"
env | sort > "$OUT/$NAME.env"
register > /dev/null
event_loop
