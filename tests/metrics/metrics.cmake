# Metrics core (flusher/ddsketch, metrics, series_json, sketch_pb, enhanced, msplit,
# dogstatsd): cmocka unit tests and, with FORKCAP_FUZZ, libFuzzer targets. The
# sources are compiled in directly so the group does not depend on the
# flusher library.
if(TARGET fc_proto)
  set(MET_DIR ${FORKCAP_TESTS}/metrics)
  set(MET_SRCS)
  foreach(f ddsketch metrics series_json sketch_pb enhanced dogstatsd msplit)
    list(APPEND MET_SRCS ${PROJECT_SOURCE_DIR}/flusher/${f}.c)
  endforeach()
  list(APPEND MET_SRCS ${PROJECT_SOURCE_DIR}/common/utf8.c ${PROJECT_SOURCE_DIR}/common/tags.c)

  add_library(fc_metrics_core STATIC ${MET_SRCS})
  target_include_directories(fc_metrics_core PUBLIC ${PROJECT_SOURCE_DIR}/flusher
                             ${PROJECT_SOURCE_DIR}/common)
  target_link_libraries(fc_metrics_core PUBLIC fc_proto PkgConfig::JANSSON m)

  if(TARGET PkgConfig::CMOCKA)
    foreach(t ddsketch aggregator encoders enhanced dogstatsd msplit)
      add_executable(test_metrics_${t} ${MET_DIR}/test_${t}.c)
      target_link_libraries(test_metrics_${t} PRIVATE fc_metrics_core PkgConfig::CMOCKA m)
      add_test(NAME metrics_${t} COMMAND test_metrics_${t})
      set_tests_properties(metrics_${t} PROPERTIES LABELS "unit" TIMEOUT 60)
    endforeach()
  endif()

  if(FORKCAP_FUZZ)
    # fuzz_dogstatsd: datagrams through the parser, aggregator and both
    # encoders; fuzz_enhanced: scripted platform event sequences.
    # fuzz_msplit: halving a 413'd series body / SketchPayload.
    foreach(t fuzz_dogstatsd fuzz_enhanced fuzz_msplit)
      add_executable(${t} ${MET_DIR}/${t}.c ${MET_SRCS})
      target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR}/flusher ${PROJECT_SOURCE_DIR}/common)
      target_compile_options(${t} PRIVATE -fsanitize=fuzzer,address,undefined)
      target_link_options(${t} PRIVATE -fsanitize=fuzzer,address,undefined)
      target_link_libraries(${t} PRIVATE fc_proto PkgConfig::JANSSON m)
    endforeach()
    # No corpus directory: nothing is written outside the run.
    add_test(NAME fuzz_dogstatsd
             COMMAND fuzz_dogstatsd -max_total_time=5 -max_len=9000 -rss_limit_mb=1024
                     -seed_inputs=${MET_DIR}/seeds/dogstatsd.txt)
    add_test(NAME fuzz_enhanced
             COMMAND fuzz_enhanced -max_total_time=5 -max_len=4096 -rss_limit_mb=1024)
    add_test(NAME fuzz_msplit
             COMMAND fuzz_msplit -max_total_time=5 -max_len=4096 -rss_limit_mb=1024
                     -seed_inputs=${MET_DIR}/seeds/series.txt,${MET_DIR}/seeds/sketches.bin)
    set_tests_properties(fuzz_dogstatsd fuzz_enhanced fuzz_msplit PROPERTIES LABELS "fuzz" TIMEOUT 60)
  endif()
endif()
