/* check: always-on invariant checks for programming errors (STYLE.md §4).
 *
 * Layer: protocol/base. CHECK(cond, fmt, ...) prints the failed expression,
 * the message with its values and a context line (virtual time, node id)
 * supplied by whoever runs the code, then aborts. Input errors never use
 * CHECK: they go through GError. The context hook is per thread, so two
 * simulations in two threads each report their own time; it is diagnostic
 * state only and never influences a run.
 */
#ifndef SKYSIM_CHECK_H
#define SKYSIM_CHECK_H

#include <glib.h>
#include <stddef.h>

/* Writes a short context such as "t=12.5s node=42" into buf (size bytes). */
typedef void (*CheckContextFn)(void *ctx, char *buf, size_t size);

/* Installs the context hook for this thread; fn NULL removes it. Returns the
 * previous hook through prev_fn/prev_ctx (may be NULL) so callers can nest. */
void check_context_set(CheckContextFn fn, void *ctx, CheckContextFn *prev_fn, void **prev_ctx);

/* Reports a failed check and aborts. Use the CHECK macro, not this. */
G_GNUC_NORETURN G_GNUC_PRINTF(4, 5) void check_fail(const char *file, int line, const char *expr,
                                                     const char *fmt, ...);

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (G_UNLIKELY(!(cond))) check_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);              \
    } while (0)

#ifdef SKYSIM_DEBUG
#define DCHECK(cond, ...) CHECK(cond, __VA_ARGS__)
#else
#define DCHECK(cond, ...) ((void)0)
#endif

#endif
