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

if(FORKCAP_FUZZ)
  add_executable(fuzz_sim_parse ${FORKCAP_TESTS}/sim/fuzz_sim_parse.c ${PROJECT_SOURCE_DIR}/deploy/sim/sim_parse.c)
  target_include_directories(fuzz_sim_parse PRIVATE ${PROJECT_SOURCE_DIR}/deploy/sim)
  target_compile_options(fuzz_sim_parse PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_sim_parse PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_sim_parse PRIVATE PkgConfig::JANSSON PkgConfig::EVENT)
  # seeds are read, never written: new corpus entries stay in the build dir
  add_test(NAME fuzz_sim_parse
           COMMAND fuzz_sim_parse -max_total_time=5 -max_len=4096 -rss_limit_mb=1024
                   ${CMAKE_CURRENT_BINARY_DIR}/fuzz_sim_parse_corpus ${FORKCAP_TESTS}/sim/fuzz_seeds)
  set_tests_properties(fuzz_sim_parse PROPERTIES LABELS "fuzz" TIMEOUT 60)
  file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/fuzz_sim_parse_corpus)
endif()
