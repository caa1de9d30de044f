# analysis, plots and regression checks: plot.c and
# golden.c suites. The golden-file tests are in analysis_golden.cmake.
if(TARGET skysim_analysis)
  skysim_suite(plot test_plot.c LIBS skysim_analysis)
  skysim_suite(golden test_golden.c LIBS skysim_analysis)
  # The suites run the front ends too (exit status, messages).
  if(TARGET simplot AND TARGET simcheck)
    add_dependencies(test_plot simplot)
    add_dependencies(test_golden simcheck)
  endif()
endif()
