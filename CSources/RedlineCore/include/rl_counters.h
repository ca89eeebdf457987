/*
 * rl_counters.h - plain per-thread counters for the order path.
 *
 * Each router (or strategy thread) owns one block and is its only writer, so
 * a bump is a relaxed load and store: no lock prefix, no contention. The
 * Swift side reads the blocks off the hot path and publishes deltas to
 * swift-metrics (Sources/Redline/Metrics).
 */
#ifndef RL_COUNTERS_H
#define RL_COUNTERS_H

#include "rl_platform.h"
#include "rl_result.h"

RL_EXTERN_C_BEGIN

typedef enum rl_counter {
    RL_COUNTER_CHECKS = 0,        /* pre-order checks run */
    RL_COUNTER_PLACED = 1,        /* orders that passed and were sent */
    RL_COUNTER_FILLED = 2,        /* orders completely filled */
    RL_COUNTER_CANCELED = 3,      /* cancel acks received */
    RL_COUNTER_REJECTED = 4,      /* venue or send rejects */
    RL_COUNTER_CANCEL_FAILED = 5, /* cancels that failed after every retry */
    RL_COUNTER_RING_FULL = 6,     /* RL_FULL seen when handing an event to the risk thread */
    RL_COUNTER_ORDER_ANOMALIES = 7, /* fills beyond what their order had left, or after it finished */
    RL_COUNTER_WORKING_ORDERS = 8, /* a gauge, not a count: the router's working orders at its last order or poll */
    RL_COUNTER_BLOCKED_BASE = 9,  /* + rl_result_t of the block */
    RL_COUNTER_COUNT = RL_COUNTER_BLOCKED_BASE + RL_RESULT_SLOTS,
} rl_counter_t;

typedef struct rl_counters {
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(uint64_t) values[RL_COUNTER_COUNT];
} rl_counters_t;

RL_STATIC_ASSERT(sizeof(rl_counters_t) % RL_CACHE_LINE == 0, "a counter block never shares a line with another");

/* Returns 0 or -ENOMEM. */
int rl_counters_create(rl_counters_t **out);
void rl_counters_destroy(rl_counters_t *counters);

/* Owner thread only. */
RL_INLINE void rl_counters_add(rl_counters_t *counters, rl_counter_t counter, uint64_t n) {
    /* The owning thread is the only writer; readers only want a recent value. */
    RL_SINGLE_WRITER_ADD(&counters->values[counter], n);
}

RL_INLINE void rl_counters_count_block(rl_counters_t *counters, rl_result_t result) {
    if ((unsigned)result < RL_RESULT_SLOTS) {
        rl_counters_add(counters, (rl_counter_t)((int)RL_COUNTER_BLOCKED_BASE + (int)result), 1);
    }
}

/* Owner thread only: a gauge (RL_COUNTER_WORKING_ORDERS). */
RL_INLINE void rl_counters_set(rl_counters_t *counters, rl_counter_t counter, uint64_t value) {
    /* relaxed: single writer; pairs with rl_counters_get's relaxed load (a monitoring read). */
    atomic_store_explicit(&counters->values[counter], value, memory_order_relaxed);
}

/* Any thread. */
RL_INLINE uint64_t rl_counters_get(const rl_counters_t *counters, rl_counter_t counter) {
    /* relaxed: a monitoring read of a single-writer counter. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&counters->values[counter], memory_order_relaxed);
}

RL_EXTERN_C_END

#endif /* RL_COUNTERS_H */
