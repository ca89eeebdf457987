/*
 * rl_result.h - the one closed set of hot-path result codes.
 *
 * Hot-path functions return rl_result_t; setup and I/O return -errno.
 * The Swift side maps both into RedlineError in one place
 * (Sources/Redline/Errors/RedlineError.swift). Values are stable: they are
 * written to metrics labels and, later, to the journal. Append only.
 */
#ifndef RL_RESULT_H
#define RL_RESULT_H

#include "rl_platform.h"

RL_EXTERN_C_BEGIN

typedef enum rl_result {
    RL_OK = 0,
    /* Ring results. */
    RL_FULL = 1,                       /* ring has no free slot; nothing was written */
    RL_EMPTY = 2,                      /* ring has nothing to read */
    /* Pre-order check results: the order is blocked. */
    RL_FROZEN = 10,                    /* trading state is HALTED */
    RL_REJECT_INVALID_QTY = 11,        /* NaN, infinite, zero or negative quantity */
    RL_REJECT_INVALID_PRICE = 12,      /* NaN, infinite, zero or negative price */
    RL_REJECT_UNKNOWN_SYMBOL = 13,     /* symbol id was never registered */
    RL_REJECT_OVERFLOW = 14,           /* fixed-point arithmetic would overflow */
    RL_REJECT_SYMBOL_LIMIT = 15,       /* symbol's worst-case inventory > its limit */
    RL_REJECT_TOTAL_LIMIT = 16,        /* book's worst-case exposure > maxTotalNotional */
    RL_REJECT_INVALID_SIDE = 17,       /* side is neither BUY nor SELL */
    RL_REJECT_REDUCE_ONLY = 18,        /* trading state is REDUCING and the order raises its side's worst case */
    RL_REJECT_IMPRECISE = 19,          /* qty or price has digits below 1e-8 that rounding would move by more than 1e-8 relative */
    /* Per-order rules (rl_order_rules.h), checked in this order before the limits. */
    RL_REJECT_RESTRICTED = 20,         /* the symbol is on the restricted list */
    RL_REJECT_ORDER_QTY = 21,          /* qty above the symbol's maximum per order */
    RL_REJECT_ORDER_NOTIONAL = 22,     /* qty x price above the symbol's maximum notional per order */
    RL_REJECT_NO_REFERENCE_PRICE = 23, /* the collar or staleness rule is on and the symbol has no mark yet */
    RL_REJECT_PRICE_COLLAR = 24,       /* a buy above, or a sell below, the mark by more than the collar */
    RL_REJECT_STALE_PRICE = 25,        /* the mark is older than the staleness bound */
    /* A strategy's own limits (rl_strategy.h), checked after the per-order rules. */
    RL_REJECT_OPEN_ORDERS = 26,        /* the strategy's working orders (or on the symbol) are at their maximum */
    RL_REJECT_RATE_LIMIT = 27,         /* the strategy's new-order rate (or on the symbol) is spent; cancels too */
    RL_REJECT_DUPLICATE_ID = 28,       /* the client order id is already working (the router checks it) */
    RL_REJECT_STRATEGY_HALTED = 29,    /* this strategy alone is halted (its dead-man: a missed heartbeat) */
} rl_result_t;

/* Number of distinct codes a blocked-by-reason counter array needs. */
#define RL_RESULT_SLOTS 30

typedef enum rl_side {
    RL_SIDE_BUY = 0,
    RL_SIDE_SELL = 1,
} rl_side_t;

RL_EXTERN_C_END

#endif /* RL_RESULT_H */
