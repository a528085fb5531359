# The supervisor's flush scheduler (supervisor/sup_sched.c): a unit test of
# the pure state machine (compiled in directly: the supervisor is an
# executable), and end-to-end runs of forkcap on lambda-sim + fake-intake.
if(TARGET fc_common AND TARGET PkgConfig::CMOCKA AND EXISTS ${PROJECT_SOURCE_DIR}/supervisor/sup_sched.c)
  add_executable(test_sched ${FORKCAP_TESTS}/sched/test_sched.c ${PROJECT_SOURCE_DIR}/supervisor/sup_sched.c)
  target_include_directories(test_sched PRIVATE ${PROJECT_SOURCE_DIR}/supervisor)
  target_link_libraries(test_sched PRIVATE fc_common PkgConfig::CMOCKA)
  add_test(NAME unit_test_sched COMMAND test_sched)
  set_tests_properties(unit_test_sched PROPERTIES LABELS "unit" TIMEOUT 60)
endif()
if(TARGET lambda-sim AND TARGET forkcap AND TARGET forkcap-testhooks AND TARGET fake-intake)
  foreach(mode end continuously periodically ignore)
    add_test(NAME e2e_sched_${mode}
             COMMAND bash ${FORKCAP_TESTS}/sched/e2e_sched.sh ${mode} $<TARGET_FILE:lambda-sim>
                     $<TARGET_FILE:forkcap> $<TARGET_FILE:forkcap-testhooks> $<TARGET_FILE:fake-intake>
                     ${FORKCAP_TESTS}/lib/make-ca.sh)
    set_tests_properties(e2e_sched_${mode} PROPERTIES LABELS "e2e" TIMEOUT 180)
  endforeach()
endif()
# The circuit breaker end to end: an intake that accepts TCP and never
# answers TLS (blackhole), then comes back (fake-intake on the same port).
if(TARGET lambda-sim AND TARGET forkcap AND TARGET fake-intake)
  add_executable(blackhole ${FORKCAP_TESTS}/sched/blackhole.c)
  foreach(mode down recover)
    add_test(NAME e2e_sched_breaker_${mode}
             COMMAND bash ${FORKCAP_TESTS}/sched/e2e_breaker.sh ${mode} $<TARGET_FILE:lambda-sim>
                     $<TARGET_FILE:forkcap> $<TARGET_FILE:blackhole> $<TARGET_FILE:fake-intake>
                     ${FORKCAP_TESTS}/lib/make-ca.sh)
    set_tests_properties(e2e_sched_breaker_${mode} PROPERTIES LABELS "e2e" TIMEOUT 240)
  endforeach()
endif()
