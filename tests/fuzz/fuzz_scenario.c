/* Harness scenario: any text through scenario_load_text (file names inside
 * resolve against the shipped scenarios/ folder). A scenario that loads is
 * written as results.json writes it (scenario_to_json) and loaded again:
 * the second load must succeed and write the same text. */
#include "fuzz.h"
#include "sim/world/scenario.h"

#include <cjson/cJSON.h>
#include <glib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    GError *err = NULL;
    Scenario *s = scenario_load_text(text, "fuzz.json", FUZZ_SCENARIO_DIR, &err);
    g_free(text);
    if (!s) {
        FUZZ_REQUIRE(err && err->message[0], "load failed without a message");
        g_error_free(err);
        return 0;
    }
    cJSON *j = scenario_to_json(s);
    char *out = cJSON_Print(j);
    cJSON_Delete(j);
    Scenario *s2 = scenario_load_text(out, "fuzz-resolved.json", FUZZ_SCENARIO_DIR, &err);
    FUZZ_REQUIRE(s2, "the resolved scenario does not load: %s\n%s", err->message, out);
    cJSON *j2 = scenario_to_json(s2);
    char *out2 = cJSON_Print(j2);
    cJSON_Delete(j2);
    FUZZ_REQUIRE(strcmp(out, out2) == 0, "resolved scenario changed by a reload:\n%s\n---\n%s", out,
                 out2);
    cJSON_free(out);
    cJSON_free(out2);
    scenario_free(s);
    scenario_free(s2);
    return 0;
}
