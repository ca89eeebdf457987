#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "rl_clock.h"

uint64_t rl_clock_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double rl_clock_calibrate(uint64_t sample_ns) {
#if defined(__x86_64__)
    uint64_t start_ns = rl_clock_ns(), start_cycles = rl_clock_cycles();
    uint64_t now_ns;
    do { now_ns = rl_clock_ns(); } while (now_ns - start_ns < sample_ns);
    uint64_t cycles = rl_clock_cycles() - start_cycles;
    return (double)cycles / (double)(now_ns - start_ns);
#else
    (void)sample_ns;
    return 1.0;
#endif
}
