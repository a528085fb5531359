#!/bin/bash
# Takes 100 ms after each INVOKE before calling /next again (post-runtime work).
. "$(dirname "$0")/ext_lib.sh"
register > /dev/null
ON_INVOKE="sleep 0.1"
event_loop
