# sim/net suites: one binary per module (STYLE.md §8).
foreach(s net latency nat fw tcp pcap)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/test_${s}.c)
    skysim_suite(${s} test_${s}.c LIBS skysim_net)
  endif()
endforeach()
