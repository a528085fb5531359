# Telemetry parser (lifecycle/telemetry.c) and log batcher (flusher/logs.c):
# unit tests, and libFuzzer targets when FORKCAP_FUZZ is on. The sources are
# compiled in directly so the group does not depend on the folder libraries.
set(TELE_DIR ${FORKCAP_TESTS}/telemetry)
set(TELE_PARSER ${PROJECT_SOURCE_DIR}/lifecycle/telemetry.c)
set(TELE_LOGS ${PROJECT_SOURCE_DIR}/flusher/logs.c)
# the frame codec (event and source names), instrumented with the rest
set(TELE_FRAME ${PROJECT_SOURCE_DIR}/common/frame.c ${PROJECT_SOURCE_DIR}/common/mpwalk.c
    ${PROJECT_SOURCE_DIR}/common/utf8.c)

if(TARGET fc_common AND TARGET PkgConfig::CMOCKA)
  add_executable(test_telemetry ${TELE_DIR}/test_telemetry.c ${TELE_PARSER})
  target_include_directories(test_telemetry PRIVATE ${PROJECT_SOURCE_DIR}/lifecycle)
  target_link_libraries(test_telemetry PRIVATE fc_common PkgConfig::JANSSON PkgConfig::CMOCKA m)
  add_test(NAME telemetry_parse COMMAND test_telemetry)
  set_tests_properties(telemetry_parse PROPERTIES LABELS "unit" TIMEOUT 60)

  add_executable(test_logs ${TELE_DIR}/test_logs.c ${TELE_LOGS})
  target_include_directories(test_logs PRIVATE ${PROJECT_SOURCE_DIR}/flusher)
  target_link_libraries(test_logs PRIVATE fc_common PkgConfig::JANSSON PkgConfig::CMOCKA)
  add_test(NAME telemetry_logs COMMAND test_logs)
  set_tests_properties(telemetry_logs PROPERTIES LABELS "unit" TIMEOUT 60)
endif()

if(FORKCAP_FUZZ)
  foreach(t fuzz_telemetry fuzz_logs)
    add_executable(${t} ${TELE_DIR}/${t}.c ${TELE_PARSER} ${TELE_LOGS} ${TELE_FRAME})
    target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR}/lifecycle
                                             ${PROJECT_SOURCE_DIR}/flusher ${PROJECT_SOURCE_DIR}/common)
    target_compile_options(${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${t} PRIVATE PkgConfig::JANSSON PkgConfig::MSGPACK m)
    # Seeds are read, never written: the corpus stays in the build dir.
    add_test(NAME ${t}
             COMMAND ${t} -max_total_time=5 -max_len=65536 -rss_limit_mb=1024
                     -seed_inputs=${TELE_DIR}/seeds/batch.json,${TELE_DIR}/seeds/logs.json)
    set_tests_properties(${t} PROPERTIES LABELS "fuzz" TIMEOUT 60)
  endforeach()
endif()
# fuzz_tele_values: schema-valid batches with hostile values, through the
# parser, the Datadog line and enhanced metrics (input = value choices).
if(FORKCAP_FUZZ)
  set(TELE_ENH ${PROJECT_SOURCE_DIR}/flusher/enhanced.c ${PROJECT_SOURCE_DIR}/flusher/metrics.c
               ${PROJECT_SOURCE_DIR}/flusher/ddsketch.c ${PROJECT_SOURCE_DIR}/common/tags.c)
  add_executable(fuzz_tele_values ${TELE_DIR}/fuzz_tele_values.c ${TELE_PARSER} ${TELE_LOGS} ${TELE_FRAME}
                 ${TELE_ENH})
  target_include_directories(fuzz_tele_values PRIVATE ${PROJECT_SOURCE_DIR}/lifecycle
                                                      ${PROJECT_SOURCE_DIR}/flusher ${PROJECT_SOURCE_DIR}/common)
  target_compile_options(fuzz_tele_values PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_tele_values PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_tele_values PRIVATE PkgConfig::JANSSON PkgConfig::MSGPACK m)
  add_test(NAME fuzz_tele_values COMMAND fuzz_tele_values -max_total_time=5 -max_len=4096 -rss_limit_mb=1024)
  set_tests_properties(fuzz_tele_values PROPERTIES LABELS "fuzz" TIMEOUT 60)
endif()
