# analysis: statistics and parameter sweeps.
if(TARGET skysim_analysis)
  skysim_suite(stats test_stats.c LIBS skysim_analysis)
  skysim_suite(sweep test_sweep.c LIBS skysim_analysis)
  if(TARGET simsweep)
    # simsweep end to end: --help, bad input (exit 2), a small sweep, and
    # the same sweep over two MPI ranks when Open MPI and mpirun are present.
    find_package(MPI COMPONENTS C QUIET)
    find_program(SKYSIM_MPIRUN mpirun)
    set(mpirun_arg "")
    if(MPI_C_FOUND AND SKYSIM_MPIRUN)
      set(mpirun_arg ${SKYSIM_MPIRUN})
    endif()
    add_test(NAME simsweep COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/check_simsweep.sh
             $<TARGET_FILE:simsweep> ${SKYSIM_ROOT} "")
    add_test(NAME simsweep_mpi COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/check_simsweep.sh
             $<TARGET_FILE:simsweep> ${SKYSIM_ROOT} "${mpirun_arg}")
    set_tests_properties(simsweep_mpi PROPERTIES SKIP_RETURN_CODE 77)
  endif()
endif()
