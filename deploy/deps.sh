#!/bin/sh
# Installs the Debian 12 packages forkcap builds and tests with, when one is
# missing and we are root. Prints what it would need otherwise.
set -e
PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev
libcurl4-openssl-dev libevent-dev libmsgpack-dev libjansson-dev libzstd-dev
zlib1g-dev libprotobuf-c-dev protobuf-c-compiler libcmocka-dev libssl-dev
libnghttp2-dev tinyproxy jq curl openssl zip unzip zstd procps iproute2
docker-compose"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "deps: missing Debian packages:$missing (run as root, or apt-get install them)" >&2
  exit 1
fi
