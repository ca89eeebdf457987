/*
 * rl_clock.h - a cheap timestamp for sampling latencies on the hot path.
 *
 * On x86-64 this is the TSC (about 9 ns to read on the CI VM, against about
 * 21 ns for clock_gettime); elsewhere it is CLOCK_MONOTONIC in nanoseconds.
 * rl_clock_calibrate() measures cycles per nanosecond once, off the hot path.
 */
#ifndef RL_CLOCK_H
#define RL_CLOCK_H

#include "rl_platform.h"
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

RL_EXTERN_C_BEGIN

/* Monotonic nanoseconds (clock_gettime), out of line: what a strict ISO C
 * consumer (-std=c11 with no POSIX feature macro) calls, its <time.h>
 * declaring no clock_gettime. */
uint64_t rl_clock_monotonic_ns(void);

/* Monotonic nanoseconds (clock_gettime): inline where POSIX is visible. */
RL_INLINE uint64_t rl_clock_ns(void) {
#if defined(CLOCK_MONOTONIC)
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
#else
    return rl_clock_monotonic_ns();
#endif
}

/* Cycles (x86-64 TSC) or nanoseconds elsewhere. */
RL_INLINE uint64_t rl_clock_cycles(void) {
#if defined(__x86_64__)
    return __rdtsc();
#else
    return rl_clock_ns();
#endif
}

/* Measure cycles per nanosecond over `sample_ns` of wall time (e.g. 20 ms).
 * 1.0 where rl_clock_cycles already counts nanoseconds. */
double rl_clock_calibrate(uint64_t sample_ns);

RL_EXTERN_C_END

#endif /* RL_CLOCK_H */
