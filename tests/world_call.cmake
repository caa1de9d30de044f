# Suite "world_call": calls through the whole stack (issue 5, items 3 and 7).
skysim_suite(world_call test_world_call.c tworld.c LIBS skysim_world)
