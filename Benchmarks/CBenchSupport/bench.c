#include "CBenchSupport.h"

uint64_t bench_c_reserve_loop(rl_engine_t *engine, uint32_t symbol, rl_side_t side, int64_t qty, int64_t price,
                              uint64_t n) {
    uint64_t passed = 0;
    for (uint64_t i = 0; i < n; i++) {
        passed += rl_engine_reserve(engine, symbol, side, qty, price) == RL_OK;
    }
    return passed;
}
