# sim/world suites.
skysim_suite(scenario test_scenario.c LIBS skysim_world)
