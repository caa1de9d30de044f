# Suites of protocol/base and sim/kernel.
skysim_suite(timens test_timens.c LIBS skysim_base)
skysim_suite(ilist test_ilist.c LIBS skysim_base)
skysim_suite(pool test_pool.c LIBS skysim_kernel)
skysim_suite(evq test_evq.c LIBS skysim_kernel)
skysim_suite(sim test_sim.c LIBS skysim_kernel)
skysim_suite(rng test_rng.c LIBS skysim_kernel)
skysim_suite(phold test_phold.c LIBS skysim_bench)
