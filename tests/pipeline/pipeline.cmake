# The flusher's pipeline (flusher/fl_pipe): a cmocka test that drives it with
# frames and a fake intake, and end-to-end tests of issue 5 (logs, enhanced
# and DogStatsD metrics at the fake intake; kills mid-flush and mid-delivery;
# a telemetry flood) under lambda-sim.
if(TARGET fc_flusher AND TARGET PkgConfig::CMOCKA)
  add_executable(test_fl_pipe ${FORKCAP_TESTS}/pipeline/test_fl_pipe.c)
  target_link_libraries(test_fl_pipe PRIVATE fc_flusher PkgConfig::CMOCKA PkgConfig::JANSSON)
  add_test(NAME pipeline_unit COMMAND test_fl_pipe)
  set_tests_properties(pipeline_unit PROPERTIES LABELS "unit" TIMEOUT 60)
  # DD_TAGS, the function tag set, runtime detection on fake /proc trees
  add_executable(test_fl_tags ${FORKCAP_TESTS}/pipeline/test_fl_tags.c)
  target_link_libraries(test_fl_tags PRIVATE fc_flusher PkgConfig::CMOCKA)
  add_test(NAME pipeline_tags COMMAND test_fl_tags)
  set_tests_properties(pipeline_tags PROPERTIES LABELS "unit" TIMEOUT 60)
endif()

# End-to-end (need the lifecycle's telemetry listener for logs and platform
# metrics). Arguments: lambda-sim, forkcap, fake-intake, the CA script.
if(TARGET lambda-sim AND TARGET forkcap AND TARGET fake-intake)
  set(PIPE_ARGS $<TARGET_FILE:lambda-sim> $<TARGET_FILE:forkcap> $<TARGET_FILE:fake-intake>
      ${FORKCAP_TESTS}/lib/make-ca.sh)
  add_test(NAME pipeline_delivery COMMAND bash ${FORKCAP_TESTS}/pipeline/delivery.sh ${PIPE_ARGS})
  set_tests_properties(pipeline_delivery PROPERTIES LABELS "e2e" TIMEOUT 120)
  add_test(NAME pipeline_flood COMMAND bash ${FORKCAP_TESTS}/pipeline/flood.sh ${PIPE_ARGS})
  set_tests_properties(pipeline_flood PROPERTIES LABELS "e2e" TIMEOUT 180)
  add_test(NAME pipeline_kills COMMAND bash ${FORKCAP_TESTS}/pipeline/kills.sh ${PIPE_ARGS})
  set_tests_properties(pipeline_kills PROPERTIES LABELS "crash" TIMEOUT 180)
  add_test(NAME pipeline_backpressure COMMAND bash ${FORKCAP_TESTS}/pipeline/backpressure.sh ${PIPE_ARGS})
  set_tests_properties(pipeline_backpressure PROPERTIES LABELS "e2e" TIMEOUT 180)
  add_test(NAME pipeline_exactly_once COMMAND bash ${FORKCAP_TESTS}/pipeline/exactly_once.sh ${PIPE_ARGS})
  set_tests_properties(pipeline_exactly_once PROPERTIES LABELS "crash" TIMEOUT 240)
  add_test(NAME pipeline_split_413 COMMAND bash ${FORKCAP_TESTS}/pipeline/split_413.sh ${PIPE_ARGS})
  set_tests_properties(pipeline_split_413 PROPERTIES LABELS "e2e" TIMEOUT 120)
  add_test(NAME pipeline_split_413_metrics COMMAND bash ${FORKCAP_TESTS}/pipeline/split_413_metrics.sh ${PIPE_ARGS})
  set_tests_properties(pipeline_split_413_metrics PROPERTIES LABELS "e2e" TIMEOUT 120)
  add_test(NAME pipeline_statsd_kills COMMAND bash ${FORKCAP_TESTS}/pipeline/statsd_kills.sh ${PIPE_ARGS})
  set_tests_properties(pipeline_statsd_kills PROPERTIES LABELS "crash" TIMEOUT 180)
  add_test(NAME pipeline_statsd_drops COMMAND bash ${FORKCAP_TESTS}/pipeline/statsd_drops.sh
           $<TARGET_FILE:lambda-sim> $<TARGET_FILE:forkcap>)
  set_tests_properties(pipeline_statsd_drops PROPERTIES LABELS "e2e" TIMEOUT 60)
  # a Node.js runtime sending DogStatsD through hot-shots (installed from npm
  # into the build folder) and as datadog-lambda-js does; skipped (77) when
  # the registry cannot be reached
  add_test(NAME pipeline_function_tags
           COMMAND bash ${FORKCAP_TESTS}/pipeline/function_tags.sh ${PIPE_ARGS}
                   ${CMAKE_BINARY_DIR}/pipeline-npm)
  set_tests_properties(pipeline_function_tags PROPERTIES LABELS "e2e" TIMEOUT 360 SKIP_RETURN_CODE 77)
  # the runtime tag with Lambda's environment, in a PID namespace of its own
  add_test(NAME pipeline_runtime_tag COMMAND bash ${FORKCAP_TESTS}/pipeline/runtime_tag.sh ${PIPE_ARGS})
  set_tests_properties(pipeline_runtime_tag PROPERTIES LABELS "e2e" TIMEOUT 180 SKIP_RETURN_CODE 77)
endif()

# libFuzzer: scripts of frames, datagrams and intake outcomes through the
# pipeline (the pipeline and the parsers it drives instrumented; the rest of
# the flusher linked from fc_flusher).
if(FORKCAP_FUZZ AND TARGET fc_flusher)
  add_executable(fuzz_fl_pipe ${FORKCAP_TESTS}/pipeline/fuzz_fl_pipe.c
                 ${PROJECT_SOURCE_DIR}/flusher/fl_pipe.c ${PROJECT_SOURCE_DIR}/flusher/logs.c
                 ${PROJECT_SOURCE_DIR}/flusher/enhanced.c ${PROJECT_SOURCE_DIR}/flusher/metrics.c
                 ${PROJECT_SOURCE_DIR}/flusher/dogstatsd.c ${PROJECT_SOURCE_DIR}/flusher/fl_ckpt.c)
  target_compile_options(fuzz_fl_pipe PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_fl_pipe PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_fl_pipe PRIVATE fc_flusher)
  add_test(NAME fuzz_fl_pipe
           COMMAND fuzz_fl_pipe -max_total_time=5 -max_len=8192 -rss_limit_mb=1024
                   -seed_inputs=${FORKCAP_TESTS}/pipeline/seeds/script1.bin)
  set_tests_properties(fuzz_fl_pipe PROPERTIES LABELS "fuzz" TIMEOUT 60)
endif()
