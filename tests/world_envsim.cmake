# Suite "envsim": calibration files, charged costs and the CPU queue of
# sim/world/envsim.c (issue 5, item 5).
skysim_suite(envsim test_envsim.c LIBS skysim_world)
