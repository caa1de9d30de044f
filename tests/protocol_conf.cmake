# Suite "conf" (protocol/conf.c through small worlds; issue 5, item 6).
skysim_suite(conf test_conf.c LIBS skysim_world)
