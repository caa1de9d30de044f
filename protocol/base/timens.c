/* timens: parsing and formatting of durations; see timens.h.
 * The parser works on integers only so "0.1s" is exactly 100000000 ns. */
#include "protocol/base/timens.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

G_DEFINE_QUARK(skysim-timens-error-quark, timens_error)

typedef struct TimensUnit {
    const char *name; /* suffix as written */
    TimeNs ns;        /* nanoseconds per unit */
} TimensUnit;

static const TimensUnit timens_units[] = {
    {"ns", TIMENS_NS}, {"us", TIMENS_US}, {"ms", TIMENS_MS},  {"s", TIMENS_S},
    {"min", TIMENS_MIN}, {"m", TIMENS_MIN}, {"h", TIMENS_H}, {"d", TIMENS_D},
};

TimeNs timens_from_s(double s)
{
    double ns = round(s * 1e9);
    if (!(ns < 9.2233720368547748e18)) return TIMENS_MAX; /* also NaN */
    if (ns <= -9.2233720368547748e18) return TIMENS_MIN_VALUE;
    return (TimeNs)ns;
}

static bool timens_fail(GError **err, int code, const char *text, const char *why)
{
    g_set_error(err, TIMENS_ERROR, code, "bad duration \"%s\": %s", text, why);
    return false;
}

/* Looks up a unit suffix; returns 0 when unknown. */
static TimeNs timens_unit_find(const char *s)
{
    for (size_t i = 0; i < G_N_ELEMENTS(timens_units); i++)
        if (strcmp(s, timens_units[i].name) == 0) return timens_units[i].ns;
    return 0;
}

bool timens_parse(const char *text, TimeNs default_unit_ns, TimeNs *out, GError **err)
{
    const char *p = text;
    bool neg = false;
    uint64_t whole = 0, frac = 0, frac_scale = 1;
    int digits = 0;

    while (*p == ' ' || *p == '\t') p++;
    if (*p == '+' || *p == '-') neg = (*p++ == '-');
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (whole > (UINT64_MAX - 9) / 10) return timens_fail(err, TIMENS_ERROR_RANGE, text, "out of range");
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
            if (frac_scale >= 1000000000000000000ULL) {
                if (*p != '0') return timens_fail(err, TIMENS_ERROR_RANGE, text, "finer than 1 ns");
                continue;
            }
            frac = frac * 10 + (uint64_t)(*p - '0');
            frac_scale *= 10;
        }
    }
    if (digits == 0) return timens_fail(err, TIMENS_ERROR_SYNTAX, text, "expected a number such as \"250ms\", \"1.5s\" or \"2h\"");
    while (*p == ' ' || *p == '\t') p++;
    TimeNs unit = default_unit_ns;
    if (*p != '\0') {
        char suffix[8];
        size_t n = strlen(p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
        if (n >= sizeof suffix) return timens_fail(err, TIMENS_ERROR_SYNTAX, text, "unknown unit (expected ns, us, ms, s, min, h or d)");
        memcpy(suffix, p, n);
        suffix[n] = '\0';
        unit = timens_unit_find(suffix);
        if (unit == 0) return timens_fail(err, TIMENS_ERROR_SYNTAX, text, "unknown unit (expected ns, us, ms, s, min, h or d)");
    } else if (unit == 0) {
        return timens_fail(err, TIMENS_ERROR_SYNTAX, text, "missing unit (expected ns, us, ms, s, min, h or d)");
    }
    /* value = whole * unit + frac * unit / frac_scale, exactly. */
    unsigned __int128 v = (unsigned __int128)whole * (uint64_t)unit;
    unsigned __int128 f = (unsigned __int128)frac * (uint64_t)unit;
    if (f % frac_scale != 0) return timens_fail(err, TIMENS_ERROR_RANGE, text, "finer than 1 ns");
    v += f / frac_scale;
    if (v > (unsigned __int128)INT64_MAX + (neg ? 1 : 0)) return timens_fail(err, TIMENS_ERROR_RANGE, text, "out of range (about +/-292 years)");
    *out = neg ? (TimeNs)(0 - (uint64_t)v) : (TimeNs)v;
    return true;
}

/* Writes |t| / unit with up to `decimals` fraction digits, trailing zeros cut. */
static void timens_format_unit(char *buf, size_t size, bool neg, uint64_t mag, uint64_t unit,
                               int decimals, const char *name)
{
    uint64_t whole = mag / unit, rem = mag % unit;
    char frac[24] = "";
    if (rem != 0) {
        uint64_t scale = 1;
        for (int i = 0; i < decimals; i++) scale *= 10;
        uint64_t f = (uint64_t)((unsigned __int128)rem * scale / unit);
        snprintf(frac, sizeof frac, ".%0*llu", decimals, (unsigned long long)f);
        size_t n = strlen(frac);
        while (n > 1 && frac[n - 1] == '0') frac[--n] = '\0';
    }
    snprintf(buf, size, "%s%llu%s%s", neg ? "-" : "", (unsigned long long)whole, frac, name);
}

char *timens_format(TimeNs t, char *buf, size_t size)
{
    if (t == TIMENS_MAX) {
        g_strlcpy(buf, "never", size);
        return buf;
    }
    bool neg = t < 0;
    uint64_t mag = neg ? 0 - (uint64_t)t : (uint64_t)t;
    static const TimensUnit big[] = {{"d", TIMENS_D}, {"h", TIMENS_H}, {"min", TIMENS_MIN}};
    for (size_t i = 0; i < G_N_ELEMENTS(big); i++) {
        uint64_t u = (uint64_t)big[i].ns;
        if (mag >= u && mag % (u / 1000) == 0) {
            timens_format_unit(buf, size, neg, mag, u, 3, big[i].name);
            return buf;
        }
    }
    if (mag != 0 && mag < (uint64_t)TIMENS_MS && mag % (uint64_t)TIMENS_US != 0) {
        timens_format_unit(buf, size, neg, mag, 1, 0, "ns");
        return buf;
    }
    if (mag != 0 && mag < (uint64_t)TIMENS_S) {
        timens_format_unit(buf, size, neg, mag, (uint64_t)TIMENS_MS, 6, "ms");
        return buf;
    }
    timens_format_unit(buf, size, neg, mag, (uint64_t)TIMENS_S, 9, "s");
    return buf;
}
