/*
 * CBenchSupport.h - the hot path called from C, as a C or C++ strategy calls it.
 */
#ifndef CBENCH_SUPPORT_H
#define CBENCH_SUPPORT_H

#include "RedlineCore.h"

/* `n` check-and-reserve calls on `side` in a C loop; returns how many passed. */
uint64_t bench_c_reserve_loop(rl_engine_t *engine, uint32_t symbol, rl_side_t side, int64_t qty, int64_t price,
                              uint64_t n);

#endif
