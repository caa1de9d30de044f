# Every front end: --version, --help, unknown options, and the build
# information in results.json.
add_test(NAME tools COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/check_tools.sh ${CMAKE_BINARY_DIR}
         ${PROJECT_VERSION})
