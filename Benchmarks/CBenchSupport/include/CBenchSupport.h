/*
 * CBenchSupport.h - hot-path calls made from C, as a C/C++ strategy makes them.
 * Each function is one operation; the benchmark loop calls it per iteration.
 */
#ifndef CBENCH_SUPPORT_H
#define CBENCH_SUPPORT_H

#include "RedlineCore.h"

/* One pre-order check-and-reserve, fixed point. */
rl_result_t bench_c_reserve(rl_engine_t *engine, uint32_t symbol, int64_t qty, int64_t price);

/* `n` check-and-reserve calls in a C loop; returns how many passed. */
uint64_t bench_c_reserve_loop(rl_engine_t *engine, uint32_t symbol, int64_t qty, int64_t price, uint64_t n);

/* `n` sell check-and-reserve calls in a C loop; returns how many passed. */
uint64_t bench_c_reserve_sell_loop(rl_engine_t *engine, uint32_t symbol, int64_t qty, int64_t price, uint64_t n);

#endif
