#!/bin/bash
# tests/lib/make-ca.sh DIR [EXTRA_N] — a throw-away test PKI for the fake
# intake: DIR/ca.pem, ca.key, server.pem (leaf + CA), server.key, and with
# EXTRA_N > 0 DIR/extra-cas.pem holding EXTRA_N more self-signed CAs.
# EC P-256 keys, 2 days validity, SANs localhost, 127.0.0.1,
# intake.forkcap.test. Idempotent (keeps files that are still valid for a
# day), no network.
set -euo pipefail

dir=${1:?usage: make-ca.sh DIR [EXTRA_N]}
extra=${2:-0}
case $extra in ''|*[!0-9]*) echo "make-ca: EXTRA_N must be a number" >&2; exit 2;; esac
mkdir -p "$dir"
cd "$dir"

still_valid() { [ -s "$1" ] && openssl x509 -in "$1" -noout -checkend 86400 >/dev/null 2>&1; }

if ! still_valid ca.pem || ! still_valid server.pem || [ ! -s ca.key ] || [ ! -s server.key ]; then
    tmp=$(mktemp -d "./.make-ca.XXXXXX")
    openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/ca.key" 2>/dev/null
    openssl req -new -x509 -key "$tmp/ca.key" -sha256 -days 2 \
        -subj "/O=forkcap test/CN=forkcap test CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$tmp/ca.pem" 2>/dev/null
    openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/server.key" 2>/dev/null
    openssl req -new -key "$tmp/server.key" -subj "/O=forkcap test/CN=intake.forkcap.test" \
        -out "$tmp/server.csr" 2>/dev/null
    cat > "$tmp/ext.cnf" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:intake.forkcap.test
EXT
    openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
        -CAcreateserial -sha256 -days 2 -extfile "$tmp/ext.cnf" \
        -out "$tmp/leaf.pem" 2>/dev/null
    cat "$tmp/leaf.pem" "$tmp/ca.pem" > "$tmp/server.pem"
    chmod 600 "$tmp/ca.key" "$tmp/server.key"
    # rename last, so a reader never sees a half-written set
    mv -f "$tmp/ca.key" ca.key; mv -f "$tmp/server.key" server.key
    mv -f "$tmp/ca.pem" ca.pem; mv -f "$tmp/server.pem" server.pem
    rm -rf "$tmp"
fi

if [ "$extra" -gt 0 ]; then
    have=0
    if [ -s extra-cas.pem ]; then have=$(grep -c 'BEGIN CERTIFICATE' extra-cas.pem || true); fi
    if [ "$have" -ne "$extra" ] || ! still_valid extra-cas.pem; then
        tmp=$(mktemp -d "./.make-ca.XXXXXX")
        # One key signs every extra CA: the bundle only needs distinct
        # certificates, and a key per cert would cost most of the time.
        openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/k" 2>/dev/null
        seq 1 "$extra" | xargs -P 4 -I{} openssl req -new -x509 -key "$tmp/k" -sha256 -days 2 \
            -subj "/O=forkcap test/CN=forkcap extra CA {}" \
            -addext "basicConstraints=critical,CA:TRUE" -out "$tmp/{}.pem" 2>/dev/null
        for i in $(seq 1 "$extra"); do cat "$tmp/$i.pem"; done > "$tmp/all.pem"
        mv -f "$tmp/all.pem" extra-cas.pem
        rm -rf "$tmp"
    fi
fi
exit 0
