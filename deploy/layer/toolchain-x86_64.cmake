# Layer toolchain for x86_64: Debian's musl-gcc (musl-tools), fully static.
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER musl-gcc)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-common.cmake)
