#!/bin/bash
# deploy/layer/build.sh — the Lambda layer: forkcap fully static (musl), for
# x86_64 and arm64, with every library built from Debian's source packages.
#
#   build.sh [--arch x86_64|arm64|all] [--name NAME] [--out DIR] [--build DIR]
#            [--probe]
#
# Writes OUT/forkcap-layer-<arch>.zip holding extensions/NAME (default name
# datadog-agent, the file Datadog's Lambda libraries look for before they
# send custom metrics to DogStatsD; --name forkcap for the other name). Libraries
# go to ${FORKCAP_LAYER_CACHE:-/var/cache/forkcap-layer}/<arch>/prefix, each
# rebuilt only when its source version, flags or compiler change (a key per
# library, which includes the keys of the libraries it links). --probe also
# builds OUT/probe-<arch>/intake-post, the transport tests' driver, with the
# same toolchain (for the layer tests; it is not part of the zip).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/deploy/layer
ARCHES=all NAME=datadog-agent OUT=$ROOT/dist BUILD=$ROOT/build-layer PROBE=0
while [ $# -gt 0 ]; do
    case $1 in
        --arch)  ARCHES=${2:?}; shift 2;;
        --name)  NAME=${2:?}; shift 2;;
        --out)   OUT=${2:?}; shift 2;;
        --build) BUILD=${2:?}; shift 2;;
        --probe) PROBE=1; shift;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
        *) echo "layer: unknown argument $1" >&2; exit 2;;
    esac
