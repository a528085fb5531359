# Bench helpers (tests/bench/run.sh, `make bench`): figures, not tests; the
# one test here checks the chart writer on a real (tiny) run's bench.json. bench-spawn times fork+exec+wait; bench-noop-static is a
# do-nothing static program. (Its dynamic twin is linked by run.sh against
# exactly the shared objects the forkcap binary at hand NEEDs.)
# Not in sanitizer builds: figures from them mean nothing, and ASan cannot
# link a static program.
if(NOT FORKCAP_SANITIZE)
  add_executable(bench-spawn ${CMAKE_CURRENT_LIST_DIR}/spawn_time.c)
  add_executable(bench-noop-static ${CMAKE_CURRENT_LIST_DIR}/noop.c)
  target_link_options(bench-noop-static PRIVATE -static)
  add_executable(bench-statsd-send ${CMAKE_CURRENT_LIST_DIR}/statsd_send.c)
endif()
add_test(NAME bench_charts COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/charts_test.sh)
set_tests_properties(bench_charts PROPERTIES LABELS "unit" TIMEOUT 60)
