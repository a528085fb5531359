# API keys from AWS secrets: the SigV4 signer against AWS's published test
# suite, the AWS response parsers, and end to end under lambda-sim with
# fake-intake playing Secrets Manager, KMS, SSM and the SnapStart
# credentials endpoint.
if(TARGET fc_flusher AND TARGET PkgConfig::CMOCKA)
  foreach(t sigv4 aws_secrets key_pending)
    if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c)
      add_executable(test_${t} ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c)
      target_link_libraries(test_${t} PRIVATE fc_flusher PkgConfig::CMOCKA)
      add_test(NAME secrets_${t} COMMAND test_${t})
      set_tests_properties(secrets_${t} PROPERTIES LABELS unit TIMEOUT 30)
    endif()
  endforeach()
endif()
if(TARGET lambda-sim AND TARGET forkcap AND TARGET fake-intake)
  foreach(c sm_cross_region kms_context ssm ssm_name snapstart held_until_resolved flusher_killed_while_pending throttled_once
            json_secret_rejected env_key_check check fail_access_denied fail_throttled fail_timeout fail_reset fail_signature
            fail_region fail_date fail_not_found fail_snapstart_token)
    add_test(NAME secrets_e2e_${c}
             COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/e2e_secrets.sh $<TARGET_FILE:lambda-sim>
                     $<TARGET_FILE:forkcap> $<TARGET_FILE:fake-intake> ${c}
                     $<$<TARGET_EXISTS:forkcap-testhooks>:$<TARGET_FILE:forkcap-testhooks>>)
    set_tests_properties(secrets_e2e_${c} PROPERTIES LABELS e2e TIMEOUT 120)
  endforeach()
endif()
if(FORKCAP_FUZZ AND TARGET fc_flusher)
  # the parsers are built into the target so they are instrumented
  add_executable(fuzz_aws_answer ${CMAKE_CURRENT_LIST_DIR}/fuzz_aws_answer.c
                 ${CMAKE_SOURCE_DIR}/flusher/aws_secrets.c ${CMAKE_SOURCE_DIR}/flusher/aws_sigv4.c)
  target_link_libraries(fuzz_aws_answer PRIVATE fc_flusher)
  target_compile_options(fuzz_aws_answer PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_aws_answer PRIVATE -fsanitize=fuzzer,address,undefined)
  set(FZ_AWS_SEEDS ${CMAKE_CURRENT_LIST_DIR}/seeds)
  add_test(NAME secrets_fuzz_aws_answer
           COMMAND fuzz_aws_answer -max_total_time=5 -max_len=8192 -rss_limit_mb=1024
                   -seed_inputs=${FZ_AWS_SEEDS}/sm_ok.bin,${FZ_AWS_SEEDS}/kms_ok.bin,${FZ_AWS_SEEDS}/kms_err.bin,${FZ_AWS_SEEDS}/ssm_ok.bin,${FZ_AWS_SEEDS}/creds_ok.bin)
  set_tests_properties(secrets_fuzz_aws_answer PROPERTIES LABELS fuzz TIMEOUT 60)
endif()
if(FORKCAP_FUZZ AND TARGET ik_core)
  add_executable(fuzz_ik_aws_verify ${CMAKE_CURRENT_LIST_DIR}/fuzz_ik_aws_verify.c
                 ${CMAKE_SOURCE_DIR}/deploy/intake/aws.c)
  target_include_directories(fuzz_ik_aws_verify PRIVATE ${CMAKE_SOURCE_DIR}/deploy/intake)
  target_link_libraries(fuzz_ik_aws_verify PRIVATE PkgConfig::JANSSON PkgConfig::OPENSSL)
  target_compile_options(fuzz_ik_aws_verify PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_ik_aws_verify PRIVATE -fsanitize=fuzzer,address,undefined)
  add_test(NAME secrets_fuzz_ik_aws_verify
           COMMAND fuzz_ik_aws_verify -max_total_time=5 -max_len=4096 -rss_limit_mb=1024
                   -seed_inputs=${CMAKE_CURRENT_LIST_DIR}/seeds/verify.bin)
  set_tests_properties(secrets_fuzz_ik_aws_verify PROPERTIES LABELS fuzz TIMEOUT 60)
endif()
if(TARGET ik_core AND TARGET PkgConfig::CMOCKA)
  add_executable(test_ik_aws ${CMAKE_CURRENT_LIST_DIR}/test_ik_aws.c)
  target_link_libraries(test_ik_aws PRIVATE ik_core PkgConfig::CMOCKA)
  add_test(NAME secrets_ik_aws COMMAND test_ik_aws)
  set_tests_properties(secrets_ik_aws PROPERTIES LABELS "unit;intake" TIMEOUT 30)
endif()
