# Churn-trace replay: the three trace formats and the world
# following a trace.
skysim_suite(churntrace test_churntrace.c LIBS skysim_world)
# simrun on traces: gzip, a trace outside the run, bad lines, and the
# memory of reading a 2 M-event trace (figures printed).
if(TARGET simrun)
  add_test(NAME trace_replay COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/check_trace.sh
           $<TARGET_FILE:simrun> ${SKYSIM_ROOT})
endif()
