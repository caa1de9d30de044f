# Suite "envtrace": the tracing env of sim/world/envtrace.c around the fake
# env; simrun --trace-env is checked in check_simrun.sh.
skysim_suite(envtrace test_envtrace.c LIBS skysim_world skysim_fakeenv)
