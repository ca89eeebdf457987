/*
 * rl_strategy.h - what one strategy (one router, one thread) may send: its
 * message rates and its working orders.
 *
 * Limits (the same for every strategy, set with the engine's limits):
 *
 *   order rate        new orders that raise risk, per second, for the
 *                     strategy and, separately, per symbol, with a burst;
 *   cancel rate       a separate, larger budget for cancels;
 *   open orders       working orders of the strategy, and per symbol.
 *
 * Only orders that raise their side's worst case meet the order-rate and
 * open-order limits (in the check's raising branch, after the per-order
 * rules); a cancel or an order that reduces risk is never blocked by them.
 * The limits are double-buffered by the book word's generation, like every
 * limit: a check sees the old ones or the new ones.
 *
 * State: each strategy's own rl_strategy_t, written only by its thread (the
 * router's), on its own cache lines: no atomics, no contention. A rate is a
 * GCRA bucket: one "theoretical arrival time" per bucket; an order may go
 * when now >= tat - tolerance, and then tat = max(tat, now) + interval.
 * Time is the engine's clock (rl_rules_clock_t), never the order's.
 *
 * A strategy can also be halted on its own (its dead-man: it missed its
 * heartbeat): the risk side sets the strategy's bit in the engine's halt
 * bits, and every check for this strategy is then refused
 * (RL_REJECT_STRATEGY_HALTED) until the bit clears, while other strategies
 * trade on.
 */
#ifndef RL_STRATEGY_H
#define RL_STRATEGY_H

#include "rl_platform.h"
#include "rl_result.h"
#include "rl_order_rules.h"

RL_EXTERN_C_BEGIN

/* The limits as an operator states them (Swift-importable); 0: off. */
typedef struct rl_strategy_limits {
    uint32_t orders_per_second;            /* per strategy */
    uint32_t orders_per_second_per_symbol; /* per strategy and symbol */
    uint32_t order_burst;                  /* orders a bucket may send at once (>= 1 when a rate is on) */
    uint32_t cancels_per_second;           /* per strategy */
    uint32_t cancel_burst;
    uint32_t max_open_orders;              /* per strategy */
    uint32_t max_open_orders_per_symbol;   /* per strategy and symbol */
    uint32_t reserved;                     /* 0 */
} rl_strategy_limits_t;

/* 0, or -EINVAL: a rate with no burst, a reserved field set. */
int rl_strategy_limits_validate(const rl_strategy_limits_t *limits);

typedef enum rl_strategy_bit {
    RL_STRATEGY_ORDER_RATE = 1u << 0,
    RL_STRATEGY_SYMBOL_RATE = 1u << 1,
    RL_STRATEGY_OPEN = 1u << 2,
    RL_STRATEGY_SYMBOL_OPEN = 1u << 3,
    RL_STRATEGY_CANCEL_RATE = 1u << 4,
} rl_strategy_bit_t;

/* One generation's limits, in the engine clock's units. */
typedef struct rl_strategy_limits_buffer {
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(uint64_t) active; /* rl_strategy_bit_t */
    _Atomic(uint64_t) order_interval;   /* clock units per order */
    _Atomic(uint64_t) order_tolerance;  /* (burst - 1) x interval */
    _Atomic(uint64_t) symbol_interval;
    _Atomic(uint64_t) symbol_tolerance;
    _Atomic(uint64_t) cancel_interval;
    _Atomic(uint64_t) cancel_tolerance;
    _Atomic(uint32_t) max_open;
    _Atomic(uint32_t) max_open_symbol;
} rl_strategy_limits_buffer_t;

RL_STATIC_ASSERT(sizeof(rl_strategy_limits_buffer_t) == RL_CACHE_LINE, "one generation's strategy limits fill one line");

/* A strategy's state for one symbol. */
typedef struct rl_strategy_symbol {
    uint64_t tat;             /* the symbol's order-rate bucket */
    uint64_t open;            /* working orders on the symbol */
} rl_strategy_symbol_t;

/* One strategy's state. Its thread alone reads and writes it. */
typedef struct rl_strategy {
    RL_ALIGNAS(RL_CACHE_LINE) uint64_t order_tat;
    uint64_t cancel_tat;
    uint64_t rate_blocks;     /* orders blocked by a rate (statistics) */
    uint64_t open_blocks;     /* orders blocked by an open-order count */
    uint64_t cancel_blocks;   /* cancels over the cancel budget */
    _Atomic(uint64_t) *halt_word; /* the engine's word holding this strategy's halt bit (rl_engine_bind_strategy);
                                     until bound, a word no one sets */
    uint64_t halt_mask;       /* its bit in *halt_word */
    uint32_t open;            /* working orders (at most a router's order capacity) */
    uint32_t capacity;        /* symbols */
    rl_strategy_symbol_t symbols[]; /* capacity of them */
} rl_strategy_t;

