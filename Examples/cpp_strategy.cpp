// cpp_strategy.cpp - a C++ strategy using Redline's C headers (C++23, for <stdatomic.h>).
//
// Build and run (from the repository root):
//   for f in CSources/RedlineCore/rl_*.c; do cc -std=c11 -O2 -D_GNU_SOURCE -ICSources/RedlineCore/include -c "$f" -o "/tmp/$(basename "$f").o"; done
//   c++ -std=c++23 -Wall -Wextra -Werror -O2 -ICSources/RedlineCore/include Examples/cpp_strategy.cpp /tmp/rl_*.o -luring -lnuma -lpthread -lm -o /tmp/cpp_strategy && /tmp/cpp_strategy
#include <cstdio>
#include <cstring>
#include "RedlineCore.h"

int main() {
    rl_engine_config_t config{};
    config.default_symbol_limit = 5000 * RL_FP_SCALE;
    config.max_total = 20000 * RL_FP_SCALE;
    config.edge_freeze_threshold_bps = 200 * RL_FP_SCALE;
    rl_engine_t *engine = nullptr;
    if (int rc = rl_engine_create(&config, &engine); rc < 0) {
        std::fprintf(stderr, "rl_engine_create: %s\n", std::strerror(-rc));
        return 1;
    }
    const auto btc = static_cast<uint32_t>(rl_engine_add_symbol(engine, "BTCUSDT", 0));
    int64_t qty = 0, price = 0;
    const rl_result_t first = rl_engine_check_f64(engine, btc, RL_SIDE_BUY, 0.1, 40000.0, true, &qty, &price);
    const rl_result_t second = rl_engine_check_f64(engine, btc, RL_SIDE_BUY, 0.03, 40000.0, true, &qty, &price);
    std::printf("C++: first %d (RL_OK), second %d (RL_REJECT_SYMBOL_LIMIT)\n", first, second);
    rl_engine_destroy(engine);
    return first == RL_OK && second == RL_REJECT_SYMBOL_LIMIT ? 0 : 1;
}
