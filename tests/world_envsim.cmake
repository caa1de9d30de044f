# Suite "envsim": calibration files, charged costs and the CPU queue of
# sim/world/envsim.c.
skysim_suite(envsim test_envsim.c LIBS skysim_world)
