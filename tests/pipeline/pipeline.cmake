# The flusher's pipeline (flusher/fl_pipe): a cmocka test that drives it with
# frames and a fake intake, and end-to-end tests of issue 5 (logs, enhanced
# and DogStatsD metrics at the fake intake; kills mid-flush and mid-delivery;
# a telemetry flood) under lambda-sim.
if(TARGET fc_flusher)
  add_executable(test_fl_pipe ${FORKCAP_TESTS}/pipeline/test_fl_pipe.c)
  target_link_libraries(test_fl_pipe PRIVATE fc_flusher PkgConfig::CMOCKA PkgConfig::JANSSON)
  add_test(NAME pipeline_unit COMMAND test_fl_pipe)
  set_tests_properties(pipeline_unit PROPERTIES LABELS "unit" TIMEOUT 60)
endif()
