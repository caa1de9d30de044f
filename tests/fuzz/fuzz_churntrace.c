/* Harness churntrace: any bytes (plain or gzip) through churntrace_parse in
 * each of the three trace formats (FTA, availability, CSV), keeping all or
 * a window with bad lines skipped. A trace that parses must
 * hold well-formed intervals, and mapping it onto clients must add up. */
#include "fuzz.h"
#include "sim/world/churntrace.h"

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ScenarioTraceFormat fmts[] = {SCENARIO_TRACE_FTA, SCENARIO_TRACE_AVAIL,
                                               SCENARIO_TRACE_CSV};
    /* Every node and interval kept, bad lines fatal; then a window over the
     * first two nodes with bad lines skipped. */
    ChurnTraceOptions windowed = churntrace_options_all();
    windowed.max_nodes = 2;
    windowed.window = true;
    windowed.end_ns = 1000 * TIMENS_S;
    windowed.skip_bad_lines = true;
    for (size_t f = 0; f < 2 * G_N_ELEMENTS(fmts); f++) {
        GError *err = NULL;
        const ChurnTraceOptions *o = f < G_N_ELEMENTS(fmts) ? NULL : &windowed;
        ChurnTrace *t = churntrace_parse((const char *)data, size, "fuzz.trace",
                                         fmts[f % G_N_ELEMENTS(fmts)], o, &err);
        if (!t) {
            FUZZ_REQUIRE(err && err->message[0], "parse failed without a message");
            g_error_free(err);
            continue;
        }
        size_t nodes = churntrace_node_count(t);
        for (size_t i = 0; i < nodes; i++) {
            FUZZ_REQUIRE(churntrace_node_name(t, i) != NULL, "node %zu has no name", i);
            size_t n = 0;
            const ChurnTraceInterval *iv = churntrace_node_intervals(t, i, &n);
            for (size_t k = 0; k < n; k++)
                FUZZ_REQUIRE(iv[k].up_ns < iv[k].down_ns, "node %zu interval %zu is empty", i, k);
        }
        static const uint64_t clients[] = {0, 1, 1000};
        for (size_t k = 0; k < G_N_ELEMENTS(clients); k++) {
            ChurnTraceMapCounts m;
            churntrace_map_counts(t, clients[k], &m);
            FUZZ_REQUIRE(m.driven + m.idle_clients == clients[k] && m.driven + m.ignored_nodes == nodes,
                         "map counts do not add up");
        }
        churntrace_free(t);
    }
    return 0;
}
