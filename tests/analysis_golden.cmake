# Golden regression checks (STYLE.md §8; analysis/README.md "Regression
# checks"): one test golden_<scenario> per shipped scenario, running
#   simcheck scenarios/<scenario>.json --golden results/golden/<scenario>.json
# from the source tree. The golden file records the overrides of its small,
# fast run. The only way to rewrite the golden files is the explicit step
#   SKYSIM_UPDATE_GOLDEN=1 ctest -R golden
# which runs the same tests with --update; review the diff before committing.
#
# Multi-seed golden files (results/golden/seeds/<scenario>.json: mean, sd
# and n of each metric over 20 seeds) get a test golden_seeds_<scenario>:
#   simcheck scenarios/<scenario>.json --golden results/golden/seeds/<scenario>.json \
#       --seeds 5 --set seed=1000
# five seeds that none of the golden runs used (the shipped scenarios'
# seeds are below 100), so the test is a pure seed change: it must pass.
# The update step reruns the file's own seeds instead (no --set seed).
if(TARGET simcheck)
  file(GLOB skysim_golden_scenarios CONFIGURE_DEPENDS ${SKYSIM_ROOT}/scenarios/*.json)
  list(REMOVE_ITEM skysim_golden_scenarios ${SKYSIM_ROOT}/scenarios/schema.json) # not a scenario
  foreach(scn ${skysim_golden_scenarios})
    get_filename_component(name ${scn} NAME_WE)
    add_test(NAME golden_${name}
             COMMAND sh -c "if [ \"$SKYSIM_UPDATE_GOLDEN\" = 1 ]; then set -- \"$@\" --update; fi; exec \"$@\""
                     golden $<TARGET_FILE:simcheck> scenarios/${name}.json
                     --golden results/golden/${name}.json
             WORKING_DIRECTORY ${SKYSIM_ROOT})
  endforeach()
  file(GLOB skysim_golden_seeds CONFIGURE_DEPENDS ${SKYSIM_ROOT}/results/golden/seeds/*.json)
  foreach(gold ${skysim_golden_seeds})
    get_filename_component(name ${gold} NAME_WE)
    add_test(NAME golden_seeds_${name}
             COMMAND sh -c "if [ \"$SKYSIM_UPDATE_GOLDEN\" = 1 ]; then exec \"$@\" --update; fi; exec \"$@\" --seeds 5 --set seed=1000"
                     golden_seeds $<TARGET_FILE:simcheck> scenarios/${name}.json
                     --golden results/golden/seeds/${name}.json
             WORKING_DIRECTORY ${SKYSIM_ROOT})
  endforeach()
endif()
