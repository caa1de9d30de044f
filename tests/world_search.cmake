# World-level search and presence suite (issue 5 items 1-3).
skysim_suite(world_search test_world_search.c LIBS skysim_world)