RL_STATIC_ASSERT(sizeof(rl_strategy_t) == RL_CACHE_LINE, "a strategy's state owns one line (its symbols follow)");

/* For `symbol_capacity` symbols, on NUMA `node` (< 0: any). 0, -EINVAL or -ENOMEM. */
int rl_strategy_create(uint32_t symbol_capacity, int node, rl_strategy_t **out);
void rl_strategy_destroy(rl_strategy_t *strategy);

/* Is this strategy alone halted (its dead-man, rl_engine.h)? One load of a
 * word the risk side writes only when a strategy halts or resumes. */
RL_INLINE bool rl_strategy_halted(const rl_strategy_t *s) {
    /* acquire: pairs with the risk side's release store of the halt bits (rl_engine_set_strategy_halt). */
    return (atomic_load_explicit(s->halt_word, memory_order_acquire) & s->halt_mask) != 0;
}

RL_INLINE uint64_t rl_strategy_gcra_ready(uint64_t tat, uint64_t tolerance, uint64_t now) {
    return now + tolerance >= tat;
}

/* Would a raising order on `symbol` pass the strategy's limits at `now`?
 * A limit that is off is stored so that it always passes (an open-order cap
 * of UINT32_MAX, a rate with an endless tolerance and no interval), so the
 * check tests no bits. */
RL_INLINE rl_result_t rl_strategy_admit(const rl_strategy_t *s, const rl_strategy_limits_buffer_t *l, uint32_t symbol,
                                        uint64_t now) {
    /* relaxed, all: the buffer of the generation the check read; the book CAS validates it. */
    if (s->open >= atomic_load_explicit((_Atomic(uint32_t) *)&l->max_open, memory_order_relaxed) ||
        s->symbols[symbol].open >= atomic_load_explicit((_Atomic(uint32_t) *)&l->max_open_symbol, memory_order_relaxed)) {
        return RL_REJECT_OPEN_ORDERS;
    }
    if (!rl_strategy_gcra_ready(s->order_tat,
                                atomic_load_explicit((_Atomic(uint64_t) *)&l->order_tolerance, memory_order_relaxed), now) ||
        !rl_strategy_gcra_ready(s->symbols[symbol].tat,
                                atomic_load_explicit((_Atomic(uint64_t) *)&l->symbol_tolerance, memory_order_relaxed), now)) {
        return RL_REJECT_RATE_LIMIT;
    }
    return RL_OK;
}

/* A raising order on `symbol` was accepted at `now`: it spends its rates
 * (a rate that is off has no interval: nothing is spent). */
RL_INLINE void rl_strategy_spend(rl_strategy_t *s, const rl_strategy_limits_buffer_t *l, uint32_t symbol, uint64_t now) {
    /* relaxed, both: as in rl_strategy_admit. */
    rl_strategy_symbol_t *own = &s->symbols[symbol];
    uint64_t tat = s->order_tat, symbol_tat = own->tat;
    s->order_tat = (tat > now ? tat : now) + atomic_load_explicit((_Atomic(uint64_t) *)&l->order_interval, memory_order_relaxed);
    own->tat = (symbol_tat > now ? symbol_tat : now) +
               atomic_load_explicit((_Atomic(uint64_t) *)&l->symbol_interval, memory_order_relaxed);
}

/* Any accepted order on `symbol` is working now (counted whatever its kind). */
RL_INLINE void rl_strategy_opened(rl_strategy_t *s, uint32_t symbol) {
    s->open++;
    s->symbols[symbol].open++;
}

/* `count` orders on `symbol` finished (filled, canceled, rejected, expired). */
RL_INLINE void rl_strategy_closed_n(rl_strategy_t *s, uint32_t symbol, uint32_t count) {
    if (symbol >= s->capacity) return;
    s->open = s->open > count ? s->open - count : 0;
    s->symbols[symbol].open = s->symbols[symbol].open > count ? s->symbols[symbol].open - count : 0;
}

/* An order on `symbol` finished. */
RL_INLINE void rl_strategy_closed(rl_strategy_t *s, uint32_t symbol) { rl_strategy_closed_n(s, symbol, 1); }

/* Statistics (the strategy's thread, or any thread for a recent value). */
RL_INLINE uint64_t rl_strategy_rate_blocks(const rl_strategy_t *s) { return s->rate_blocks; }
RL_INLINE uint64_t rl_strategy_open_blocks(const rl_strategy_t *s) { return s->open_blocks; }
RL_INLINE uint64_t rl_strategy_cancel_blocks(const rl_strategy_t *s) { return s->cancel_blocks; }
RL_INLINE uint64_t rl_strategy_open_orders(const rl_strategy_t *s) { return s->open; }

RL_EXTERN_C_END

#endif /* RL_STRATEGY_H */
