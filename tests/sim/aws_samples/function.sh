# Fixture: the sample's handler, sourced by bootstrap: logs the event, answers with it.
handler() {
    echo "[function] event: $1" 1>&2
    echo "{\"received\": $1}"
}
