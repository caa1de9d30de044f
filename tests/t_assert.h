/* t_assert: CUnit assertions that print their operands (STYLE.md §8). */
#ifndef SKYSIM_T_ASSERT_H
#define SKYSIM_T_ASSERT_H

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#define T_EQ_I64(a, b)                                                                             \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        char m_[256];                                                                              \
        snprintf(m_, sizeof m_, "%s == %s (%lld vs %lld)", #a, #b, a_, b_);                        \
        CU_assertImplementation(a_ == b_, __LINE__, m_, __FILE__, __func__, CU_FALSE);             \
    } while (0)

#define T_EQ_U64(a, b)                                                                             \
    do {                                                                                           \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);             \
        char m_[256];                                                                              \
        snprintf(m_, sizeof m_, "%s == %s (%llu vs %llu)", #a, #b, a_, b_);                        \
        CU_assertImplementation(a_ == b_, __LINE__, m_, __FILE__, __func__, CU_FALSE);             \
    } while (0)

#define T_NE_U64(a, b)                                                                             \
    do {                                                                                           \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);             \
        char m_[256];                                                                              \
        snprintf(m_, sizeof m_, "%s != %s (both %llu)", #a, #b, a_);                               \
        CU_assertImplementation(a_ != b_, __LINE__, m_, __FILE__, __func__, CU_FALSE);             \
    } while (0)

#define T_CMP_I64(a, op, b)                                                                        \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        char m_[256];                                                                              \
        snprintf(m_, sizeof m_, "%s %s %s (%lld vs %lld)", #a, #op, #b, a_, b_);                   \
        CU_assertImplementation(a_ op b_, __LINE__, m_, __FILE__, __func__, CU_FALSE);             \
    } while (0)

#define T_NEAR(a, b, tol)                                                                          \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);                             \
        char m_[256];                                                                              \
        snprintf(m_, sizeof m_, "|%s - %s| <= %s (%.9g vs %.9g, tol %.3g)", #a, #b, #tol, a_, b_,  \
                 t_);                                                                              \
        CU_assertImplementation(a_ - b_ <= t_ && b_ - a_ <= t_, __LINE__, m_, __FILE__, __func__, \
                                CU_FALSE);                                                         \
    } while (0)

#define T_TRUE(c)                                                                                  \
    CU_assertImplementation(!!(c), __LINE__, "expected true: " #c, __FILE__, __func__, CU_FALSE)
#define T_FALSE(c)                                                                                 \
    CU_assertImplementation(!(c), __LINE__, "expected false: " #c, __FILE__, __func__, CU_FALSE)

#define T_STR_EQ(a, b)                                                                             \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        char m_[512];                                                                              \
        snprintf(m_, sizeof m_, "%s == %s (\"%s\" vs \"%s\")", #a, #b, a_ ? a_ : "(null)",        \
                 b_ ? b_ : "(null)");                                                              \
        CU_assertImplementation(a_ && b_ && strcmp(a_, b_) == 0, __LINE__, m_, __FILE__, __func__, \
                                CU_FALSE);                                                         \
    } while (0)

/* Substring check, for error messages. */
#define T_STR_CONTAINS(hay, needle)                                                                \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        char m_[768];                                                                              \
        snprintf(m_, sizeof m_, "%s contains %s (\"%s\" / \"%s\")", #hay, #needle,                \
                 h_ ? h_ : "(null)", n_);                                                          \
        CU_assertImplementation(h_ && strstr(h_, n_) != NULL, __LINE__, m_, __FILE__, __func__,  \
                                CU_FALSE);                                                         \
    } while (0)

/* One suite per binary: T_SUITE_MAIN("evq", { "name", fn }, ...) runs it and
 * exits non-zero on any failure. */
typedef struct TCase {
    const char *name;
    void (*fn)(void);
} TCase;

int t_run_suite(const char *suite, const TCase *cases, size_t n);

#define T_SUITE_MAIN(suite, ...)                                                                   \
    int main(void)                                                                                 \
    {                                                                                              \
        static const TCase cases_[] = {__VA_ARGS__};                                               \
        return t_run_suite(suite, cases_, sizeof cases_ / sizeof cases_[0]);                       \
    }

#endif
