# Churn-trace replay: the three trace formats and the world
# following a trace.
skysim_suite(churntrace test_churntrace.c LIBS skysim_world)
# simrun on traces: gzip, a trace outside the run, bad lines, and the
# memory of reading a 2 M-event trace (figures printed).
# Sanitizer builds read a tenth of the events and print the memory
# without bounding it (their allocator keeps its own reserves).
if(TARGET simrun)
  if(SKYSIM_SANITIZE)
    add_test(NAME trace_replay COMMAND ${CMAKE_COMMAND} -E env SKYSIM_CHECK_MEMORY=0
             bash ${CMAKE_CURRENT_SOURCE_DIR}/check_trace.sh $<TARGET_FILE:simrun> ${SKYSIM_ROOT} 200000)
  else()
    add_test(NAME trace_replay COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/check_trace.sh
             $<TARGET_FILE:simrun> ${SKYSIM_ROOT})
  endif()
endif()
