#!/bin/bash
# Reports exit/error during its first INVOKE; then /next and init/error fail,
# a repeated exit/error is a no-op 202; then it exits.
. "$(dirname "$0")/ext_lib.sh"
register > /dev/null
code=$(next_event)
code=$(curl -sS --noproxy '*' -o "$OUT/$NAME.resp" -w '%{http_code}' -X POST \
    -H "Lambda-Extension-Identifier: $EXT_ID" -H "Lambda-Extension-Function-Error-Type: Extension.TestFailure" \
    -d '{"errorMessage":"boom","errorType":"Extension.TestFailure","stackTrace":[]}' "$EXT_API/exit/error")
echo "exit_error $code $(jq -r .status "$OUT/$NAME.resp")" >> "$OUT/$NAME.checks"
echo "next_after $(next_event) $(jq -r .errorType "$OUT/$NAME.event")" >> "$OUT/$NAME.checks"
code=$(curl -sS --noproxy '*' -o "$OUT/$NAME.resp" -w '%{http_code}' -X POST \
    -H "Lambda-Extension-Identifier: $EXT_ID" -H "Lambda-Extension-Function-Error-Type: Extension.TestFailure" "$EXT_API/exit/error")
echo "exit_error_again $code $(jq -r '.errorType // .status' "$OUT/$NAME.resp")" >> "$OUT/$NAME.checks"
code=$(curl -sS --noproxy '*' -o "$OUT/$NAME.resp" -w '%{http_code}' -X POST \
    -H "Lambda-Extension-Identifier: $EXT_ID" -H "Lambda-Extension-Function-Error-Type: Extension.TestFailure" "$EXT_API/init/error")
echo "init_error_after $code $(jq -r '.errorType // .status' "$OUT/$NAME.resp")" >> "$OUT/$NAME.checks"
exit 0
