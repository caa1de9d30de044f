# analysis suites: each part keeps its own file tests/analysis_<part>.cmake.
file(GLOB skysim_analysis_parts ${CMAKE_CURRENT_SOURCE_DIR}/analysis_*.cmake)
list(SORT skysim_analysis_parts)
foreach(part ${skysim_analysis_parts})
  include(${part})
endforeach()
