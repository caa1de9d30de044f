/* fuzz: helpers shared by the harnesses (fuzz.h). */
#include "fuzz.h"

#include <glib.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    fprintf(stderr, "%s:%d: property broken: %s: ", file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

char *fuzz_text(const uint8_t *data, size_t size)
{
    char *s = g_malloc(size + 1);
    if (size) memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static char fuzz_path[512]; /* the scratch file, or "" */

static void fuzz_file_remove(void)
{
    if (fuzz_path[0]) unlink(fuzz_path);
}

const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix)
{
    static bool registered;
    char *path = fuzz_path;
    if (path[0]) unlink(path); /* the suffix may differ from the last call's */
    if (!registered) atexit(fuzz_file_remove), registered = true;
    snprintf(fuzz_path, sizeof fuzz_path, "%s/skysim-fuzz-%ld%s", g_get_tmp_dir(), (long)getpid(),
             suffix);
    FILE *f = fopen(path, "wb");
    if (!f) fuzz_fail(__FILE__, __LINE__, "fopen", "cannot write %s", path);
    if (size && fwrite(data, 1, size, f) != size)
        fuzz_fail(__FILE__, __LINE__, "fwrite", "cannot write %s", path);
    if (fclose(f) != 0) fuzz_fail(__FILE__, __LINE__, "fclose", "cannot write %s", path);
    return path;
}

static void fuzz_log_drop(const gchar *domain, GLogLevelFlags level, const gchar *msg,
                          gpointer user)
{
    (void)domain, (void)level, (void)msg, (void)user;
}

void fuzz_quiet(void)
{
    g_log_set_default_handler(fuzz_log_drop, NULL);
}
