/* test_timens: duration parsing/formatting and time arithmetic at the edges. */
#include "protocol/base/timens.h"

#include "t_assert.h"

static TimeNs parse_ok(const char *s, TimeNs unit)
{
    GError *err = NULL;
    TimeNs t = -12345;
    bool ok = timens_parse(s, unit, &t, &err);
    if (!ok) fprintf(stderr, "unexpected error for \"%s\": %s\n", s, err->message);
    T_TRUE(ok);
    g_clear_error(&err);
    return t;
}

static void test_timens_parse_good(void)
{
    T_EQ_I64(parse_ok("250ms", 0), 250 * TIMENS_MS);
    T_EQ_I64(parse_ok("1.5s", 0), 1500 * TIMENS_MS);
    T_EQ_I64(parse_ok("2h", 0), 2 * TIMENS_H);
    T_EQ_I64(parse_ok("3d", 0), 3 * TIMENS_D);
    T_EQ_I64(parse_ok("90", TIMENS_S), 90 * TIMENS_S);
    T_EQ_I64(parse_ok(" 10 ms ", 0), 10 * TIMENS_MS);
    T_EQ_I64(parse_ok("-1.5s", 0), -1500 * TIMENS_MS);
    T_EQ_I64(parse_ok("0.000000001s", 0), 1);
    T_EQ_I64(parse_ok("1min", 0), 60 * TIMENS_S);
    T_EQ_I64(parse_ok("1m", 0), 60 * TIMENS_S);
    T_EQ_I64(parse_ok("0.1s", 0), 100 * TIMENS_MS);
    T_EQ_I64(parse_ok("7us", 0), 7000);
    T_EQ_I64(parse_ok("7ns", 0), 7);
    T_EQ_I64(parse_ok(".5s", 0), 500 * TIMENS_MS);
    T_EQ_I64(parse_ok("+2s", 0), 2 * TIMENS_S);
    T_EQ_I64(parse_ok("9223372036854775807ns", 0), INT64_MAX);
    T_EQ_I64(parse_ok("-9223372036854775808ns", 0), INT64_MIN);
    T_EQ_I64(parse_ok("1.500000000000s", 0), 1500 * TIMENS_MS); /* zeros past ns are fine */
}

static void parse_bad(const char *s, TimeNs unit, const char *why)
{
    GError *err = NULL;
    TimeNs t = 777;
    T_FALSE(timens_parse(s, unit, &t, &err));
    T_EQ_I64(t, 777); /* untouched on error */
    T_TRUE(err != NULL);
    if (err) {
        char quoted[128];
        snprintf(quoted, sizeof quoted, "\"%s\"", s);
        T_STR_CONTAINS(err->message, quoted);
        T_STR_CONTAINS(err->message, why);
        g_error_free(err);
    }
}

static void test_timens_parse_bad(void)
{
    parse_bad("", 0, "expected a number");
    parse_bad("abc", 0, "expected a number");
    parse_bad("5 parsecs", 0, "unknown unit");
    parse_bad("1.5", 0, "missing unit");
    parse_bad("0.0000000001s", 0, "finer than 1 ns");
    parse_bad("1.5ns", 0, "finer than 1 ns");
    parse_bad("9223372036854775808ns", 0, "out of range");
    parse_bad("999999999999d", 0, "out of range");
    parse_bad("99999999999999999999999s", 0, "out of range");
    parse_bad("1e3s", 0, "unknown unit");
    parse_bad("--1s", 0, "expected a number");
}

static void format_is(TimeNs t, const char *want)
{
    char buf[TIMENS_FORMAT_MAX];
    T_STR_EQ(timens_format(t, buf, sizeof buf), want);
}

static void test_timens_format(void)
{
    format_is(1500 * TIMENS_MS, "1.5s");
    format_is(250 * TIMENS_MS, "250ms");
    format_is(2 * TIMENS_H, "2h");
    format_is(3 * TIMENS_D, "3d");
    format_is(90 * TIMENS_S, "1.5min");
    format_is(0, "0s");
    format_is(7, "7ns");
    format_is(-1500 * TIMENS_MS, "-1.5s");
    format_is(TIMENS_MAX, "never");
    format_is(2 * TIMENS_S + 1, "2.000000001s");
}

/* Every formatted value parses back to itself, including the int64 edges. */
static void test_timens_format_roundtrip(void)
{
    const TimeNs v[] = {0, 1, -1, 999, 1000, 123456789, TIMENS_S, 36 * TIMENS_H + 1,
                        86399 * TIMENS_S + 999999999, INT64_MAX - 1, INT64_MIN, INT64_MIN + 1,
                        5 * TIMENS_D + 7 * TIMENS_MIN, 1234567 * TIMENS_MS};
    for (size_t i = 0; i < G_N_ELEMENTS(v); i++) {
        char buf[TIMENS_FORMAT_MAX];
        timens_format(v[i], buf, sizeof buf);
        T_EQ_I64(parse_ok(buf, 0), v[i]);
    }
}

static void test_timens_arith_edges(void)
{
    T_EQ_I64(timens_add_sat(TIMENS_MAX, 1), TIMENS_MAX);
    T_EQ_I64(timens_add_sat(TIMENS_MAX - 5, 3), TIMENS_MAX - 2);
    T_EQ_I64(timens_add_sat(TIMENS_MIN_VALUE, -1), TIMENS_MIN_VALUE);
    T_EQ_I64(timens_add_sat(TIMENS_MIN_VALUE, TIMENS_MAX), -1);
    T_EQ_I64(timens_mul_sat(TIMENS_D, 1000000), TIMENS_MAX);
    T_EQ_I64(timens_mul_sat(-TIMENS_D, 1000000), TIMENS_MIN_VALUE);
    T_EQ_I64(timens_mul_sat(TIMENS_S, -3), -3 * TIMENS_S);
    T_EQ_I64(timens_from_s(1e300), TIMENS_MAX);
    T_EQ_I64(timens_from_s(-1e300), TIMENS_MIN_VALUE);
    T_EQ_I64(timens_from_s(1.5), 1500 * TIMENS_MS);
    T_EQ_I64(timens_from_s(0.0000000004), 0);
    T_NEAR(timens_to_s(TIMENS_MAX), 9223372036.854775807, 1e-3);
}

T_SUITE_MAIN("timens", {"test_timens_parse_good", test_timens_parse_good},
             {"test_timens_parse_bad", test_timens_parse_bad},
             {"test_timens_format", test_timens_format},
             {"test_timens_format_roundtrip", test_timens_format_roundtrip},
             {"test_timens_arith_edges", test_timens_arith_edges})
