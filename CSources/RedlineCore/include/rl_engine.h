/*
 * rl_engine.h - the risk engine: symbols, position table, freeze word, and the
 * event step the risk thread runs.
 *
 *   strategy --rl_engine_reserve--> (check + reserve in the table) --> router
 *   gateway/strategy --rl_event_t--> SPSC ring --rl_engine_step--> table, freeze word
 *
 * rl_engine_step is the only writer of positions. It is called by the
 * orchestrator (drain()) in single-threaded use, and by the pinned risk thread
 * in the threaded runtime.
 */
#ifndef RL_ENGINE_H
#define RL_ENGINE_H

#include "rl_platform.h"
#include "rl_result.h"
#include "rl_fixed.h"
#include "rl_freeze.h"
#include "rl_events.h"
#include "rl_spsc.h"
#include "rl_symbols.h"
#include "rl_position_table.h"

RL_EXTERN_C_BEGIN

typedef struct rl_engine_config {
    uint32_t symbol_capacity;           /* 0 means RL_SYMBOLS_DEFAULT_CAPACITY */
    int64_t default_symbol_limit;       /* maxInventoryUSD, fixed point */
    int64_t max_total;                  /* maxTotalNotional, fixed point */
    int64_t edge_freeze_threshold_bps;  /* edgeFreezeThresholdBps, fixed point */
} rl_engine_config_t;

/* What one rl_engine_step call did. */
typedef struct rl_step_result {
    uint64_t applied;          /* events consumed */
    uint64_t invalid;          /* events skipped: unknown symbol, bad type, overflow */
    bool froze;                /* this step moved the engine to HALTED (edge collapse) */
    uint64_t freeze_word;      /* the word after the freeze, when froze */
    int64_t freeze_edge_bps;   /* the edge that triggered it, fixed point */
} rl_step_result_t;

typedef struct rl_engine {
    rl_freeze_t freeze;
    /* Written by the risk thread only. */
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(uint64_t) applied[RL_EVENT_TYPE_COUNT];
    _Atomic(uint64_t) invalid_events;
    _Atomic(int64_t) last_edge_bps;
    _Atomic(uint64_t) last_heartbeat_ns;
    /* The edge event behind the last EDGE_COLLAPSE freeze; written before the
     * freeze word, so a reader that sees the freeze sees these. */
    _Atomic(int64_t) freeze_edge_bps;
    _Atomic(uint64_t) freeze_event_timestamp;
    /* Setup-written configuration, read by the risk thread. */
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(int64_t) edge_freeze_threshold_bps;
    int64_t default_symbol_limit;
    rl_position_table_t *table;
    rl_symbol_registry_t *symbols;
    rl_spsc_t *journal;  /* where the step hands state changes to the journal writer; NULL: none */
} rl_engine_t;

RL_STATIC_ASSERT(offsetof(rl_engine_t, applied) % RL_CACHE_LINE == 0, "risk-thread stats start a line");
RL_STATIC_ASSERT(offsetof(rl_engine_t, edge_freeze_threshold_bps) % RL_CACHE_LINE == 0, "config starts a line");

/* Returns 0, -EINVAL (non-positive limits) or -ENOMEM. */
int rl_engine_create(const rl_engine_config_t *config, rl_engine_t **out);
/* As rl_engine_create, with the engine and its table on NUMA `node` (< 0: any):
 * the node of the CPU the risk thread will run on. */
int rl_engine_create_on_node(const rl_engine_config_t *config, int node, rl_engine_t **out);
void rl_engine_destroy(rl_engine_t *engine);

/* Register `name` with its own limit (fixed point), or the default when 0.
 * Returns the id, or -EINVAL, -EEXIST, -ENOSPC (rl_symbols_register). */
int64_t rl_engine_add_symbol(rl_engine_t *engine, const char *name, int64_t limit);
int64_t rl_engine_symbol_id(const rl_engine_t *engine, const char *name); /* id or -ENOENT */
const char *rl_engine_symbol_name(const rl_engine_t *engine, uint32_t id);
uint32_t rl_engine_symbol_count(const rl_engine_t *engine);

/* Limit changes. Return 0, -EINVAL (value <= 0) or -ENOENT (unknown id). */
int rl_engine_set_symbol_limit(rl_engine_t *engine, uint32_t id, int64_t limit);
int rl_engine_set_max_total(rl_engine_t *engine, int64_t max_total);
int rl_engine_set_edge_threshold(rl_engine_t *engine, int64_t threshold_bps);

