# Least privilege: the lifecycle child holds no API key nor proxy
# credentials (root: reads its memory through /proc/<pid>/mem).
if(TARGET lambda-sim AND TARGET forkcap)
  add_executable(memscan ${FORKCAP_TESTS}/privsep/memscan.c)
  add_test(NAME privsep_lifecycle_memory
           COMMAND bash ${FORKCAP_TESTS}/privsep/lifecycle_memory.sh $<TARGET_FILE:lambda-sim>
                   $<TARGET_FILE:forkcap> $<TARGET_FILE:memscan>)
  set_tests_properties(privsep_lifecycle_memory PROPERTIES LABELS "e2e" TIMEOUT 120 SKIP_RETURN_CODE 77)
endif()
