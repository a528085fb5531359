# lambda-sim's own tests: bash scripts driving deploy/sim's simulator with
# small curl extensions under tests/sim/, plus a C telemetry listener helper.
if(TARGET lambda-sim)
  add_executable(sim_listener ${FORKCAP_TESTS}/sim/sim_listener.c)
  target_link_libraries(sim_listener PRIVATE PkgConfig::EVENT)
  file(GLOB SIM_TESTS CONFIGURE_DEPENDS ${FORKCAP_TESTS}/sim/test_*.sh)
  foreach(t ${SIM_TESTS})
    get_filename_component(n ${t} NAME_WE)
    add_test(NAME sim_${n} COMMAND bash ${t} $<TARGET_FILE:lambda-sim>
             $<TARGET_FILE:sim_listener> ${FORKCAP_TESTS}/sim)
    set_tests_properties(sim_${n} PROPERTIES LABELS "sim" TIMEOUT 60)
  endforeach()
endif()
