# libFuzzer targets for what crosses a process boundary: the frame decoder,
# the supervisor's side of a child link, the lifecycle's HTTP response parser,
# the start-up scan of the environment, configuration's URL and DD_TAGS
# parsers. Built only with FORKCAP_FUZZ
# (clang); ctest runs each for a few seconds from the seeds (read-only).
if(FORKCAP_FUZZ)
  set(FZ_DIR ${FORKCAP_TESTS}/fuzz)
  set(FZ_COMMON ${PROJECT_SOURCE_DIR}/common)
  set(FZ_CODEC ${FZ_COMMON}/frame.c ${FZ_COMMON}/mpwalk.c)
  add_executable(fuzz_frame ${FZ_DIR}/fuzz_frame.c ${FZ_CODEC})
  add_executable(fuzz_peer ${FZ_DIR}/fuzz_peer.c ${FZ_CODEC} ${FZ_COMMON}/peer.c ${FZ_COMMON}/clock.c)
  target_link_libraries(fuzz_peer PRIVATE PkgConfig::EVENT)
  foreach(t fuzz_frame fuzz_peer)
    target_link_libraries(${t} PRIVATE PkgConfig::MSGPACK)
    target_include_directories(${t} PRIVATE ${FZ_COMMON})
    target_compile_options(${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${t} PRIVATE -fsanitize=fuzzer,address,undefined)
  endforeach()
  add_test(NAME fuzz_frame
           COMMAND fuzz_frame -max_total_time=5 -max_len=65536 -rss_limit_mb=1024
                   -seed_inputs=${FZ_DIR}/seeds/registered.bin,${FZ_DIR}/seeds/logs.bin,${FZ_DIR}/seeds/invoke.bin,${FZ_DIR}/seeds/platform.bin,${FZ_DIR}/seeds/context.bin)
  add_test(NAME fuzz_peer
           COMMAND fuzz_peer -max_total_time=5 -max_len=65536 -rss_limit_mb=1024
                   -seed_inputs=${FZ_DIR}/seeds/stream.bin)
  add_executable(fuzz_lc_http ${FZ_DIR}/fuzz_lc_http.c ${PROJECT_SOURCE_DIR}/lifecycle/lc_http.c
                 ${FZ_COMMON}/config.c ${FZ_COMMON}/log.c ${FZ_COMMON}/url.c ${FZ_COMMON}/tags.c
                 ${FZ_COMMON}/utf8.c)
  target_include_directories(fuzz_lc_http PRIVATE ${FZ_COMMON} ${PROJECT_SOURCE_DIR}/lifecycle)
  target_compile_options(fuzz_lc_http PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_lc_http PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_lc_http PRIVATE PkgConfig::EVENT)
  add_test(NAME fuzz_lc_http
           COMMAND fuzz_lc_http -max_total_time=5 -max_len=8192 -rss_limit_mb=1024
                   -seed_inputs=${FZ_DIR}/seeds/http_cl.txt,${FZ_DIR}/seeds/http_chunked.txt)
  # configuration's parsers of outside input: URLs, DD_TAGS, runtime names
  add_executable(fuzz_url_tags ${FZ_DIR}/fuzz_url_tags.c ${FZ_COMMON}/url.c ${FZ_COMMON}/tags.c
                 ${FZ_COMMON}/utf8.c ${PROJECT_SOURCE_DIR}/flusher/fl_runtime.c)
  target_include_directories(fuzz_url_tags PRIVATE ${FZ_COMMON} ${PROJECT_SOURCE_DIR}/flusher)
  target_compile_options(fuzz_url_tags PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_url_tags PRIVATE -fsanitize=fuzzer,address,undefined)
  add_test(NAME fuzz_url_tags
           COMMAND fuzz_url_tags -max_total_time=5 -max_len=4096 -rss_limit_mb=1024)
  add_executable(fuzz_cfg_vars ${FZ_DIR}/fuzz_cfg_vars.c ${FZ_COMMON}/cfg_vars.c)
  target_include_directories(fuzz_cfg_vars PRIVATE ${FZ_COMMON})
  target_compile_options(fuzz_cfg_vars PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_cfg_vars PRIVATE -fsanitize=fuzzer,address,undefined)
  add_test(NAME fuzz_cfg_vars
           COMMAND fuzz_cfg_vars -max_total_time=5 -max_len=4096 -rss_limit_mb=1024
                   -seed_inputs=${FZ_DIR}/seeds/environ.txt)
  set_tests_properties(fuzz_frame fuzz_peer fuzz_lc_http fuzz_cfg_vars fuzz_url_tags PROPERTIES LABELS "fuzz" TIMEOUT 60)
endif()
