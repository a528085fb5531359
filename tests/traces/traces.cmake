# APM traces: the msgpack decoder and protobuf conversion (flusher/
# trace_decode.c, trace_pb.c), the trace receiver, end-to-end runs. Sources
# compiled in directly so the group does not depend on the flusher library.
if(TARGET fc_proto)
  set(TR_DIR ${FORKCAP_TESTS}/traces)
  set(TR_SRCS ${PROJECT_SOURCE_DIR}/flusher/trace_decode.c ${PROJECT_SOURCE_DIR}/flusher/trace_pb.c
      ${PROJECT_SOURCE_DIR}/common/mpwalk.c ${PROJECT_SOURCE_DIR}/common/utf8.c)
  if(TARGET PkgConfig::CMOCKA)
    add_executable(test_trace_decode ${TR_DIR}/test_trace_decode.c ${TR_SRCS})
    target_include_directories(test_trace_decode PRIVATE ${PROJECT_SOURCE_DIR}/flusher ${PROJECT_SOURCE_DIR}/common)
    target_link_libraries(test_trace_decode PRIVATE fc_proto PkgConfig::MSGPACK PkgConfig::CMOCKA)
    add_test(NAME traces_decode COMMAND test_trace_decode)
    set_tests_properties(traces_decode PROPERTIES LABELS "unit" TIMEOUT 60)
  endif()

  if(FORKCAP_FUZZ)
    # fuzz_trace_decode: bodies as v0.4 and v0.5, through the decoder and the
    # protobuf conversion; every payload produced must unpack.
    add_executable(fuzz_trace_decode ${TR_DIR}/fuzz_trace_decode.c ${TR_SRCS})
    target_include_directories(fuzz_trace_decode PRIVATE ${PROJECT_SOURCE_DIR}/flusher ${PROJECT_SOURCE_DIR}/common)
    target_compile_options(fuzz_trace_decode PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(fuzz_trace_decode PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_trace_decode PRIVATE fc_proto PkgConfig::MSGPACK)
    add_test(NAME fuzz_trace_decode
             COMMAND fuzz_trace_decode -max_total_time=5 -max_len=65536 -rss_limit_mb=1024
                     -seed_inputs=${TR_DIR}/seeds/v04.bin,${TR_DIR}/seeds/v05.bin)
    set_tests_properties(fuzz_trace_decode PROPERTIES LABELS "fuzz" TIMEOUT 60)
  endif()
endif()

# End to end under lambda-sim with a scripted tracer (Node) as the runtime.
# Arguments: lambda-sim, forkcap, fake-intake, the CA script.
if(TARGET lambda-sim AND TARGET forkcap AND TARGET fake-intake)
  set(TR_ARGS $<TARGET_FILE:lambda-sim> $<TARGET_FILE:forkcap> $<TARGET_FILE:fake-intake>
      ${FORKCAP_TESTS}/lib/make-ca.sh)
  add_test(NAME traces_e2e COMMAND bash ${FORKCAP_TESTS}/traces/e2e.sh ${TR_ARGS})
  set_tests_properties(traces_e2e PROPERTIES LABELS "e2e" TIMEOUT 180 SKIP_RETURN_CODE 77)
endif()
if(TARGET lambda-sim AND TARGET forkcap AND TARGET fake-intake)
  add_test(NAME traces_kills COMMAND bash ${FORKCAP_TESTS}/traces/kills.sh ${TR_ARGS})
  set_tests_properties(traces_kills PROPERTIES LABELS "crash" TIMEOUT 180 SKIP_RETURN_CODE 77)
  add_test(NAME traces_universal COMMAND bash ${FORKCAP_TESTS}/traces/universal.sh ${TR_ARGS})
  set_tests_properties(traces_universal PROPERTIES LABELS "e2e" TIMEOUT 120 SKIP_RETURN_CODE 77)
endif()
# dd-trace and datadog-lambda-js from npm (installed once into the build
# folder); exit 77 = skipped when the registry cannot be reached.
if(TARGET lambda-sim AND TARGET forkcap AND TARGET fake-intake)
  add_test(NAME traces_real_tracer
           COMMAND bash ${FORKCAP_TESTS}/traces/real_tracer.sh ${TR_ARGS} ${CMAKE_BINARY_DIR}/traces-npm)
  set_tests_properties(traces_real_tracer PROPERTIES LABELS "e2e" TIMEOUT 360 SKIP_RETURN_CODE 77)
endif()
