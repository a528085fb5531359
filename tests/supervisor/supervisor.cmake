# The supervisor's machinery without its main (fc_supervisor): the process
# table on a fake system (tests/lib/fake_sys.c, shared with the router's
# test and fuzz target), the shutdown machine on a fake clock (unit), and a
# libFuzzer target routing arbitrary frames from either child.
if(TARGET fc_supervisor AND TARGET PkgConfig::CMOCKA)
  add_executable(test_sup_shutdown ${FORKCAP_TESTS}/supervisor/test_shutdown.c
                 ${PROJECT_SOURCE_DIR}/supervisor/sup_shutdown.c)
  target_include_directories(test_sup_shutdown PRIVATE ${PROJECT_SOURCE_DIR}/supervisor)
  target_link_libraries(test_sup_shutdown PRIVATE fc_common PkgConfig::EVENT PkgConfig::CMOCKA)
  add_executable(test_sup_proc ${FORKCAP_TESTS}/supervisor/test_sup_proc.c
                 ${PROJECT_SOURCE_DIR}/supervisor/sup_proc.c ${FORKCAP_TESTS}/lib/fake_sys.c)
  target_include_directories(test_sup_proc PRIVATE ${PROJECT_SOURCE_DIR}/supervisor ${FORKCAP_TESTS}/lib)
  target_link_libraries(test_sup_proc PRIVATE fc_common PkgConfig::EVENT PkgConfig::CMOCKA)
  # the router with the real rows: the children's libraries resolve the
  # entry points, never called (the fake system does not fork)
  if(TARGET fc_lifecycle AND TARGET fc_flusher)
    add_executable(test_sup_route ${FORKCAP_TESTS}/supervisor/test_sup_route.c ${FORKCAP_TESTS}/lib/fake_sys.c)
    target_include_directories(test_sup_route PRIVATE ${FORKCAP_TESTS}/lib)
    target_link_libraries(test_sup_route PRIVATE fc_supervisor fc_lifecycle fc_flusher fc_common
                          PkgConfig::CMOCKA)
    add_test(NAME unit_test_sup_route COMMAND test_sup_route)
    set_tests_properties(unit_test_sup_route PROPERTIES LABELS "unit" TIMEOUT 60)
  endif()
  foreach(t test_sup_shutdown test_sup_proc)
    add_test(NAME unit_${t} COMMAND ${t})
    set_tests_properties(unit_${t} PROPERTIES LABELS "unit" TIMEOUT 60)
  endforeach()
endif()

# libFuzzer: scripts of frames (any type, either child), raw link bytes,
# deaths, clock steps and timers through the supervisor's routing on a fake
# system. The supervisor's sources are compiled in (instrumented); the
# children's libraries only resolve the entry points, never called.
if(FORKCAP_FUZZ AND TARGET fc_lifecycle AND TARGET fc_flusher)
  set(SUP_DIR ${PROJECT_SOURCE_DIR}/supervisor)
  add_executable(fuzz_sup_route ${FORKCAP_TESTS}/supervisor/fuzz_sup_route.c ${SUP_DIR}/sup_route.c
                 ${SUP_DIR}/sup_proc.c ${SUP_DIR}/sup_shutdown.c ${SUP_DIR}/sup_sched.c ${SUP_DIR}/sup_spool.c ${SUP_DIR}/sup_inv.c
                 ${SUP_DIR}/sup_stats.c ${SUP_DIR}/sup_children.c ${FORKCAP_TESTS}/lib/fake_sys.c)
  target_include_directories(fuzz_sup_route PRIVATE ${SUP_DIR} ${FORKCAP_TESTS}/lib)
  target_compile_options(fuzz_sup_route PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_sup_route PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_sup_route PRIVATE fc_lifecycle fc_flusher fc_common PkgConfig::JANSSON)
  add_test(NAME fuzz_sup_route
           COMMAND fuzz_sup_route -max_total_time=5 -max_len=4096 -rss_limit_mb=1024
                   -seed_inputs=${FORKCAP_TESTS}/supervisor/seeds/route1.bin)
  set_tests_properties(fuzz_sup_route PROPERTIES LABELS "fuzz" TIMEOUT 60)
endif()

# libFuzzer: event sequences through the shutdown machine (pure, no I/O).
if(FORKCAP_FUZZ)
  add_executable(fuzz_sup_shutdown ${FORKCAP_TESTS}/supervisor/fuzz_sup_shutdown.c
                 ${PROJECT_SOURCE_DIR}/supervisor/sup_shutdown.c)
  target_include_directories(fuzz_sup_shutdown PRIVATE ${PROJECT_SOURCE_DIR}/supervisor
                             ${PROJECT_SOURCE_DIR}/common)
  target_link_libraries(fuzz_sup_shutdown PRIVATE PkgConfig::EVENT)
  target_compile_options(fuzz_sup_shutdown PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_sup_shutdown PRIVATE -fsanitize=fuzzer,address,undefined)
  add_test(NAME fuzz_sup_shutdown COMMAND fuzz_sup_shutdown -max_total_time=5 -max_len=512 -rss_limit_mb=1024)
  set_tests_properties(fuzz_sup_shutdown PROPERTIES LABELS "fuzz" TIMEOUT 60)
endif()
