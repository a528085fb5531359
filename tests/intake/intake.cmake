# Fake intake tests (label "intake"): end-to-end with curl against the real
# binary, one ctest entry per behaviour so they run in parallel.
if(TARGET fake-intake AND TARGET fc_proto)
  add_executable(intake_payload ${FORKCAP_TESTS}/intake/payload.c)
  target_link_libraries(intake_payload PRIVATE fc_proto PkgConfig::MSGPACK PkgConfig::ZLIB m)
  foreach(case basic tls sketch fail idle keepalive malformed proxy signal raw)
    add_test(NAME intake_${case}
             COMMAND bash ${FORKCAP_TESTS}/intake/intake_test.sh ${case}
                     $<TARGET_FILE:fake-intake> $<TARGET_FILE:intake_payload>
                     ${FORKCAP_TESTS}/lib)
    set_tests_properties(intake_${case} PROPERTIES LABELS "intake" TIMEOUT 60 SKIP_RETURN_CODE 77)
  endforeach()

  # parser and decoder unit tests; also labelled unit so the sanitizer
  # build of `make test` runs them
  if(TARGET PkgConfig::CMOCKA)
    foreach(t test_ik_http1 test_ik_decode)
      add_executable(${t} ${FORKCAP_TESTS}/intake/${t}.c)
      target_link_libraries(${t} PRIVATE ik_core PkgConfig::CMOCKA)
      add_test(NAME ${t} COMMAND ${t})
      set_tests_properties(${t} PROPERTIES LABELS "intake;unit" TIMEOUT 60)
    endforeach()
  endif()

  if(FORKCAP_FUZZ)
    set(IK_SRC ${CMAKE_SOURCE_DIR}/deploy/intake)
    add_executable(fuzz_intake_http1 ${FORKCAP_TESTS}/intake/fuzz_http1.c ${IK_SRC}/http1.c)
    target_include_directories(fuzz_intake_http1 PRIVATE ${IK_SRC})
    add_executable(fuzz_intake_decode ${FORKCAP_TESTS}/intake/fuzz_decode.c ${IK_SRC}/decode.c
                   ${CMAKE_SOURCE_DIR}/common/mpwalk.c)
    target_include_directories(fuzz_intake_decode PRIVATE ${IK_SRC} ${CMAKE_SOURCE_DIR}/common)
    target_link_libraries(fuzz_intake_decode PRIVATE fc_proto PkgConfig::JANSSON PkgConfig::ZSTD
                          PkgConfig::ZLIB PkgConfig::MSGPACK m)
    foreach(f fuzz_intake_http1 fuzz_intake_decode)
      target_compile_options(${f} PRIVATE -fsanitize=fuzzer,address,undefined)
      target_link_options(${f} PRIVATE -fsanitize=fuzzer,address,undefined)
      add_test(NAME ${f} COMMAND ${f} -max_total_time=5 -rss_limit_mb=1024)
      set_tests_properties(${f} PROPERTIES LABELS "fuzz" TIMEOUT 60)
    endforeach()
  endif()
endif()
