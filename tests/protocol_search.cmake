# Search and presence suites, through the fake env; featalone: the
# supernode and search features alone over the plumbing.
foreach(suite search presence featalone)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_${suite}.c)
    skysim_suite(${suite} test_${suite}.c LIBS skysim_fakeenv)
  endif()
endforeach()
