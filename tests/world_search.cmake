# World-level search and presence suite.
skysim_suite(world_search test_world_search.c tworld.c LIBS skysim_world)
