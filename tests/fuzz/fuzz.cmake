# libFuzzer targets for what crosses a process boundary: the frame decoder
# and the supervisor's side of a child link. Built only with FORKCAP_FUZZ
# (clang); ctest runs each for a few seconds from the seeds (read-only).
if(FORKCAP_FUZZ)
  set(FZ_DIR ${FORKCAP_TESTS}/fuzz)
  set(FZ_COMMON ${PROJECT_SOURCE_DIR}/common)
  add_executable(fuzz_frame ${FZ_DIR}/fuzz_frame.c ${FZ_COMMON}/frame.c)
  add_executable(fuzz_peer ${FZ_DIR}/fuzz_peer.c ${FZ_COMMON}/frame.c ${FZ_COMMON}/peer.c)
  target_link_libraries(fuzz_peer PRIVATE PkgConfig::EVENT)
  foreach(t fuzz_frame fuzz_peer)
    target_include_directories(${t} PRIVATE ${FZ_COMMON})
    target_compile_options(${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${t} PRIVATE -fsanitize=fuzzer,address,undefined)
  endforeach()
  add_test(NAME fuzz_frame
           COMMAND fuzz_frame -max_total_time=5 -max_len=65536 -rss_limit_mb=1024
                   -seed_inputs=${FZ_DIR}/seeds/registered.bin,${FZ_DIR}/seeds/logs.bin,${FZ_DIR}/seeds/invoke.bin)
  add_test(NAME fuzz_peer
           COMMAND fuzz_peer -max_total_time=5 -max_len=65536 -rss_limit_mb=1024
                   -seed_inputs=${FZ_DIR}/seeds/stream.bin)
  set_tests_properties(fuzz_frame fuzz_peer PROPERTIES LABELS "fuzz" TIMEOUT 60)
endif()
