/* Harness sweep: any text through sweep_load_text ("base" resolves against
 * the shipped analysis/sweeps folder), then every accessor over every
 * point and repetition of a sweep that loads. */
#include "fuzz.h"
#include "analysis/sweep.h"

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) fuzz_quiet(), quiet = true;
    char *text = fuzz_text(data, size);
    GError *err = NULL;
    Sweep *s = sweep_load_text(text, "fuzz.json", FUZZ_SWEEP_DIR, &err);
    g_free(text);
    if (!s) {
        FUZZ_REQUIRE(err && err->message[0], "load failed without a message");
        g_error_free(err);
        return 0;
    }
    size_t points = sweep_points(s), reps = sweep_repetitions(s), params = sweep_parameters(s);
    FUZZ_REQUIRE(points >= 1 && reps >= 1, "%zu points, %zu repetitions", points, reps);
    FUZZ_REQUIRE(sweep_name(s) && sweep_out_dir(s), "no name or output directory");
    for (size_t k = 0; k < params; k++)
        FUZZ_REQUIRE(sweep_parameter_path(s, k), "parameter %zu has no path", k);
    for (size_t p = 0; p < points && p < 1000; p++) {
        for (size_t k = 0; k < params; k++)
            FUZZ_REQUIRE(sweep_point_value(s, p, k), "point %zu has no value %zu", p, k);
        for (size_t r = 0; r < reps && r < 10; r++) {
            (void)sweep_seed(s, p, r);
            g_free(sweep_run_dir(s, p, r));
        }
    }
    sweep_free(s);
    return 0;
}
