# ext_lib.sh — sourced by the test extensions: Extensions API calls with curl.
# Each extension records what it saw under $SIMTEST_OUT/<name>.*
NAME=$(basename "$0")
OUT=${SIMTEST_OUT:?SIMTEST_OUT must be set}
EXT_API="http://$AWS_LAMBDA_RUNTIME_API/2020-01-01/extension"
EXT_ID=""
echo $$ > "$OUT/$NAME.pid"

# register [BODY]: sets EXT_ID, prints the HTTP code (call it outside $(...))
register() {
    local body=${1:-'{"events":["INVOKE","SHUTDOWN"]}'} hdr="$OUT/$NAME.reghdr" code
    local feature=${SIMTEST_FEATURE-accountId}   # set it empty to send no feature header
    code=$(curl -sS --noproxy '*' -D "$hdr" -o "$OUT/$NAME.register.json" -w '%{http_code}' \
        -X POST -H "Lambda-Extension-Name: $NAME" ${feature:+-H "Lambda-Extension-Accept-Feature: $feature"} \
        -d "$body" "$EXT_API/register")
    EXT_ID=$(awk -F': ' 'tolower($1)=="lambda-extension-identifier"{print $2}' "$hdr" | tr -d '\r')
    echo "$code"
}

# next_event: one /next; body in $OUT/$NAME.event, prints the HTTP code
next_event() {
    curl -sS --noproxy '*' -D "$OUT/$NAME.evhdr" -o "$OUT/$NAME.event" -w '%{http_code}' \
        -H "Lambda-Extension-Identifier: $EXT_ID" "$EXT_API/event/next"
}

# event_loop: records every event as a line in $OUT/$NAME.events; exits on SHUTDOWN
event_loop() {
    local code
    while :; do
        code=$(next_event) || exit 1
        [ "$code" = 200 ] || { echo "next: HTTP $code" >&2; exit 1; }
        cat "$OUT/$NAME.event" >> "$OUT/$NAME.events"; echo >> "$OUT/$NAME.events"
        # (builtins only: a fork per event slows the extension on a loaded machine)
        { while IFS= read -r l; do printf '%s\n' "${l%$'\r'}"; done < "$OUT/$NAME.evhdr"; echo "--"; } >> "$OUT/$NAME.evhdrs"
        if grep -q '"SHUTDOWN"' "$OUT/$NAME.event"; then
            [ -n "${ON_SHUTDOWN:-}" ] && $ON_SHUTDOWN
            exit 0
        fi
        [ -n "${ON_INVOKE:-}" ] && $ON_INVOKE
    done
}
