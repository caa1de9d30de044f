# sim/world suites.
skysim_suite(scenario test_scenario.c LIBS skysim_world)
skysim_suite(metrics test_metrics.c LIBS skysim_world)
skysim_suite(results test_results.c LIBS skysim_world)
skysim_suite(world test_world.c tworld.c LIBS skysim_world)

# simrun end to end (bad input, atomic results, interrupt, determinism).
add_test(NAME simrun COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/check_simrun.sh
         $<TARGET_FILE:simrun> ${SKYSIM_ROOT})
# simrun's output contract.
add_test(NAME simrun_outputs COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/check_outputs.sh
         $<TARGET_FILE:simrun> ${SKYSIM_ROOT})
include(${CMAKE_CURRENT_SOURCE_DIR}/world_trace.cmake)
include(${CMAKE_CURRENT_SOURCE_DIR}/world_envsim.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/world_call.cmake)
include(${CMAKE_CURRENT_SOURCE_DIR}/world_search.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/world_gateway.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/world_envtrace.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/world_metric_table.cmake)
# The Wireshark dissector of tools/wireshark/ through tshark (skipped
# without tshark) on captures of every shipped scenario.
add_test(NAME wireshark_dissector COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/check_wireshark.sh
         $<TARGET_FILE:simrun> ${SKYSIM_ROOT})
set_tests_properties(wireshark_dissector PROPERTIES SKIP_RETURN_CODE 77)
