#!/bin/bash
# Starts a child in a session of its own (setsid: out of the extension's
# process group) that counts while it runs, then behaves.
. "$(dirname "$0")/ext_lib.sh"
register > /dev/null
setsid bash -c 'echo $$ > "$1.child"; while :; do echo x >> "$1.count"; sleep 0.01; done' _ "$OUT/$NAME" \
    < /dev/null > /dev/null 2>&1 &
event_loop
