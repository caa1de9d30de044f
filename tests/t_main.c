/* t_main: runs one CUnit suite with the basic (console) interface. */
#include "t_assert.h"

#include <CUnit/Basic.h>
#include <stdlib.h>

int t_run_suite(const char *suite, const TCase *cases, size_t n)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite(suite, NULL, NULL);
    for (size_t i = 0; s && i < n; i++) CU_add_test(s, cases[i].name, cases[i].fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (run != n) return 1;
    return failed ? 1 : 0;
}
