# deploy/compose: the docker-compose file is validated by docker-compose
# itself (no Docker engine needed), and its topology — the same commands,
# environments, volumes, host names and start conditions — is run without
# containers by twin.sh in private mount and network namespaces.
find_program(FORKCAP_DOCKER_COMPOSE docker-compose)
if(NOT FORKCAP_DOCKER_COMPOSE)
  set(FORKCAP_DOCKER_COMPOSE docker-compose) # deploy/deps.sh installs it; fails clearly if not
endif()
add_test(NAME compose_config
         COMMAND ${FORKCAP_DOCKER_COMPOSE} -f ${CMAKE_SOURCE_DIR}/deploy/compose/docker-compose.yml config -q)
set_tests_properties(compose_config PROPERTIES LABELS "e2e" TIMEOUT 60)

if(TARGET forkcap AND TARGET lambda-sim AND TARGET fake-intake)
  add_test(NAME compose_twin
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/twin.sh
                   ${CMAKE_SOURCE_DIR}/deploy/compose/docker-compose.yml
                   $<TARGET_FILE:lambda-sim> $<TARGET_FILE:forkcap> $<TARGET_FILE:fake-intake>
                   ${CMAKE_SOURCE_DIR}/tests/lib/make-ca.sh)
  set_tests_properties(compose_twin PROPERTIES LABELS "e2e" TIMEOUT 120 SKIP_RETURN_CODE 77)
endif()

# The same file in real containers: podman (as root) behind its Docker API,
# driven by docker-compose, images built from this tree with the compose
# Dockerfile and cached in /var/cache/forkcap-compose (tests/compose/containers.sh,
# also `make compose`). Skipped (77) where containers cannot run.
add_test(NAME compose_containers
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/containers.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(compose_containers PROPERTIES LABELS "e2e;containers" TIMEOUT 1800 SKIP_RETURN_CODE 77)
