/* Harness golden: any text through golden_file_parse. A golden file that
 * parses is written back (golden_file_to_text), which must parse again and
 * write the same text; the override merge and tolerance lookups run on it. */
#include "fuzz.h"
#include "analysis/golden.h"

#include <glib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    GError *err = NULL;
    GoldenFile *g = golden_file_parse(text, "fuzz.json", &err);
    g_free(text);
    if (!g) {
        FUZZ_REQUIRE(err && err->message[0], "parse failed without a message");
        g_error_free(err);
        return 0;
    }
    FUZZ_REQUIRE(golden_file_scenario(g), "no scenario");
    static const char *const sets[] = {"duration=1min", NULL};
    g_strfreev(golden_overrides_merge(g, sets));
    double abs_tol, rel_tol;
    (void)golden_file_tolerance(g, "login.success_rate", &abs_tol, &rel_tol);
    char *out = golden_file_to_text(g);
    GoldenFile *g2 = golden_file_parse(out, "fuzz-written.json", &err);
    FUZZ_REQUIRE(g2, "the written golden file does not parse: %s\n%s", err->message, out);
    char *out2 = golden_file_to_text(g2);
    FUZZ_REQUIRE(strcmp(out, out2) == 0, "golden file changed by a rewrite:\n%s\n---\n%s", out, out2);
    g_free(out);
    g_free(out2);
    golden_file_free(g);
    golden_file_free(g2);
    return 0;
}
