#!/bin/bash
# Reports init/error right after registering, then exits.
. "$(dirname "$0")/ext_lib.sh"
register > /dev/null
code=$(curl -sS --noproxy '*' -o "$OUT/$NAME.resp" -w '%{http_code}' -X POST \
    -H "Lambda-Extension-Identifier: $EXT_ID" -H "Lambda-Extension-Function-Error-Type: Extension.ConfigInvalid" \
    "$EXT_API/init/error")
echo "init_error $code $(jq -r .status "$OUT/$NAME.resp")" >> "$OUT/$NAME.checks"
exit 1
