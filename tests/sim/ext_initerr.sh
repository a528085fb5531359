#!/bin/bash
# init/error without the error-type header (403), then right (202), again (a
# no-op 202), then exit/error (403: it is in the init-error state); exits
# only after 2.5 s: Lambda waits for it.
. "$(dirname "$0")/ext_lib.sh"
register > /dev/null
ierr() {  # ierr LABEL PATH [header]
    local code
    code=$(curl -sS --noproxy '*' -o "$OUT/$NAME.resp" -w '%{http_code}' -X POST \
        -H "Lambda-Extension-Identifier: $EXT_ID" ${3:+-H "Lambda-Extension-Function-Error-Type: $3"} \
        "$EXT_API/$2")
    echo "$1 $code $(jq -r '.errorType // .status' "$OUT/$NAME.resp")" >> "$OUT/$NAME.checks"
}
ierr no_header init/error
ierr init_error init/error Extension.ConfigInvalid
ierr again init/error Extension.ConfigInvalid
ierr exit_error exit/error Extension.Other
sleep 2.5
exit 1
