# Layer toolchain for arm64: gcc-aarch64-linux-gnu with the specs of
# Debian's musl-dev:arm64 (its aarch64-linux-musl-gcc wrapper), fully static;
# results run here under qemu-aarch64-static.
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-musl-gcc)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-common.cmake)
# Debian's gcc defaults to outline atomics, whose libgcc helper calls
# glibc's __getauxval: musl has none.
string(APPEND CMAKE_C_FLAGS_INIT " -mno-outline-atomics")
