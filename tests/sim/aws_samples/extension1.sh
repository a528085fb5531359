#!/bin/bash
# Fixture: the logic of AWS's bash sample extension (custom-runtime-extension-demo,
# extensions/extension1.sh), typed anew. Protocol kept: register with its
# file name for INVOKE and SHUTDOWN, the identifier scraped from the
# headers, /next in a background curl while waiting for SIGTERM, exit 0 on
# SHUTDOWN. Writes what it saw under $SIMTEST_OUT.
set -euo pipefail
me="$(basename "$0")"
scratch="${SIMTEST_OUT:?}/$me.scratch"
api="http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension"

on_term() {
    echo "[$me] SIGTERM"
    kill -TERM "$child" 2>/dev/null
    exit 0
}
wait_child() {
    trap on_term SIGTERM
    wait "$child"
    trap - SIGTERM
}

hdrs="$(mktemp)"
echo "[$me] registering at $api/register"
curl -sS -LD "$hdrs" -XPOST "$api/register" --header "Lambda-Extension-Name: $me" \
    -d '{ "events": ["INVOKE", "SHUTDOWN"]}' > "$scratch"
ext_id=$(grep -Fi Lambda-Extension-Identifier "$hdrs" | tr -d '[:space:]' | cut -d: -f2)
echo "[$me] registered: $(cat "$scratch") id $ext_id"

while true; do
    echo "[$me] waiting for the next event"
    curl -sS -L -XGET "$api/event/next" --header "Lambda-Extension-Identifier: $ext_id" > "$scratch" &
    child=$!
    wait_child
    event=$(<"$scratch")
    echo "$event" >> "$SIMTEST_OUT/$me.events"
    if [[ $event == *"SHUTDOWN"* ]]; then
        echo "[$me] SHUTDOWN: exiting" 1>&2
        exit 0
    fi
    echo "[$me] event: $event"
done
