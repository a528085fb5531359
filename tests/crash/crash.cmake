# Crash tests: children killed or misbehaving under lambda-sim (bash).
if(TARGET lambda-sim AND TARGET forkcap)
  foreach(who lifecycle flusher)
    foreach(mode freeze nofreeze)
      add_test(NAME crash_kill_${who}_${mode}
               COMMAND bash ${FORKCAP_TESTS}/crash/kill_child.sh $<TARGET_FILE:lambda-sim>
                       $<TARGET_FILE:forkcap> ${who} ${mode})
      set_tests_properties(crash_kill_${who}_${mode} PROPERTIES LABELS "crash" TIMEOUT 120)
    endforeach()
  endforeach()
endif()
if(TARGET lambda-sim AND TARGET forkcap-testhooks)
  add_test(NAME crash_garbage_frames
           COMMAND bash ${FORKCAP_TESTS}/crash/garbage_frames.sh $<TARGET_FILE:lambda-sim>
                   $<TARGET_FILE:forkcap-testhooks>)
  set_tests_properties(crash_garbage_frames PROPERTIES LABELS "crash" TIMEOUT 120)
endif()
if(TARGET lambda-sim AND TARGET forkcap-testhooks)
  add_test(NAME crash_shutdown_deadline
           COMMAND bash ${FORKCAP_TESTS}/crash/shutdown_deadline.sh $<TARGET_FILE:lambda-sim>
                   $<TARGET_FILE:forkcap-testhooks>)
  set_tests_properties(crash_shutdown_deadline PROPERTIES LABELS "crash" TIMEOUT 60)
endif()
# The crash-isolation matrix, short form (a few cells, asserted); the long
# form is `make crash`.
if(TARGET lambda-sim AND TARGET forkcap-testhooks AND TARGET fake-intake)
  add_test(NAME crash_matrix_short
           COMMAND bash ${FORKCAP_TESTS}/crash/matrix.sh $<TARGET_FILE:lambda-sim>
                   $<TARGET_FILE:forkcap-testhooks> $<TARGET_FILE:fake-intake>
                   ${FORKCAP_TESTS}/lib/make-ca.sh short)
  set_tests_properties(crash_matrix_short PROPERTIES LABELS "crash" TIMEOUT 240)
endif()
if(TARGET lambda-sim AND TARGET forkcap AND TARGET fake-intake)
  add_test(NAME crash_final_flush_kill
           COMMAND bash ${FORKCAP_TESTS}/crash/final_flush_kill.sh $<TARGET_FILE:lambda-sim>
                   $<TARGET_FILE:forkcap> $<TARGET_FILE:fake-intake> ${FORKCAP_TESTS}/lib/make-ca.sh)
  set_tests_properties(crash_final_flush_kill PROPERTIES LABELS "crash" TIMEOUT 120)
endif()
if(TARGET lambda-sim AND TARGET forkcap-testhooks AND TARGET fake-intake)
  add_test(NAME crash_settle_lifecycle_kill
           COMMAND bash ${FORKCAP_TESTS}/crash/settle_lifecycle_kill.sh $<TARGET_FILE:lambda-sim>
                   $<TARGET_FILE:forkcap-testhooks> $<TARGET_FILE:fake-intake> ${FORKCAP_TESTS}/lib/make-ca.sh)
  set_tests_properties(crash_settle_lifecycle_kill PROPERTIES LABELS "crash" TIMEOUT 120)
endif()
# The lifecycle killed while parked in /next (test-hooks fault point): the
# INVOKEs lost still count in aws.lambda.enhanced.invocations, once.
if(TARGET lambda-sim AND TARGET forkcap-testhooks AND TARGET fake-intake)
  add_test(NAME crash_next_wait_kill
           COMMAND bash ${FORKCAP_TESTS}/crash/next_wait_kill.sh $<TARGET_FILE:lambda-sim>
                   $<TARGET_FILE:forkcap-testhooks> $<TARGET_FILE:fake-intake> ${FORKCAP_TESTS}/lib/make-ca.sh)
  set_tests_properties(crash_next_wait_kill PROPERTIES LABELS "crash" TIMEOUT 120)
endif()
