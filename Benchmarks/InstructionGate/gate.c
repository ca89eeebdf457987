/*
 * gate.c - the hot path in a loop, for counting instructions per call with
 * callgrind (scripts/instruction-gate.sh). Wall-clock time on a shared VM is
 * noise; instruction counts are exact and repeatable.
 *
 *   gate OPERATION N     run OPERATION N times after the same setup
 *
 * The script runs N and 2N and takes the difference over N, so setup and
 * start-up cancel out. Operations:
 *   check            the check alone (commit = false) of an order that raises its side
 *   reserve          check and reserve an order that raises its side (book CAS + side CAS)
 *   reserve_reducing check and reserve an order that reduces its side (one side CAS)
 *   ring             push one 48-byte event into an SPSC ring and pop it
 *   check_all_rules  check, with every per-order rule (rl_order_rules.h) and every strategy
 *                    limit (rl_strategy.h: rates, open orders) on and passed
 *   reserve_all_rules reserve, the same
 *   router           the check a router runs: from doubles, reserving, with its strategy (limits off)
 *   router_all_rules the same with every rule and strategy limit on and passed
 *   reserve_rule_qty|notional|collar|stale   reserve with that one rule on and passed
 *   reserve_rule_restricted                 a reserve blocked by the restricted list
 * (the script reports the reserve_rule_* counts for the README; it gates the others)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "RedlineCore.h"

#define S RL_FP_SCALE

static volatile uint64_t sink;

/* One loop per kind, out of line, so that no operation's code depends on
 * which other loops main() holds. */
/* The core: no strategy limits (a NULL strategy folds them away). */
__attribute__((noinline)) static uint64_t check_loop(rl_position_table_t *table, rl_freeze_t *freeze, long n) {
    uint64_t passed = 0;
    for (long i = 0; i < n; i++) passed += rl_position_table_check(table, freeze, 0, RL_SIDE_BUY, S / 100, 100 * S, false) == RL_OK;
    return passed;
}

__attribute__((noinline)) static uint64_t reserve_loop(rl_engine_t *engine, rl_side_t side, rl_result_t expected, long n) {
    uint64_t passed = 0;
    for (long i = 0; i < n; i++) passed += rl_engine_reserve(engine, 0, side, 1, 100 * S) == expected;
    return passed;
}

/* The check a router runs (OrderRouter.placeOrder): from doubles, with its
 * strategy's limits. */
__attribute__((noinline)) static uint64_t router_loop(rl_engine_t *engine, rl_strategy_t *strategy, long n) {
    uint64_t passed = 0;
    int64_t q, p;
    for (long i = 0; i < n; i++) {
        passed += rl_engine_check_for(engine, strategy, 0, RL_SIDE_BUY, 1e-8, 100.0, true, &q, &p) == RL_OK;
    }
    return passed;
}

/* A router's check: with its strategy's rate and open-order limits. */
__attribute__((noinline)) static uint64_t check_for_loop(rl_position_table_t *table, rl_freeze_t *freeze,
                                                        rl_strategy_t *strategy, long n) {
    uint64_t passed = 0;
    for (long i = 0; i < n; i++) {
        passed += rl_position_table_check_for(table, freeze, strategy, 0, RL_SIDE_BUY, S / 100, 100 * S, false) == RL_OK;
    }
    return passed;
}

__attribute__((noinline)) static uint64_t reserve_for_loop(rl_engine_t *engine, rl_strategy_t *strategy, long n) {
    uint64_t passed = 0;
    rl_position_table_t *table = rl_engine_table(engine);
    for (long i = 0; i < n; i++) {
        passed += rl_position_table_check_for(table, rl_engine_freeze(engine), strategy, 0, RL_SIDE_BUY, 1, 100 * S, true) == RL_OK;
    }
    return passed;
}

