# Layer tests: deploy/layer/build.sh's zips for x86_64 and arm64 (fully
# static musl builds). layer_build makes them (libraries from the layer
# cache; a cold cache builds them first, several minutes); the others check
# each zip's layout and binary and run it under lambda-sim (arm64 under
# qemu-aarch64-static) in a mount namespace with its own /etc.
# Not inside the layer's own static configure (it builds no tests).
if(NOT FORKCAP_LAYER_PREFIX)
  set(LAYER_OUT ${CMAKE_BINARY_DIR}/layer)
  add_test(NAME layer_build
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/build_layers.sh ${CMAKE_SOURCE_DIR} ${LAYER_OUT})
  set_tests_properties(layer_build PROPERTIES LABELS "layer" TIMEOUT 1800
                       FIXTURES_SETUP layer_zips PROCESSORS 2)
  foreach(arch x86_64 arm64)
    # the default zip must hold extensions/datadog-agent (Datadog's
    # libraries look for it); --name forkcap gives the other name
    foreach(variant datadog-agent forkcap)
      if(variant STREQUAL "datadog-agent")
        set(zip ${LAYER_OUT}/dist/forkcap-layer-${arch}.zip)
        set(tn ${arch})
      else()
        set(zip ${LAYER_OUT}/dist-fc/forkcap-layer-${arch}.zip)
        set(tn ${arch}_fc)
      endif()
      add_test(NAME layer_zip_${tn}
               COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/check_zip.sh ${zip} ${arch} ${variant})
      set_tests_properties(layer_zip_${tn} PROPERTIES LABELS "layer" TIMEOUT 60
                           FIXTURES_REQUIRED layer_zips)
      if(TARGET lambda-sim AND TARGET fake-intake)
        # beside the x86_64 layer, the development build's ready_ms for comparison
        set(dev "")
        if(arch STREQUAL "x86_64" AND variant STREQUAL "datadog-agent" AND TARGET forkcap
           AND CMAKE_HOST_SYSTEM_PROCESSOR STREQUAL "x86_64")
          set(dev $<TARGET_FILE:forkcap>)
        endif()
        add_test(NAME layer_sim_${tn}
                 COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run_sim.sh $<TARGET_FILE:lambda-sim>
                         $<TARGET_FILE:fake-intake> ${CMAKE_SOURCE_DIR}/tests/lib/make-ca.sh
                         ${zip} ${arch} ${variant} ${LAYER_OUT}/dist/probe-${arch}/intake-post ${dev})
        set_tests_properties(layer_sim_${tn} PROPERTIES LABELS "layer" TIMEOUT 180
                             FIXTURES_REQUIRED layer_zips SKIP_RETURN_CODE 77)
      endif()
    endforeach()
  endforeach()
endif()
