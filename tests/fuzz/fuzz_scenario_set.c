/* Harness scenario_set: simrun's --set. The input is a list of
 * "path=value" overrides, one a line, applied in order with scenario_set
 * to the shipped baseline scenario, then validated. A scenario that
 * validates goes through the load -> write -> load round trip of the
 * scenario harness. */
#include "fuzz.h"
#include "sim/world/scenario.h"

#include <cjson/cJSON.h>
#include <glib.h>
#include <string.h>

#define MAX_SETS 64 /* overrides applied per input */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *base;
    if (!base) {
        GError *e = NULL;
        FUZZ_REQUIRE(g_file_get_contents(FUZZ_SCENARIO_DIR "/baseline.json", &base, NULL, &e),
                     "%s", e->message);
    }
    GError *err = NULL;
    Scenario *s = scenario_load_text(base, "baseline.json", FUZZ_SCENARIO_DIR, &err);
    FUZZ_REQUIRE(s, "baseline does not load: %s", err->message);
    char *text = fuzz_text(data, size);
    char **lines = g_strsplit(text, "\n", MAX_SETS + 1);
    g_free(text);
    bool ok = true;
    for (int i = 0; ok && lines[i] && i < MAX_SETS; i++) {
        ok = scenario_set(s, lines[i], &err);
        if (!ok) FUZZ_REQUIRE(err && err->message[0], "--set failed without a message");
    }
    g_strfreev(lines);
    if (ok) ok = scenario_validate(s, &err);
    if (!ok) {
        FUZZ_REQUIRE(err && err->message[0], "validation failed without a message");
        g_error_free(err);
        scenario_free(s);
        return 0;
    }
    cJSON *j = scenario_to_json(s);
    char *out = cJSON_Print(j);
    cJSON_Delete(j);
    Scenario *s2 = scenario_load_text(out, "fuzz-resolved.json", FUZZ_SCENARIO_DIR, &err);
    FUZZ_REQUIRE(s2, "the overridden scenario does not load once written: %s\n%s", err->message,
                 out);
    cJSON *j2 = scenario_to_json(s2);
    char *out2 = cJSON_Print(j2);
    cJSON_Delete(j2);
    FUZZ_REQUIRE(strcmp(out, out2) == 0, "overridden scenario changed by a reload:\n%s\n---\n%s",
                 out, out2);
    cJSON_free(out);
    cJSON_free(out2);
    scenario_free(s);
    scenario_free(s2);
    return 0;
}
