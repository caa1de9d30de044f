# Search and presence suites, through the fake env.
foreach(suite search presence)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_${suite}.c)
    skysim_suite(${suite} test_${suite}.c LIBS skysim_fakeenv)
  endif()
endforeach()
