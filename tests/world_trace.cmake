# Churn-trace replay: the three trace formats and the world
# following a trace.
skysim_suite(churntrace test_churntrace.c LIBS skysim_world)