done
case $ARCHES in all) ARCHES="x86_64 arm64";; x86_64|arm64) ;; *) echo "layer: --arch x86_64|arm64|all" >&2; exit 2;; esac
case $NAME in ''|*/*|.|..) echo "layer: --name must be a plain file name" >&2; exit 2;; esac

CACHE=${FORKCAP_LAYER_CACHE:-/var/cache/forkcap-layer}
if [ -z "${FORKCAP_LAYER_CACHE:-}" ] && ! mkdir -p "$CACHE" 2>/dev/null; then
    CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/forkcap-layer   # not root
fi
JOBS=${JOBS:-$(nproc)}
log() { echo "layer | $*" >&2; }

"$HERE/setup.sh"
mkdir -p "$CACHE/src" "$OUT" "$BUILD"
OUT=$(cd "$OUT" && pwd) BUILD=$(cd "$BUILD" && pwd)

# ---- sources ---------------------------------------------------------------
# One pristine, patched tree per Debian source version, shared by both arches
# and never built in (each build copies it). Some mirrors list a security
# version whose files are gone: fall back to the next version apt knows.
declare -A SRC VER
fetch() {
    local pkg=$1 v dir
    exec 9>"$CACHE/src/.lock"; flock 9
    for v in $(apt-cache showsrc "$pkg" | sed -n 's/^Version: //p' | sort -rV); do
        dir=$CACHE/src/$pkg-$v
        local failed=$CACHE/src/.failed-$pkg-$v
        # a version that could not be fetched is tried again after a day
        if [ ! -d "$dir" ] && [ -z "$(find "$failed" -mmin -1440 2>/dev/null)" ]; then
            local tmp; tmp=$(mktemp -d "$CACHE/src/.fetch.XXXXXX")
            if (cd "$tmp" && apt-get source -qq "$pkg=$v" >/dev/null 2>&1); then
                local tree; tree=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -1)
                mv "$tree" "$dir"
                rm -f "$failed"
                log "source $pkg $v"
            else
                touch "$failed"
                log "source $pkg $v: not available from the mirror, trying an older one"
            fi
            rm -rf "$tmp"
        fi
        if [ -d "$dir" ]; then SRC[$pkg]=$dir VER[$pkg]=$v; exec 9>&-; return 0; fi
    done
    exec 9>&-
    echo "layer: no source of $pkg could be fetched (deb-src lines? network?)" >&2
    return 1
}
for p in openssl curl nghttp2 libevent msgpack-c jansson libzstd zlib protobuf-c; do fetch "$p"; done

# ---- per-arch toolchain ----------------------------------------------------
# Debian's musl-tools (x86_64) and musl-dev:arm64 ship musl-gcc wrappers that
# run the glibc-targeting gcc with a specs file pointing at musl's headers,
# crt files and libc.a. Linux kernel headers are not in musl's include dir,
# so each arch gets its own copy of linux/, asm/, asm-generic/.
setup_arch() {
    ARCH=$1
    case $ARCH in
        x86_64) CC=musl-gcc; HOST=x86_64-linux-musl; OSSL_TARGET=linux-x86_64
                KHDR_ASM=/usr/include/x86_64-linux-gnu/asm; STRIP="strip"; ARCH_CFLAGS="";;
        arm64)  CC=aarch64-linux-musl-gcc; HOST=aarch64-linux-musl; OSSL_TARGET=linux-aarch64
                KHDR_ASM=/usr/aarch64-linux-gnu/include/asm; STRIP=aarch64-linux-gnu-strip
                # Debian's gcc defaults to outline atomics, whose libgcc
                # helper calls glibc's __getauxval: musl has none.
                ARCH_CFLAGS="-mno-outline-atomics";;
    esac
    A=$CACHE/$ARCH
    P=$A/prefix
    mkdir -p "$A/stamps" "$P/lib/pkgconfig" "$P/include" "$A/kernel-headers"
    if [ ! -d "$A/kernel-headers/linux" ]; then
        cp -rL /usr/include/linux /usr/include/asm-generic "$A/kernel-headers/"
        cp -rL "$KHDR_ASM" "$A/kernel-headers/asm"
    fi
    # size: sections per function so the final link drops what is unused
    CFLAGS_LIB="-O2 -fPIC -ffunction-sections -fdata-sections ${ARCH_CFLAGS:+$ARCH_CFLAGS }-isystem $A/kernel-headers"
    CC_ID=$($CC --version | head -1; sha256sum "$(command -v "$CC")" | cut -c1-16)
    export PKG_CONFIG_LIBDIR=$P/lib/pkgconfig PKG_CONFIG_PATH="" FORKCAP_LAYER_PREFIX=$P
    unset PKG_CONFIG_SYSROOT_DIR
}

# stamp LIB FLAGS DEPS...: 0 (and set KEY) when LIB must be built.
need_build() {
    local lib=$1 flags=$2; shift 2
    local deps="" d
    for d in "$@"; do deps="$deps $(cat "$A/stamps/$d" 2>/dev/null)"; done
    KEY=$(printf '%s\n' "${VER[$lib]}" "$flags" "$CFLAGS_LIB" "$CC_ID" "$deps" | sha256sum | cut -c1-16)
    [ "$(cat "$A/stamps/$lib" 2>/dev/null)" != "$KEY" ]
}
done_build() { echo "$KEY" > "$A/stamps/$1"; }

# workdir LIB: a fresh copy of LIB's source to build in.
workdir() {
    W=$A/work/$1
    rm -rf "$W"; mkdir -p "$A/work"
    cp -a "${SRC[$1]}" "$W"
}

cmake_lib() { # cmake_lib LIB CMAKE-ARGS...
    local lib=$1; shift
    cmake -S "$W${SUBDIR:-}" -B "$W/_b" -G "Unix Makefiles" \
        -DCMAKE_TOOLCHAIN_FILE="$HERE/toolchain-$ARCH.cmake" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_FLAGS="$CFLAGS_LIB" -DCMAKE_INSTALL_PREFIX="$P" -DCMAKE_INSTALL_LIBDIR=lib \
        -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF "$@" >"$W/_cmake.log" 2>&1 ||
        { tail -n 30 "$W/_cmake.log" >&2; return 1; }
    cmake --build "$W/_b" -j"$JOBS" >"$W/_build.log" 2>&1 || { tail -n 30 "$W/_build.log" >&2; return 1; }
    cmake --install "$W/_b" >/dev/null
}

build_libs() {
    local t0=$SECONDS f

    f="--static"
    if need_build zlib "$f"; then
        log "$ARCH: zlib ${VER[zlib]}"; workdir zlib
        (cd "$W" && CC=$CC CFLAGS="$CFLAGS_LIB" ./configure $f --prefix="$P" >/dev/null &&
         make -j"$JOBS" libz.a >/dev/null && make install >/dev/null)
        done_build zlib
    fi

    f="-DZSTD_BUILD_PROGRAMS=OFF -DZSTD_BUILD_SHARED=OFF -DZSTD_BUILD_TESTS=OFF -DZSTD_LEGACY_SUPPORT=OFF -DZSTD_MULTITHREAD_SUPPORT=OFF"
    if need_build libzstd "$f"; then
        log "$ARCH: zstd ${VER[libzstd]}"; workdir libzstd
        SUBDIR=/build/cmake cmake_lib libzstd $f
        done_build libzstd
    fi

    # TLS 1.2/1.3 client and server only: no engines, legacy provider, DSO,
    # old protocols, ciphers nobody negotiates, apps or docs.
    f="no-shared no-module no-dso no-engine no-legacy no-tests no-ui-console no-afalgeng no-ktls
       no-comp no-ssl3 no-dtls no-srtp no-sctp no-psk no-srp no-gost no-idea no-mdc2 no-rc2 no-rc4 no-rc5
       no-bf no-cast no-seed no-camellia no-aria no-sm2 no-sm3 no-sm4 no-whirlpool no-md4 no-cms no-ts
       no-ocsp no-ct no-cmp no-siphash no-blake2 no-scrypt no-ec2m no-fips"
    # OPENSSLDIR is where OpenSSL looks for openssl.cnf: a path no base image
    # has, so the host's OpenSSL configuration (crypto policies, provider
    # modules this build cannot load) never applies; forkcap finds CA
    # bundles itself.
    f="$f --openssldir=/opt/forkcap/ssl"
    if need_build openssl "$f"; then
        log "$ARCH: openssl ${VER[openssl]}"; workdir openssl
        # CC is the musl wrapper already: no cross prefix for Configure
        (cd "$W" && CC=$CC ./Configure $OSSL_TARGET $f --prefix="$P" --libdir=lib \
            -ffunction-sections -fdata-sections $ARCH_CFLAGS -isystem "$A/kernel-headers" \
            >"$W/_configure.log" 2>&1 && make -j"$JOBS" build_libs >"$W/_build.log" 2>&1 &&
         make install_dev >/dev/null 2>&1) || { tail -n 30 "$W"/_*.log >&2; return 1; }
        done_build openssl
    fi

    f="-DENABLE_LIB_ONLY=ON -DENABLE_STATIC_LIB=ON -DENABLE_SHARED_LIB=OFF -DENABLE_DOC=OFF -DENABLE_FAILMALLOC=OFF -DENABLE_THREADS=OFF -DWITH_LIBXML2=OFF -DWITH_JEMALLOC=OFF"
    if need_build nghttp2 "$f"; then
        log "$ARCH: nghttp2 ${VER[nghttp2]}"; workdir nghttp2
        cmake_lib nghttp2 $f
        done_build nghttp2
    fi

    # HTTP and HTTPS only, on OpenSSL, with HTTP/2, gzip and zstd bodies.
    # No CA path compiled in: forkcap builds its own trust store.
    f="--disable-shared --enable-static --with-openssl=$P --with-nghttp2=$P --with-zlib=$P --with-zstd=$P
       --without-ca-bundle --without-ca-path --without-libpsl --without-libidn2 --without-brotli
       --without-librtmp --without-libssh2 --without-libssh --without-wolfssh --without-gssapi
       --without-hyper --without-ngtcp2 --without-nghttp3 --without-quiche --without-msh3
       --disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet --disable-tftp
       --disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt
       --disable-ftp --disable-file --disable-manual --disable-docs --disable-ntlm --disable-ntlm-wb
       --disable-kerberos-auth --disable-negotiate-auth --disable-aws --disable-netrc --disable-alt-svc
       --disable-hsts --disable-cookies --disable-dateparse --disable-progress-meter --disable-websockets
       --enable-threaded-resolver --enable-ipv6"
    if need_build curl "$f" openssl nghttp2 zlib libzstd; then
        log "$ARCH: curl ${VER[curl]}"; workdir curl
        (cd "$W" && CC=$CC CFLAGS="$CFLAGS_LIB" CPPFLAGS="-I$P/include" LDFLAGS="-L$P/lib" \
            ./configure --host="$HOST" --prefix="$P" $f >"$W/_configure.log" 2>&1 &&
         make -j"$JOBS" -C lib >"$W/_build.log" 2>&1 &&
         make -C lib install >/dev/null && make -C include install >/dev/null &&
         make install-pkgconfigDATA >/dev/null) || { tail -n 30 "$W"/_*.log >&2; return 1; }
        done_build curl
    fi

    # CMake, not autotools: Debian's patches leave Makefile.am newer than
    # Makefile.in, which would need automake at build time.
    f="-DEVENT__LIBRARY_TYPE=STATIC -DEVENT__DISABLE_TESTS=ON -DEVENT__DISABLE_REGRESS=ON -DEVENT__DISABLE_SAMPLES=ON -DEVENT__DISABLE_BENCHMARK=ON -DEVENT__DISABLE_MBEDTLS=ON -DEVENT__DISABLE_DEBUG_MODE=ON"
    if need_build libevent "$f" openssl; then
        log "$ARCH: libevent ${VER[libevent]}"; workdir libevent
        cmake_lib libevent $f -DOPENSSL_ROOT_DIR="$P" -DOPENSSL_USE_STATIC_LIBS=ON
        done_build libevent
    fi

    f="-DMSGPACK_BUILD_EXAMPLES=OFF -DMSGPACK_BUILD_TESTS=OFF -DMSGPACK_ENABLE_SHARED=OFF -DMSGPACK_ENABLE_STATIC=ON"
    if need_build msgpack-c "$f"; then
        log "$ARCH: msgpack-c ${VER[msgpack-c]}"; workdir msgpack-c
        cmake_lib msgpack-c $f
        done_build msgpack-c
    fi

    f="-DJANSSON_BUILD_SHARED_LIBS=OFF -DJANSSON_EXAMPLES=OFF -DJANSSON_WITHOUT_TESTS=ON -DJANSSON_BUILD_DOCS=OFF"
    if need_build jansson "$f"; then
        log "$ARCH: jansson ${VER[jansson]}"; workdir jansson
        cmake_lib jansson $f
        done_build jansson
    fi

    f="--disable-shared --enable-static --disable-protoc"
    if need_build protobuf-c "$f"; then
        log "$ARCH: protobuf-c ${VER[protobuf-c]}"; workdir protobuf-c
        (cd "$W" && CC=$CC CFLAGS="$CFLAGS_LIB" ./configure --host="$HOST" --prefix="$P" $f \
            >"$W/_configure.log" 2>&1 && make -j"$JOBS" >"$W/_build.log" 2>&1 &&
         make install >/dev/null 2>&1) || { tail -n 30 "$W"/_*.log >&2; return 1; }
        done_build protobuf-c
    fi

    # no cmocka here: the layer configures with FORKCAP_UNIT_TESTS=OFF (older
    # caches hold a placeholder cmocka.pc that nothing may rely on)
    rm -f "$P/lib/pkgconfig/cmocka.pc"
    rm -rf "$A/work"
    [ $((SECONDS - t0)) -lt 2 ] || log "$ARCH: libraries in $((SECONDS - t0)) s"
}

# ---- forkcap ---------------------------------------------------------------
# static_target BUILDDIR DIRS TARGET: configure the project with the layer
# toolchain for $ARCH (only the folders DIRS) and build TARGET.
static_target() {
    local b=$1 dirs=$2 target=$3
    # libraries are linked with -l, which CMake does not track: start over
    # when any library or the toolchain changed since this tree was built
    local key; key=$(cat "$A"/stamps/* "$HERE"/toolchain-*.cmake | sha256sum | cut -c1-16)
    if [ "$(cat "$b.key" 2>/dev/null)" != "$key" ]; then rm -rf "$b"; fi
    cmake -S "$ROOT" -B "$b" -G "Unix Makefiles" -DCMAKE_TOOLCHAIN_FILE="$HERE/toolchain-$ARCH.cmake" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" -DFORKCAP_LAYER_PREFIX="$P" \
        -DFORKCAP_DIRS="$dirs" -DFORKCAP_WERROR=OFF -DFORKCAP_UNIT_TESTS=OFF >"$b.cmake.log" 2>&1 ||
        { tail -n 30 "$b.cmake.log" >&2; return 1; }
    cmake --build "$b" -j"$JOBS" --target "$target" >"$b.build.log" 2>&1 ||
        { grep -m20 -B2 -A5 'error' "$b.build.log" >&2 || tail -n 30 "$b.build.log" >&2; return 1; }
    echo "$key" > "$b.key"
}

build_probe() {
    local b=$BUILD/$ARCH-probe
    static_target "$b" "common/proto;common;tests" intake-post
    mkdir -p "$OUT/probe-$ARCH"
    $STRIP -s -o "$OUT/probe-$ARCH/intake-post" "$(find "$b" -name intake-post -type f -perm -u+x | head -1)"
}

build_forkcap() {
    local b=$BUILD/$ARCH t0=$SECONDS
    static_target "$b" "common/proto;common;lifecycle;flusher;supervisor" forkcap
    # -Werror is the development builds' gate (gcc and clang on glibc); musl's
    # headers lack some of glibc's attributes, so gcc's flow warnings differ.
    local nw; nw=$(grep -c 'warning:' "$b.build.log" || true)
    [ "$nw" = 0 ] || log "$ARCH: $nw compiler warnings in the musl build, see $b.build.log"
    local stage=$b/stage
    rm -rf "$stage"; mkdir -p "$stage/extensions"
    $STRIP -s -o "$stage/extensions/$NAME" "$b/supervisor/forkcap"
    chmod 755 "$stage/extensions/$NAME"
    # fixed timestamps, so the same input gives the same zip
    touch -d @0 "$stage/extensions" "$stage/extensions/$NAME"
    local zipf=$OUT/forkcap-layer-$ARCH.zip
    rm -f "$zipf.tmp"
    (cd "$stage" && zip -q -X -9 "$zipf.tmp" extensions "extensions/$NAME")
    mv -f "$zipf.tmp" "$zipf"
    log "$ARCH: $zipf ($(stat -c %s "$zipf") bytes; extensions/$NAME $(stat -c %s "$stage/extensions/$NAME") bytes; forkcap in $((SECONDS - t0)) s)"
}

for arch in $ARCHES; do
    setup_arch "$arch"
    # one build per arch cache at a time (tests and people share the cache)
    exec 8>"$A/.lock"; flock 8
    build_libs
    build_forkcap
    [ "$PROBE" = 0 ] || build_probe
    exec 8>&-
done
