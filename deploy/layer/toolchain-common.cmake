# Shared part of the layer toolchains: a fully static musl program whose
# every library comes from the layer's prefix (FORKCAP_LAYER_PREFIX, or the
# environment's PKG_CONFIG_LIBDIR set by build.sh), never from the host.
set(CMAKE_SYSTEM_NAME Linux)

if(NOT FORKCAP_LAYER_PREFIX AND DEFINED ENV{FORKCAP_LAYER_PREFIX})
  set(FORKCAP_LAYER_PREFIX $ENV{FORKCAP_LAYER_PREFIX})
endif()
if(FORKCAP_LAYER_PREFIX)
  # the environment reaches try_compile and later re-configures too
  set(ENV{FORKCAP_LAYER_PREFIX} ${FORKCAP_LAYER_PREFIX})
  set(ENV{PKG_CONFIG_LIBDIR} ${FORKCAP_LAYER_PREFIX}/lib/pkgconfig)
  set(ENV{PKG_CONFIG_PATH} "")
  set(CMAKE_FIND_ROOT_PATH ${FORKCAP_LAYER_PREFIX})
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)   # protoc-c runs on the build host
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config --static: Libs.private too (curl needs ssl, nghttp2, z, zstd)
set(PKG_CONFIG_EXECUTABLE ${CMAKE_CURRENT_LIST_DIR}/pkg-config-static CACHE FILEPATH "" FORCE)
set(PKG_CONFIG_ARGN --static CACHE STRING "" FORCE)

# Static libraries only, and a group around them so their order never
# matters; unused sections dropped.
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -Wl,--gc-sections")
set(CMAKE_C_FLAGS_INIT "-ffunction-sections -fdata-sections")
set(CMAKE_C_LINK_EXECUTABLE
    "<CMAKE_C_COMPILER> <FLAGS> <CMAKE_C_LINK_FLAGS> <LINK_FLAGS> <OBJECTS> -o <TARGET> -Wl,--start-group <LINK_LIBRARIES> -Wl,--end-group")
