# Golden regression checks (STYLE.md §8; analysis/README.md "Regression
# checks"): one test golden_<scenario> per shipped scenario, running
#   simcheck scenarios/<scenario>.json --golden results/golden/<scenario>.json
# from the source tree. The golden file records the overrides of its small,
# fast run. The only way to rewrite the golden files is the explicit step
#   SKYSIM_UPDATE_GOLDEN=1 ctest -R golden
# which runs the same tests with --update; review the diff before committing.
if(TARGET simcheck)
  file(GLOB skysim_golden_scenarios CONFIGURE_DEPENDS ${SKYSIM_ROOT}/scenarios/*.json)
  foreach(scn ${skysim_golden_scenarios})
    get_filename_component(name ${scn} NAME_WE)
    add_test(NAME golden_${name}
             COMMAND sh -c "if [ \"$SKYSIM_UPDATE_GOLDEN\" = 1 ]; then set -- \"$@\" --update; fi; exec \"$@\""
                     golden $<TARGET_FILE:simcheck> scenarios/${name}.json
                     --golden results/golden/${name}.json
             WORKING_DIRECTORY ${SKYSIM_ROOT})
  endforeach()
endif()