/* Before the risk side starts: hand every state change the step applies to
 * `journal_ring` (rl_journal_hot_ring), NULL to stop. When that ring is full
 * the step stops consuming its input until there is room: nothing is lost. */
void rl_engine_attach_journal(rl_engine_t *engine, rl_spsc_t *journal_ring);

/* Recovery, single-threaded: apply one journaled event (RL_JREC_EVENT) to the
 * table as the risk step did; a reservation is re-made without limit checks.
 * Returns false for an event that cannot apply (unknown symbol, bad fields). */
bool rl_engine_replay_event(rl_engine_t *engine, const rl_event_t *event);

/* Risk thread: apply up to `max` events from `ring` in one batch.
 * *out is overwritten. Returns the number consumed. */
uint64_t rl_engine_step(rl_engine_t *engine, rl_spsc_t *ring, uint64_t max, rl_step_result_t *out);

RL_INLINE rl_freeze_t *rl_engine_freeze(rl_engine_t *engine) { return &engine->freeze; }
RL_INLINE rl_position_table_t *rl_engine_table(rl_engine_t *engine) { return engine->table; }

/* The hot path, fixed point: check and, on a pass, reserve. */
RL_INLINE rl_result_t rl_engine_reserve(rl_engine_t *engine, uint32_t symbol, rl_side_t side, int64_t qty,
                                        int64_t price) {
    return rl_position_table_check(engine->table, &engine->freeze, symbol, side, qty, price, true);
}

/* The hot path from doubles: validates, converts, then checks (commit = false)
 * or checks and reserves (commit = true). On RL_OK, *qty_fp and *price_fp hold
 * the fixed-point values the reservation used; keep them to release it. */
RL_INLINE rl_result_t rl_engine_check_f64(rl_engine_t *engine, uint32_t symbol, rl_side_t side, double qty,
                                          double price, bool commit, int64_t *qty_fp, int64_t *price_fp) {
    if (RL_UNLIKELY(!rl_freeze_is_active(&engine->freeze))) return RL_FROZEN;
    if (RL_UNLIKELY(!rl_fp_from_positive_double(qty, qty_fp))) {
        return (__builtin_isfinite(qty) && qty > RL_FP_MAX_DOUBLE) ? RL_REJECT_OVERFLOW : RL_REJECT_INVALID_QTY;
    }
    if (RL_UNLIKELY(!rl_fp_from_positive_double(price, price_fp))) {
        return (__builtin_isfinite(price) && price > RL_FP_MAX_DOUBLE) ? RL_REJECT_OVERFLOW : RL_REJECT_INVALID_PRICE;
    }
    return rl_position_table_check(engine->table, &engine->freeze, symbol, side, *qty_fp, *price_fp, commit);
}

/* The edge event behind the last EDGE_COLLAPSE freeze. Read after
 * rl_freeze_load() showed that freeze. */
RL_INLINE int64_t rl_engine_freeze_edge_bps(const rl_engine_t *engine) {
    /* relaxed: ordered by the acquire load of the freeze word before it. */
    return atomic_load_explicit((_Atomic(int64_t) *)&engine->freeze_edge_bps, memory_order_relaxed);
}
RL_INLINE uint64_t rl_engine_freeze_event_timestamp(const rl_engine_t *engine) {
    /* relaxed: ordered by the acquire load of the freeze word before it. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&engine->freeze_event_timestamp, memory_order_relaxed);
}

/* Risk-thread statistics, for metrics. */
RL_INLINE uint64_t rl_engine_applied_count(const rl_engine_t *engine, rl_event_type_t type) {
    /* relaxed: monitoring read of a single-writer counter. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&engine->applied[type], memory_order_relaxed);
}
RL_INLINE uint64_t rl_engine_invalid_count(const rl_engine_t *engine) {
    /* relaxed: monitoring read of a single-writer counter. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&engine->invalid_events, memory_order_relaxed);
}
RL_INLINE int64_t rl_engine_last_edge_bps(const rl_engine_t *engine) {
    /* relaxed: monitoring read. */
    return atomic_load_explicit((_Atomic(int64_t) *)&engine->last_edge_bps, memory_order_relaxed);
}
RL_INLINE int64_t rl_engine_edge_threshold(const rl_engine_t *engine) {
    /* relaxed: self-contained setup value. */
    return atomic_load_explicit((_Atomic(int64_t) *)&engine->edge_freeze_threshold_bps, memory_order_relaxed);
}

RL_EXTERN_C_END

#endif /* RL_ENGINE_H */
