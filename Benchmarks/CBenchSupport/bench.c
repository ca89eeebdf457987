#include "CBenchSupport.h"

rl_result_t bench_c_reserve(rl_engine_t *engine, uint32_t symbol, int64_t qty, int64_t price) {
    return rl_engine_reserve(engine, symbol, RL_SIDE_BUY, qty, price);
}

static uint64_t bench_c_loop(rl_engine_t *engine, uint32_t symbol, rl_side_t side, int64_t qty, int64_t price,
                             uint64_t n) {
    uint64_t passed = 0;
    for (uint64_t i = 0; i < n; i++) {
        passed += rl_engine_reserve(engine, symbol, side, qty, price) == RL_OK;
    }
    return passed;
}

uint64_t bench_c_reserve_loop(rl_engine_t *engine, uint32_t symbol, int64_t qty, int64_t price, uint64_t n) {
    return bench_c_loop(engine, symbol, RL_SIDE_BUY, qty, price, n);
}

uint64_t bench_c_reserve_sell_loop(rl_engine_t *engine, uint32_t symbol, int64_t qty, int64_t price, uint64_t n) {
    return bench_c_loop(engine, symbol, RL_SIDE_SELL, qty, price, n);
}
