/* eqs_test.h — a tiny check library for eqsim's test executables.
 *
 * Checks record a failure and continue; EQS_TEST_MAIN_END prints one closing line
 * "<name>: N passed, N failed" and returns non-zero on any failure, so ctest sees it.
 */
#ifndef EQS_TEST_H
#define EQS_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int eqs_test_passed, eqs_test_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            eqs_test_passed++;                                                                     \
        } else {                                                                                   \
            eqs_test_failed++;                                                                     \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (cond) {                                                                                \
            eqs_test_passed++;                                                                     \
        } else {                                                                                   \
            eqs_test_failed++;                                                                     \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* |got - want| <= atol + rtol*|want| */
#define CHECK_CLOSE(got, want, atol, rtol)                                                         \
    do {                                                                                           \
        double g_ = (double)(got), w_ = (double)(want);                                            \
        double tol_ = (atol) + (rtol)*fabs(w_);                                                    \
        CHECK_MSG(fabs(g_ - w_) <= tol_, "%s = %.9g, want %s = %.9g (tol %.3g)", #got, g_, #want,  \
                  w_, tol_);                                                                       \
    } while (0)

/* An eqs_status call that must fail with `code` and a message containing `needle`. */
#define CHECK_ERR(call, code, err, needle)                                                         \
    do {                                                                                           \
        eqs_status st_ = (call);                                                                   \
        CHECK_MSG(st_ == (code) && strstr((err).msg, (needle)) != NULL,                            \
                  "%s returned %d (want %d), message '%s' (want it to contain '%s')", #call,       \
                  (int)st_, (int)(code), (err).msg, (needle));                                     \
    } while (0)

#define CHECK_OK(call, err)                                                                        \
    do {                                                                                           \
        eqs_status st_ = (call);                                                                   \
        CHECK_MSG(st_ == EQS_OK, "%s failed: %s", #call, (err).msg);                               \
    } while (0)

#define EQS_TEST_MAIN_END(name)                                                                    \
    do {                                                                                           \
        printf("%s: %d passed, %d failed\n", (name), eqs_test_passed, eqs_test_failed);            \
        return eqs_test_failed ? 1 : 0;                                                            \
    } while (0)

#endif
