/* Harness calibration: any bytes as a CPU calibration file (what
 * simcalibrate writes; envsim_cost_load reads from a path, so the input is
 * written to a scratch file). A file that loads gives finite, non-negative
 * costs; one that does not leaves the costs unchanged. */
#include "fuzz.h"
#include "sim/world/envsim.h"

#include <glib.h>
#include <math.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    EnvSimCost c, before;
    envsim_cost_default(&c);
    before = c;
    GError *err = NULL;
    if (!envsim_cost_load(fuzz_file(data, size, ".json"), &c, &err)) {
        FUZZ_REQUIRE(err && err->message[0], "load failed without a message");
        FUZZ_REQUIRE(memcmp(&c, &before, sizeof c) == 0, "a failed load changed the costs");
        g_error_free(err);
        return 0;
    }
    for (int op = 0; op < ENV_COST_COUNT; op++)
        FUZZ_REQUIRE(isfinite(c.per_op_ns[op]) && c.per_op_ns[op] >= 0 &&
                         isfinite(c.per_byte_ns[op]) && c.per_byte_ns[op] >= 0,
                     "cost %s out of range", envsim_cost_name((EnvCost)op));
    return 0;
}
