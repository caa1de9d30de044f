/* Harness latency: any bytes as a coordinates file and as a matrix file
 * (latency_coords_load, latency_matrix_load read from a path: the input is
 * written to a scratch file). A model that loads must give finite,
 * non-negative delays between its positions and find every named position by its name. */
#include "fuzz.h"
#include "sim/net/latency.h"

#include <glib.h>

static void check(Latency *m)
{
    uint32_t n = latency_size(m);
    FUZZ_REQUIRE(n >= 1, "a model without positions");
    if (n > 64) n = 64; /* the first positions are enough */
    for (uint32_t a = 0; a < n; a++) {
        const char *name = latency_position_name(m, a);
        uint32_t found;
        if (name)
            FUZZ_REQUIRE(latency_position_find(m, name, &found), "position %u not found by name", a);
        for (uint32_t b = 0; b < n; b++)
            FUZZ_REQUIRE(latency_one_way(m, a, b) >= 0, "negative delay %u -> %u", a, b);
    }
    latency_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GError *err = NULL;
    Latency *m = latency_coords_load(fuzz_file(data, size, ".syscoord"), &err);
    if (m) {
        check(m);
    } else {
        FUZZ_REQUIRE(err && err->message[0], "coordinates: failed without a message");
        g_clear_error(&err);
    }
    m = latency_matrix_load(fuzz_file(data, size, ".tsv"), &err);
    if (m) {
        check(m);
    } else {
        FUZZ_REQUIRE(err && err->message[0], "matrix: failed without a message");
        g_clear_error(&err);
    }
    return 0;
}
