# Suite "metric_table": the protocol's and the simulator's metric tables
# against a run's registry, headline and time series.
skysim_suite(metric_table test_metric_table.c LIBS skysim_world)
# No metric is looked up or interned by a retyped string literal in sim/ or analysis/.
add_test(NAME metric_names COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/check_metric_names.sh ${SKYSIM_ROOT})
