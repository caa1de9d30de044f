/* check: failure reporting for CHECK; see check.h. */
#include "protocol/base/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Per-thread diagnostic hook (not simulation state: it only labels output). */
static _Thread_local CheckContextFn check_hook_fn;
static _Thread_local void *check_hook_ctx;

void check_context_set(CheckContextFn fn, void *ctx, CheckContextFn *prev_fn, void **prev_ctx)
{
    if (prev_fn) *prev_fn = check_hook_fn;
    if (prev_ctx) *prev_ctx = check_hook_ctx;
    check_hook_fn = fn;
    check_hook_ctx = ctx;
}

void check_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
    char where[128] = "";
    if (check_hook_fn) check_hook_fn(check_hook_ctx, where, sizeof where);
    fprintf(stderr, "%s:%d: CHECK failed: %s", file, line, expr);
    if (where[0]) fprintf(stderr, " [%s]", where);
    fputs(": ", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}
