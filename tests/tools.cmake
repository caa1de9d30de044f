# Every front end: --version, --help, unknown options, and the build
# information in results.json.
add_test(NAME tools COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/check_tools.sh ${CMAKE_BINARY_DIR}
         ${PROJECT_VERSION})
# The JSON Schemas of scenarios and sweeps: the committed files equal what
# simrun/simsweep --print-schema make of the readers' key tables, every
# shipped file validates (python3-jsonschema), mutated ones fail both.
if(TARGET simsweep)
  add_test(NAME schema COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/check_schema.sh ${CMAKE_BINARY_DIR}
           ${SKYSIM_ROOT})
endif()
