#!/bin/bash
# Reports exit/error during its first INVOKE; then no call of it succeeds; then it exits.
. "$(dirname "$0")/ext_lib.sh"
register > /dev/null
code=$(next_event)
code=$(curl -sS --noproxy '*' -o "$OUT/$NAME.resp" -w '%{http_code}' -X POST \
    -H "Lambda-Extension-Identifier: $EXT_ID" -H "Lambda-Extension-Function-Error-Type: Extension.TestFailure" \
    -d '{"errorMessage":"boom","errorType":"Extension.TestFailure","stackTrace":[]}' "$EXT_API/exit/error")
echo "exit_error $code $(jq -r .status "$OUT/$NAME.resp")" >> "$OUT/$NAME.checks"
echo "next_after $(next_event) $(jq -r .errorType "$OUT/$NAME.event")" >> "$OUT/$NAME.checks"
exit 0
