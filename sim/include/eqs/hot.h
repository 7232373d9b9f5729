/* eqs/hot.h — how the per-element inner loops are compiled: twice, for baseline x86-64 and for
 * x86-64-v4 (AVX-512), the loader picking the variant the CPU runs (GCC function
 * multi-versioning). ISO C11 mode compiles without FMA contraction, so both variants round
 * alike: the same bits either way. Internal to the eqsim modules. */
#ifndef EQS_HOT_H
#define EQS_HOT_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) &&       \
    !defined(__SANITIZE_ADDRESS__)
#define EQS_HOT __attribute__((target_clones("default", "arch=x86-64-v4")))
#else
#define EQS_HOT
#endif

#endif
