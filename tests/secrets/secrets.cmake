# API keys from AWS secrets: the SigV4 signer against AWS's published test
# suite, the AWS response parsers, and end to end under lambda-sim with
# fake-intake playing Secrets Manager, KMS, SSM and the SnapStart
# credentials endpoint.
if(TARGET fc_flusher)
  foreach(t sigv4 aws_secrets)
    if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c)
      add_executable(test_${t} ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c)
      target_link_libraries(test_${t} PRIVATE fc_flusher PkgConfig::CMOCKA)
      add_test(NAME secrets_${t} COMMAND test_${t})
      set_tests_properties(secrets_${t} PROPERTIES LABELS unit TIMEOUT 30)
    endif()
  endforeach()
endif()
if(TARGET lambda-sim AND TARGET forkcap AND TARGET fake-intake)
  foreach(c sm_cross_region kms_context ssm snapstart held_until_resolved throttled_once
            json_secret_rejected fail_access_denied fail_throttled fail_timeout fail_reset fail_signature
            fail_region fail_date fail_not_found fail_snapstart_token)
    add_test(NAME secrets_e2e_${c}
             COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/e2e_secrets.sh $<TARGET_FILE:lambda-sim>
                     $<TARGET_FILE:forkcap> $<TARGET_FILE:fake-intake> ${c}
                     $<$<TARGET_EXISTS:forkcap-testhooks>:$<TARGET_FILE:forkcap-testhooks>>)
    set_tests_properties(secrets_e2e_${c} PROPERTIES LABELS e2e TIMEOUT 120)
  endforeach()
endif()
