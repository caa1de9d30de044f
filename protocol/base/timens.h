/* timens: virtual time as a signed 64-bit count of nanoseconds.
 *
 * Layer: protocol/base, the leaf of the house; used by sim/ and protocol/.
 * Invariant: every virtual time and duration in skysim is a TimeNs. The
 * representable range is about +/-292 years; arithmetic that could overflow
 * goes through timens_add_sat(), which saturates at TIMENS_MIN/TIMENS_MAX
 * instead of wrapping (signed overflow is undefined behaviour in C).
 * Durations are read and written as text ("250ms", "1.5s", "2h", "3d"); the
 * parser is exact (integer arithmetic, no floating point), so a formatted
 * duration parses back to the same number of nanoseconds.
 */
#ifndef SKYSIM_TIMENS_H
#define SKYSIM_TIMENS_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int64_t TimeNs; /* nanoseconds of virtual time */

#define TIMENS_NS ((TimeNs)1)
#define TIMENS_US ((TimeNs)1000)
#define TIMENS_MS ((TimeNs)1000000)
#define TIMENS_S ((TimeNs)1000000000)
#define TIMENS_MIN (60 * TIMENS_S)
#define TIMENS_H (3600 * TIMENS_S)
#define TIMENS_D (86400 * TIMENS_S)
#define TIMENS_MAX INT64_MAX /* also "never" */
#define TIMENS_MIN_VALUE INT64_MIN

/* Longest text timens_format() writes, with its terminating NUL. */
#define TIMENS_FORMAT_MAX 32

/* Error domain of timens_parse(). */
#define TIMENS_ERROR (timens_error_quark())
GQuark timens_error_quark(void);
enum { TIMENS_ERROR_SYNTAX, TIMENS_ERROR_RANGE };

/* a + b, clamped to [TIMENS_MIN_VALUE, TIMENS_MAX] instead of overflowing. */
static inline TimeNs timens_add_sat(TimeNs a, TimeNs b)
{
    TimeNs r;
    if (__builtin_add_overflow(a, b, &r)) return b > 0 ? TIMENS_MAX : TIMENS_MIN_VALUE;
    return r;
}

/* a * k, clamped like timens_add_sat(). */
static inline TimeNs timens_mul_sat(TimeNs a, int64_t k)
{
    TimeNs r;
    if (__builtin_mul_overflow(a, k, &r)) return ((a < 0) != (k < 0)) ? TIMENS_MIN_VALUE : TIMENS_MAX;
    return r;
}

/* Seconds (double) to TimeNs, rounded to the nearest nanosecond and clamped. */
TimeNs timens_from_s(double s);

/* TimeNs to seconds, as a double (for statistics and display only). */
static inline double timens_to_s(TimeNs t) { return (double)t / (double)TIMENS_S; }

/* Parses a duration: a decimal number (optional sign, optional fraction)
 * followed by a unit: ns, us, ms, s, m or min, h, d. Spaces between number
 * and unit are allowed. When the unit is missing and default_unit_ns > 0 the
 * number is taken in that unit (e.g. TIMENS_S: "90" is 90 s); when it is 0 a
 * unit is required. The value is exact; fractions finer than 1 ns are
 * rejected as a range error.
 * text: borrowed, NUL-terminated. out: written only on success.
 * Returns false and sets err (TIMENS_ERROR) naming the text on bad syntax,
 * unknown unit or overflow. */
bool timens_parse(const char *text, TimeNs default_unit_ns, TimeNs *out, GError **err);

/* Formats t compactly and exactly: the largest unit of d, h, min that gives
 * at most three decimals ("1.5h", "3d"), else seconds ("1.5s", "0.25s",
 * "-2.000000001s"), so timens_parse() gives t back. TIMENS_MAX is "never".
 * buf: caller's storage of at least TIMENS_FORMAT_MAX bytes. Returns buf. */
char *timens_format(TimeNs t, char *buf, size_t size);

#endif
