/*
 * c_strategy.c - a C strategy using Redline's C API directly.
 *
 * Build and run (from the repository root):
 *   cc -std=c11 -Wall -Wextra -Werror -O2 -D_GNU_SOURCE -ICSources/RedlineCore/include \
 *      Examples/c_strategy.c CSources/RedlineCore/rl_[a-z_]*.c -luring -lnuma -lpthread -lm -o /tmp/c_strategy && /tmp/c_strategy
 *
 * It doubles as a test: it exits 1 if Redline does not behave as shown.
 */
#include <stdio.h>
#include <string.h>
#include "RedlineCore.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "FAILED: %s (line %d)\n", #cond, __LINE__); return 1; } } while (0)

int main(void) {
    rl_engine_config_t config = {
        .symbol_capacity = 0, /* default 4096 */
        .default_symbol_limit = 5000 * RL_FP_SCALE,      /* maxInventoryUSD */
        .max_total = 20000 * RL_FP_SCALE,                /* maxTotalNotional */
        .edge_freeze_threshold_bps = 200 * RL_FP_SCALE,  /* edgeFreezeThresholdBps */
    };
    rl_engine_t *engine;
    int rc = rl_engine_create(&config, &engine);
    if (rc < 0) { fprintf(stderr, "rl_engine_create: %s\n", strerror(-rc)); return 1; }

    /* Off the hot path: names to ids, once. */
    int64_t btc = rl_engine_add_symbol(engine, "BTCUSDT", 0);
    CHECK(btc == 0);

    /* The hot path: check and reserve, no locks, no allocation. */
    int64_t qty, price;
    rl_result_t r = rl_engine_check_f64(engine, (uint32_t)btc, RL_SIDE_BUY, 0.1, 40000.0, true, &qty, &price);
    printf("buy 0.1 BTCUSDT @ 40000 -> %d (RL_OK = 0)\n", r);
    CHECK(r == RL_OK);
    r = rl_engine_reserve(engine, (uint32_t)btc, RL_SIDE_BUY, 3 * RL_FP_SCALE / 100, 40000 * RL_FP_SCALE);
    printf("buy 0.03 more -> %d (RL_REJECT_SYMBOL_LIMIT = %d): working orders count\n", r, RL_REJECT_SYMBOL_LIMIT);
    CHECK(r == RL_REJECT_SYMBOL_LIMIT);

    /* Events go to the risk side through an SPSC ring; the step applies them. */
    rl_spsc_t *ring;
    CHECK(rl_spsc_create(1024, &ring) == 0);
    rl_step_result_t step;
    rl_event_t fill = { .type = RL_EVENT_FILL, .side = RL_SIDE_BUY, .symbol = (uint32_t)btc, .qty = qty, .price = price };
    CHECK(rl_spsc_push(ring, &fill) == RL_OK);
    /* The order is done: it no longer counts among the symbol's working orders. */
    rl_engine_order_done(engine, NULL, (uint32_t)btc);
    CHECK(rl_position_table_working_orders(rl_engine_table(engine), (uint32_t)btc) == 0);
    /* The market moves: 0.1 BTC at $52,000 is $5,200, over the $5,000 limit. */
    rl_event_t mark = { .type = RL_EVENT_MARK_PRICE, .symbol = (uint32_t)btc, .price = 52000 * RL_FP_SCALE };
    CHECK(rl_spsc_push(ring, &mark) == RL_OK);
    rl_engine_step(engine, ring, 64, &step);
    uint64_t word = rl_freeze_load(rl_engine_freeze(engine));
    printf("after the mark: state %d (RL_STATE_REDUCING = %d), %llu state change\n", rl_freeze_word_state(word),
           RL_STATE_REDUCING, (unsigned long long)step.state_changes);
    CHECK(rl_freeze_word_state(word) == RL_STATE_REDUCING && step.state_changes == 1);
    /* Only orders that do not raise their side pass: a buy is refused, a sell that reduces is not. */
    r = rl_engine_reserve(engine, (uint32_t)btc, RL_SIDE_BUY, RL_FP_SCALE / 100, 52000 * RL_FP_SCALE);
    printf("buy 0.01 while REDUCING -> %d (RL_REJECT_REDUCE_ONLY = %d)\n", r, RL_REJECT_REDUCE_ONLY);
    CHECK(r == RL_REJECT_REDUCE_ONLY);
    r = rl_engine_reserve(engine, (uint32_t)btc, RL_SIDE_SELL, 5 * RL_FP_SCALE / 100, 52000 * RL_FP_SCALE);
    printf("sell 0.05 while REDUCING -> %d (RL_OK): the way out\n", r);
    CHECK(r == RL_OK);

    /* The strategy's edge collapses: HALTED, and nothing but cancels passes. */
    rl_event_t edge = { .type = RL_EVENT_EDGE_UPDATE, .value = 150 * RL_FP_SCALE };
    CHECK(rl_spsc_push(ring, &edge) == RL_OK);
    rl_engine_step(engine, ring, 64, &step);
    CHECK(step.applied == 1 && step.state_changes == 1);

    /* Routers poll one word. */
    word = rl_freeze_load(rl_engine_freeze(engine));
    printf("freeze word: state %d reason %d epoch %llu\n", rl_freeze_word_state(word), rl_freeze_word_reason(word),
           (unsigned long long)rl_freeze_word_epoch(word));
    CHECK(rl_freeze_word_state(word) == RL_STATE_HALTED);
    CHECK(rl_engine_reserve(engine, (uint32_t)btc, RL_SIDE_SELL, qty, price) == RL_FROZEN);

    rl_position_view_t view;
    rl_position_table_read(rl_engine_table(engine), (uint32_t)btc, &view);
    printf("BTCUSDT position %.8f, working buy %.8f, working sell %.8f\n", rl_fp_to_double(view.position),
           rl_fp_to_double(view.working_buy), rl_fp_to_double(view.working_sell));
    CHECK(view.position == qty && view.working_buy == 0 && view.working_sell == 5 * RL_FP_SCALE / 100);

    rl_spsc_destroy(ring);
    rl_engine_destroy(engine);
    printf("c_strategy: ok\n");
    return 0;
}
