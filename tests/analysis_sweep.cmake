# analysis: statistics and parameter sweeps.
if(TARGET skysim_analysis)
  skysim_suite(stats test_stats.c LIBS skysim_analysis)
  skysim_suite(sweep test_sweep.c LIBS skysim_analysis)
  if(TARGET simsweep)
    # simsweep end to end: --help, bad input (exit 2), a small sweep, a
    # build without MPI refusing a launcher's world of two ranks (an MPI
    # build checks this with simsweep_nompi, the front end without MPI).
    if(TARGET simsweep_nompi)
      set(nompi $<TARGET_FILE:simsweep_nompi>)
    else()
      set(nompi $<TARGET_FILE:simsweep>)
    endif()
    add_test(NAME simsweep COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/check_simsweep.sh
             $<TARGET_FILE:simsweep> ${SKYSIM_ROOT} ${nompi})
    # The same small sweep over two MPI ranks under mpirun, compared byte for
    # byte with the local sweep; skipped (77) only when MPI is not built. An
    # MPI build without a launcher fails the test.
    set(mpirun "")
    if(SKYSIM_MPI_BUILT)
      set(mpirun ${MPIEXEC_EXECUTABLE})
      if(NOT mpirun)
        find_program(mpirun NAMES mpirun mpiexec)
      endif()
      if(NOT mpirun)
        set(mpirun "mpirun-not-found")
      endif()
    endif()
    add_test(NAME simsweep_mpi COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/check_simsweep_mpi.sh
             $<TARGET_FILE:simsweep> ${nompi} ${SKYSIM_ROOT} "${mpirun}")
    set_tests_properties(simsweep_mpi PROPERTIES SKIP_RETURN_CODE 77)
  endif()
endif()
