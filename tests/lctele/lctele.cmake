# Telemetry API subscription and listener of the lifecycle child: unit tests
# (request parser, batch -> frames, peer drained), end-to-end tests under
# lambda-sim, and a libFuzzer target for the listener's request parser.
set(LCTELE_DIR ${FORKCAP_TESTS}/lctele)
if(TARGET fc_lifecycle AND TARGET fc_common AND TARGET PkgConfig::CMOCKA)
  add_executable(test_lctele ${LCTELE_DIR}/test_lctele.c)
  target_link_libraries(test_lctele PRIVATE fc_lifecycle fc_common PkgConfig::CMOCKA)
  add_test(NAME lctele_unit COMMAND test_lctele)
  set_tests_properties(lctele_unit PROPERTIES LABELS "unit" TIMEOUT 60)
endif()
if(TARGET lambda-sim AND TARGET forkcap)
  foreach(t subscribe by_hand kill_lifecycle)
    if(EXISTS ${LCTELE_DIR}/${t}.sh)
      add_test(NAME lctele_${t}
               COMMAND bash ${LCTELE_DIR}/${t}.sh $<TARGET_FILE:lambda-sim> $<TARGET_FILE:forkcap>)
      set_tests_properties(lctele_${t} PROPERTIES LABELS "e2e" TIMEOUT 120)
    endif()
  endforeach()
endif()
if(FORKCAP_FUZZ)
  add_executable(fuzz_lc_req ${LCTELE_DIR}/fuzz_lc_req.c ${PROJECT_SOURCE_DIR}/lifecycle/lc_req.c)
  target_include_directories(fuzz_lc_req PRIVATE ${PROJECT_SOURCE_DIR}/lifecycle)
  target_compile_options(fuzz_lc_req PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_lc_req PRIVATE -fsanitize=fuzzer,address,undefined)
  add_test(NAME fuzz_lc_req COMMAND fuzz_lc_req -max_total_time=5 -max_len=65536 -rss_limit_mb=1024
                                    -seed_inputs=${LCTELE_DIR}/seeds/post.txt,${LCTELE_DIR}/seeds/chunked.txt)
  set_tests_properties(fuzz_lc_req PROPERTIES LABELS "fuzz" TIMEOUT 60)
  set(LCTELE_SRC ${PROJECT_SOURCE_DIR}/lifecycle)
  add_executable(fuzz_lc_build ${LCTELE_DIR}/fuzz_lc_build.c ${LCTELE_SRC}/lc_batch.c
                 ${LCTELE_SRC}/lc_req.c ${LCTELE_SRC}/telemetry.c ${PROJECT_SOURCE_DIR}/common/frame.c
                 ${PROJECT_SOURCE_DIR}/common/mpwalk.c ${PROJECT_SOURCE_DIR}/common/utf8.c
                 ${PROJECT_SOURCE_DIR}/common/peer.c ${PROJECT_SOURCE_DIR}/common/log.c
                 ${PROJECT_SOURCE_DIR}/common/clock.c)
  target_include_directories(fuzz_lc_build PRIVATE ${LCTELE_SRC} ${PROJECT_SOURCE_DIR}/common)
  target_compile_options(fuzz_lc_build PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_lc_build PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_lc_build PRIVATE PkgConfig::EVENT PkgConfig::JANSSON PkgConfig::MSGPACK m)
  add_test(NAME fuzz_lc_build COMMAND fuzz_lc_build -max_total_time=5 -max_len=65536 -rss_limit_mb=2048
                                      -seed_inputs=${LCTELE_DIR}/seeds/batch.json)
  set_tests_properties(fuzz_lc_build PROPERTIES LABELS "fuzz" TIMEOUT 60)
endif()
# the listener under slow connections (8, 32, 1,000) and a trickling request
if(TARGET fc_lifecycle AND TARGET fc_common AND TARGET PkgConfig::CMOCKA)
  add_executable(test_lc_starve ${LCTELE_DIR}/test_lc_starve.c)
  target_link_libraries(test_lc_starve PRIVATE fc_lifecycle fc_common PkgConfig::CMOCKA)
  add_test(NAME lctele_starve COMMAND test_lc_starve)
  set_tests_properties(lctele_starve PROPERTIES LABELS "unit" TIMEOUT 120)
endif()
