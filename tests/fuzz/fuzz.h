/* fuzz: helpers shared by the libFuzzer harnesses of tests/fuzz.
 *
 * Each harness defines LLVMFuzzerTestOneInput over one parsing entry point
 * of the project. Inputs are arbitrary bytes; a harness must not leak,
 * must not keep state between inputs (so every crash replays from its input
 * file alone), and reports a broken property (a round trip that does not
 * hold) with FUZZ_REQUIRE, which aborts: libFuzzer then saves the input. */
#ifndef SKYSIM_FUZZ_H
#define SKYSIM_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* The libFuzzer entry point (declared here for -Wmissing-prototypes). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with a message when cond is false. */
#define FUZZ_REQUIRE(cond, ...)                                                                   \
    do {                                                                                          \
        if (!(cond)) fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                          \
    } while (0)
_Noreturn void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A NUL-terminated copy of data (size bytes; an inner NUL ends the C
 * string early, as it would for a file read by the tools). Owned by the
 * caller (g_free). */
char *fuzz_text(const uint8_t *data, size_t size);

/* Writes data to this process's scratch file whose name ends in suffix
 * (".json", ".csv", ...) and returns its path (static storage, valid until
 * the next call). For entry points that only read from a path. */
const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix);

/* Silences GLib's log handlers (warnings from the code under test are
 * expected on bad input and would slow the fuzzer). */
void fuzz_quiet(void);

#endif
