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
 *   check_all_rules  check, with every per-order rule on (rl_order_rules.h) and passed
 *   reserve_all_rules reserve, with every per-order rule on and passed
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "RedlineCore.h"

#define S RL_FP_SCALE

static volatile uint64_t sink;

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s check|reserve|reserve_reducing|ring|check_all_rules|reserve_all_rules N\n", argv[0]);
        return 2;
    }
    const char *op = argv[1];
    long n = atol(argv[2]);
    rl_engine_config_t config = {0, RL_FP_MAX_LIMIT, RL_FP_MAX_LIMIT, 0, 0, 0, 0};
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
    if (strstr(op, "_all_rules") != NULL) {
        /* Every rule on and passed: the order is inside each bound, and the mark the step stamped is fresh. */
        rl_order_rules_t rules = {.max_order_qty = 1000000 * S, .max_order_notional = 1000000000LL * S,
                                  .collar_bps = 500 * S, .stale_after_ns = 3600LL * 1000000000LL};
        if (rl_engine_set_order_rules(engine, 0, &rules) != 0) return 2;
    }

    if (strcmp(op, "check") == 0 || strcmp(op, "check_all_rules") == 0) {
        for (long i = 0; i < n; i++) passed += rl_position_table_check(table, freeze, 0, RL_SIDE_BUY, S / 100, 100 * S, false) == RL_OK;
    } else if (strcmp(op, "reserve") == 0 || strcmp(op, "reserve_all_rules") == 0) {
        for (long i = 0; i < n; i++) passed += rl_engine_reserve(engine, 0, RL_SIDE_BUY, 1, 100 * S) == RL_OK;
    } else if (strcmp(op, "reserve_reducing") == 0) {
        for (long i = 0; i < n; i++) passed += rl_engine_reserve(engine, 0, RL_SIDE_SELL, 1, 100 * S) == RL_OK;
    } else if (strcmp(op, "ring") == 0) {
        for (long i = 0; i < n; i++) {
            rl_spsc_push(ring, &event);
            passed += rl_spsc_pop(ring, &event) == RL_OK;
        }
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
