# Churn-trace replay (issue 7 item 3): the three trace formats and the world
# following a trace.
skysim_suite(churntrace test_churntrace.c LIBS skysim_world)
