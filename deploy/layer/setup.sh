#!/bin/sh
# deploy/layer/setup.sh — installs what the layer build needs on Debian 12
# (musl toolchains for x86_64 and arm64, qemu for running arm64 results, and
# the source-package machinery), when missing and we are root. Idempotent.
set -e
need=""
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# arm64 musl headers and libc.a come from Debian's own musl-dev:arm64 through
# multiarch; gcc-aarch64-linux-gnu compiles against them via a specs file.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    [ "$(id -u)" = 0 ] || { echo "layer-setup: need root to add the arm64 architecture" >&2; exit 1; }
    dpkg --add-architecture arm64
    need=update
fi

# apt-get source needs deb-src lines for the same mirror the binaries come from.
if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    [ "$(id -u)" = 0 ] || { echo "layer-setup: need root to add deb-src sources" >&2; exit 1; }
    cat > /etc/apt/sources.list.d/forkcap-layer-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    need=update
fi

# g++: zstd's CMake project enables C++ (for its tests) and stops without a
# C++ compiler; nothing C++ is built. On a machine with build-essential it was
# already there; a bare Debian 12 (the layer Dockerfile's stage) lacks it.
PKGS="gcc g++ libc6-dev musl-tools musl-dev musl-dev:arm64 gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu
linux-libc-dev-arm64-cross qemu-user-static dpkg-dev file zip unzip cmake pkg-config make perl xz-utils bzip2 patch
protobuf-c-compiler openssl util-linux"
missing=""
for p in $PKGS; do have "$p" || missing="$missing $p"; done
if [ -n "$missing" ] || [ "$need" = update ]; then
    [ "$(id -u)" = 0 ] || { echo "layer-setup: missing Debian packages:$missing (run as root)" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    [ -z "$missing" ] || { echo "layer-setup: installing$missing"; apt-get install -y -qq --no-install-recommends $missing >/dev/null; }
fi
exit 0
