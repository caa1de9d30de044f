# Suite "world_call": calls through the whole stack.
skysim_suite(world_call test_world_call.c tworld.c LIBS skysim_world)
