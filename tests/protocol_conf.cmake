# Suite "conf" (protocol/conf.c through small worlds).
skysim_suite(conf test_conf.c LIBS skysim_world)
