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
