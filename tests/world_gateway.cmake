# Suite "world_gateway": calls to phone numbers through the phone gateway,
# through the whole stack.
skysim_suite(world_gateway test_world_gateway.c tworld.c LIBS skysim_world)
