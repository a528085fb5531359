#!/bin/bash
# ns_etc.sh WORKDIR HOSTS CA|- -- CMD... — run CMD with a private /etc, in
# the mount namespace the caller made with `unshare -m` (never the machine's
# real /etc): every entry of the real /etc except the hosts file and the CA
# stores, our HOSTS as /etc/hosts, and CA (unless -) only at Amazon Linux's
# path /etc/pki/tls/certs/ca-bundle.crt. No /etc/ssl at all, so nothing can
# fall back to Debian's bundle.
set -euo pipefail
work=$1 hosts=$2 ca=$3
[ "$4" = -- ] || { echo "usage: ns_etc.sh WORKDIR HOSTS CA|- -- CMD..." >&2; exit 2; }
shift 4
real=$work/real-etc
mkdir -p "$real"
mount --bind /etc "$real"
mount -t tmpfs -o mode=755 tmpfs /etc
for e in "$real"/* "$real"/.[!.]*; do
    [ -e "$e" ] || continue
    case ${e##*/} in hosts|ssl|pki|ca-certificates|ca-certificates.conf) continue;; esac
    ln -s "$e" "/etc/${e##*/}"
done
cp "$hosts" /etc/hosts
if [ "$ca" != - ]; then
    mkdir -p /etc/pki/tls/certs
    cp "$ca" /etc/pki/tls/certs/ca-bundle.crt
fi
exec "$@"
