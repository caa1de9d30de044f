# sim/net suites: one binary per module (STYLE.md §8).
foreach(s net latency fw tcp pcap)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/test_${s}.c)
    skysim_suite(${s} test_${s}.c LIBS skysim_net)
  endif()
endforeach()

# The NAT probe sequences (tests/natprobe.h) serve the NAT suite and the
# model side of the kernel comparison in tests/netns (the natprobe tool).
add_library(skysim_natprobe STATIC ${CMAKE_CURRENT_SOURCE_DIR}/natprobe.c)
target_link_libraries(skysim_natprobe PUBLIC skysim_net)
skysim_suite(nat test_nat.c LIBS skysim_natprobe)
add_executable(natprobe ${CMAKE_CURRENT_SOURCE_DIR}/netns/natprobe_main.c)
target_link_libraries(natprobe PRIVATE skysim_natprobe)
target_include_directories(natprobe PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})

# Kernel vs model (tests/netns/README.md): needs root and network
# namespaces, skipped (77) otherwise.
add_test(NAME netns_nat COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/netns/run.sh $<TARGET_FILE:natprobe>)
set_tests_properties(netns_nat PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 170 RUN_SERIAL TRUE)
