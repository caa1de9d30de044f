# protocol/ suites: each protocol module through the fake and fault envs
# (tests/fakeenv.c, tests/faultenv.c), never through sim/.
set(_proto_tests ${CMAKE_CURRENT_LIST_DIR})
add_library(skysim_fakeenv STATIC ${_proto_tests}/fakeenv.c ${_proto_tests}/faultenv.c
            ${_proto_tests}/tpeer.c)
target_link_libraries(skysim_fakeenv PUBLIC skysim_protocol)
target_include_directories(skysim_fakeenv PUBLIC ${_proto_tests})
foreach(suite fakeenv crypto wire stun hostcache client natdet supernode loginsrv)
  if(EXISTS ${_proto_tests}/test_${suite}.c)
    skysim_suite(${suite} test_${suite}.c LIBS skysim_fakeenv)
  endif()
endforeach()
include(${CMAKE_CURRENT_LIST_DIR}/protocol_media.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/protocol_call.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/protocol_search.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/protocol_conf.cmake)