__attribute__((noinline)) static uint64_t ring_loop(rl_spsc_t *ring, rl_event_t *event, long n) {
    uint64_t passed = 0;
    for (long i = 0; i < n; i++) {
        rl_spsc_push(ring, event);
        passed += rl_spsc_pop(ring, event) == RL_OK;
    }
    return passed;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s check|reserve|reserve_reducing|ring|check_all_rules|reserve_all_rules N\n", argv[0]);
        return 2;
    }
    const char *op = argv[1];
    long n = atol(argv[2]);
    /* The manual clock: the count is then exact and repeatable (measuring the
     * TSC would spin for 10 ms, a different number of instructions each run). */
    rl_engine_config_t config = {0, RL_FP_MAX_LIMIT, RL_FP_MAX_LIMIT, 0, 0, 1, 0};
    rl_engine_t *engine;
    if (rl_engine_create(&config, &engine) != 0) return 2;
    rl_engine_add_symbol(engine, "A", 0);
    rl_spsc_t *ring;
    rl_spsc_create(1024, &ring);
    rl_event_t event;
    memset(&event, 0, sizeof event);
    /* A mark, and a large long position for the reducing sells. */
    event.type = RL_EVENT_POSITION_ADJUST;
    event.qty = 1000000 * S;
    event.price = 100 * S;
    rl_spsc_push(ring, &event);
    rl_step_result_t step;
    rl_engine_step(engine, ring, 8, &step);
    memset(&event, 0, sizeof event);
    rl_position_table_t *table = rl_engine_table(engine);
    rl_freeze_t *freeze = rl_engine_freeze(engine);
    uint64_t passed = 0;
    /* Rules on and passed: the order is inside each bound, and the mark the step stamped is fresh. */
    rl_order_rules_t every = {.max_order_qty = 1000000 * S, .max_order_notional = 1000000000LL * S,
                              .collar_bps = 500 * S, .stale_after_ns = 3600LL * 1000000000LL,
                              .max_working_orders = 4000000000u};
    rl_order_rules_t rules = {0};
    rl_result_t expected = RL_OK;
    if (strstr(op, "_all_rules") != NULL) rules = every;
    if (strcmp(op, "reserve_rule_qty") == 0) rules.max_order_qty = every.max_order_qty;
    if (strcmp(op, "reserve_rule_notional") == 0) rules.max_order_notional = every.max_order_notional;
    if (strcmp(op, "reserve_rule_collar") == 0) rules.collar_bps = every.collar_bps;
    if (strcmp(op, "reserve_rule_stale") == 0) rules.stale_after_ns = every.stale_after_ns;
    if (strcmp(op, "reserve_rule_working") == 0) rules.max_working_orders = every.max_working_orders;
    if (strcmp(op, "reserve_rule_restricted") == 0) {
        rules.flags = RL_RULES_RESTRICTED;
        expected = RL_REJECT_RESTRICTED;
    }
    if (memcmp(&rules, &(rl_order_rules_t){0}, sizeof rules) != 0 && rl_engine_set_order_rules(engine, 0, &rules) != 0) return 2;
    rl_strategy_t *strategy = NULL;
    if (strcmp(op, "router") == 0 && rl_strategy_create(16, -1, &strategy) != 0) return 2;
    if (strstr(op, "_all_rules") != NULL) {
        /* Rates far above what the loop reaches, open-order caps above n: on, and passed. */
        rl_strategy_limits_t limits = {4000000000u, 4000000000u, 1000000, 4000000000u, 1000000, 4000000000u, 4000000000u, 0};
        if (rl_strategy_create(16, -1, &strategy) != 0 || rl_engine_set_strategy_limits(engine, &limits) != 0) return 2;
    }

    if (strcmp(op, "check") == 0) {
        passed = check_loop(table, freeze, n);
    } else if (strcmp(op, "check_all_rules") == 0) {
        passed = check_for_loop(table, freeze, strategy, n);
    } else if (strcmp(op, "reserve") == 0) {
        passed = reserve_loop(engine, RL_SIDE_BUY, RL_OK, n);
    } else if (strcmp(op, "router") == 0 || strcmp(op, "router_all_rules") == 0) {
        passed = router_loop(engine, strategy, n);
    } else if (strcmp(op, "reserve_all_rules") == 0) {
        passed = reserve_for_loop(engine, strategy, n);
    } else if (strcmp(op, "reserve_reducing") == 0) {
        passed = reserve_loop(engine, RL_SIDE_SELL, RL_OK, n);
    } else if (strncmp(op, "reserve_rule_", 13) == 0) {
        passed = reserve_loop(engine, RL_SIDE_BUY, expected, n);
    } else if (strcmp(op, "ring") == 0) {
        passed = ring_loop(ring, &event, n);
    } else {
        return 2;
    }
    sink = passed;
    if (passed != (uint64_t)n) {
        fprintf(stderr, "%s: only %lu of %ld passed\n", op, passed, n);
        return 1;
    }
    return 0;
}
