# The supervisor's machinery without its main (fc_supervisor): the process
# table on a fake system, the shutdown machine on a fake clock (unit), and a
# libFuzzer target routing arbitrary frames from either child.
if(TARGET fc_supervisor)
  add_executable(test_sup_shutdown ${FORKCAP_TESTS}/supervisor/test_shutdown.c
                 ${PROJECT_SOURCE_DIR}/supervisor/sup_shutdown.c)
  target_include_directories(test_sup_shutdown PRIVATE ${PROJECT_SOURCE_DIR}/supervisor)
  target_link_libraries(test_sup_shutdown PRIVATE fc_common PkgConfig::EVENT PkgConfig::CMOCKA)
  add_executable(test_sup_proc ${FORKCAP_TESTS}/supervisor/test_sup_proc.c
                 ${PROJECT_SOURCE_DIR}/supervisor/sup_proc.c)
  target_include_directories(test_sup_proc PRIVATE ${PROJECT_SOURCE_DIR}/supervisor)
  target_link_libraries(test_sup_proc PRIVATE fc_common PkgConfig::EVENT PkgConfig::CMOCKA)
  foreach(t test_sup_shutdown test_sup_proc)
    add_test(NAME unit_${t} COMMAND ${t})
    set_tests_properties(unit_${t} PROPERTIES LABELS "unit" TIMEOUT 60)
  endforeach()
endif()
