# The flusher's function-facing TCP ports (traces, /lambda): answered, never reset.
if(TARGET fc_flusher)
  add_executable(test_receivers ${FORKCAP_TESTS}/receivers/test_receivers.c)
  target_link_libraries(test_receivers PRIVATE fc_flusher PkgConfig::CMOCKA)
  add_test(NAME receivers_unit COMMAND test_receivers)
  set_tests_properties(receivers_unit PROPERTIES LABELS "unit" TIMEOUT 60)
endif()
