# Transport tests: the flusher's intake client (flusher/intake*.c,
# flusher/endpoints.c). The sources are compiled here into fl_transport so
# this group builds whether or not flusher/ has its own target yet.
if(TARGET fc_common)
  set(FL_TRANSPORT_SRCS
      ${CMAKE_SOURCE_DIR}/flusher/intake.c
      ${CMAKE_SOURCE_DIR}/flusher/intake_retry.c
      ${CMAKE_SOURCE_DIR}/flusher/intake_session.c
      ${CMAKE_SOURCE_DIR}/flusher/intake_tls.c
      ${CMAKE_SOURCE_DIR}/flusher/intake_proxy.c
      ${CMAKE_SOURCE_DIR}/flusher/endpoints.c)
  add_library(fl_transport STATIC ${FL_TRANSPORT_SRCS})
  target_include_directories(fl_transport PUBLIC ${CMAKE_SOURCE_DIR}/flusher)
  target_link_libraries(fl_transport PUBLIC fc_common PkgConfig::CURL PkgConfig::EVENT
                        PkgConfig::OPENSSL PkgConfig::ZSTD PkgConfig::JANSSON)

  add_executable(intake-post ${CMAKE_CURRENT_LIST_DIR}/intake_post.c)
  target_link_libraries(intake-post PRIVATE fl_transport)

  if(TARGET PkgConfig::CMOCKA)
    foreach(t endpoints intake_proxy intake_tls)
      add_executable(test_${t} ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c)
      target_link_libraries(test_${t} PRIVATE fl_transport PkgConfig::CMOCKA)
      add_test(NAME transport_${t} COMMAND test_${t})
      set_tests_properties(transport_${t} PROPERTIES LABELS unit TIMEOUT 30
                           ENVIRONMENT "FORKCAP_MAKE_CA=${CMAKE_CURRENT_LIST_DIR}/../lib/make-ca.sh")
    endforeach()
  endif()

  if(FORKCAP_FUZZ)
    # the two parsers are built into the target itself, so they are
    # instrumented for coverage (they depend on libc only)
    add_executable(fuzz_transport_env ${CMAKE_CURRENT_LIST_DIR}/fuzz_transport_env.c
                   ${CMAKE_SOURCE_DIR}/flusher/endpoints.c ${CMAKE_SOURCE_DIR}/flusher/intake_proxy.c
                   ${CMAKE_SOURCE_DIR}/common/url.c ${CMAKE_SOURCE_DIR}/common/errbuf.c)
    target_include_directories(fuzz_transport_env PRIVATE ${CMAKE_SOURCE_DIR}/flusher
                               ${CMAKE_SOURCE_DIR}/common)
    target_compile_options(fuzz_transport_env PRIVATE -fsanitize=fuzzer,address)
    target_link_options(fuzz_transport_env PRIVATE -fsanitize=fuzzer,address)
    add_test(NAME transport_fuzz_env COMMAND fuzz_transport_env -max_total_time=5)
    set_tests_properties(transport_fuzz_env PROPERTIES LABELS fuzz TIMEOUT 60)
  endif()

  if(TARGET fake-intake)
    foreach(t tls proxy fresh failures)
      add_test(NAME transport_e2e_${t}
               COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/e2e_${t}.sh
                       $<TARGET_FILE:intake-post> $<TARGET_FILE:fake-intake>)
      set_tests_properties(transport_e2e_${t} PROPERTIES LABELS e2e TIMEOUT 120)
    endforeach()
  endif()
endif()

# the stale-connection class, end to end: freeze/thaw + an intake that drops
# idle connections, 200 invocations flushed at their end
if(TARGET lambda-sim AND TARGET forkcap AND TARGET fake-intake)
  add_test(NAME transport_e2e_freeze_stale
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/e2e_freeze_stale.sh $<TARGET_FILE:lambda-sim>
                   $<TARGET_FILE:forkcap> $<TARGET_FILE:fake-intake> ${FORKCAP_TESTS}/lib/make-ca.sh 200)
  set_tests_properties(transport_e2e_freeze_stale PROPERTIES LABELS e2e TIMEOUT 240)
endif()
