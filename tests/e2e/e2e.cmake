# End-to-end tests of forkcap on lambda-sim (bash). Each takes seconds.
if(TARGET lambda-sim AND TARGET forkcap)
  foreach(t invocations proxy_env idle sigterm cli bad_urls refusals)
    add_test(NAME e2e_${t}
             COMMAND bash ${FORKCAP_TESTS}/e2e/${t}.sh $<TARGET_FILE:lambda-sim> $<TARGET_FILE:forkcap>)
    set_tests_properties(e2e_${t} PROPERTIES LABELS "e2e" TIMEOUT 120)
  endforeach()
  add_test(NAME e2e_coldstart_ca
           COMMAND bash ${FORKCAP_TESTS}/e2e/coldstart_ca.sh $<TARGET_FILE:lambda-sim>
                   $<TARGET_FILE:forkcap> ${FORKCAP_TESTS}/lib/make-ca.sh)
  set_tests_properties(e2e_coldstart_ca PROPERTIES LABELS "e2e" TIMEOUT 180)
endif()
if(TARGET forkcap)
  add_test(NAME e2e_unresolvable_runtime_api
           COMMAND bash ${FORKCAP_TESTS}/e2e/unresolvable.sh $<TARGET_FILE:forkcap>)
  set_tests_properties(e2e_unresolvable_runtime_api PROPERTIES LABELS "e2e" TIMEOUT 60)
endif()
if(TARGET forkcap AND TARGET fake-intake)
  add_test(NAME e2e_check
           COMMAND bash ${FORKCAP_TESTS}/e2e/check.sh $<TARGET_FILE:forkcap> $<TARGET_FILE:fake-intake>
                   ${FORKCAP_TESTS}/lib/make-ca.sh)
  set_tests_properties(e2e_check PROPERTIES LABELS "e2e" TIMEOUT 120)
endif()
if(TARGET forkcap AND TARGET lambda-sim AND TARGET fake-intake)
  add_test(NAME e2e_demo COMMAND bash ${FORKCAP_TESTS}/e2e/demo.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(e2e_demo PROPERTIES LABELS "e2e" TIMEOUT 120)
endif()
