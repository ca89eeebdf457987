/*
 * rl_freeze.h - the trading-state word that every router polls.
 *
 * One atomic 64-bit word packs the whole trading state, so a router learns
 * everything with a single acquire load:
 *
 *   bits  0..7   state   (RL_STATE_ACTIVE, RL_STATE_HALTED, RL_STATE_REDUCING)
 *   bits  8..15  reason  (rl_freeze_reason_t of the last change)
 *   bits 16..63  epoch   (+1 on every change; a router that sees a new epoch
 *                         knows something happened even if it missed a
 *                         halt-then-resume pair)
 *
 * Written by the engine's trading-state controller (rl_engine.c), which runs
 * the pure machine in rl_trading.h on the risk side, and by a halt from any
 * thread (rl_engine_halt_now), which only ever moves a word that is not
 * HALTED to HALTED, by CAS. The controller never stores over a halt it has
 * not taken in. Everyone else reads.
 */
#ifndef RL_FREEZE_H
#define RL_FREEZE_H

#include "rl_platform.h"

RL_EXTERN_C_BEGIN

typedef enum rl_trading_state {
    RL_STATE_ACTIVE = 0,
    RL_STATE_HALTED = 1,
    RL_STATE_REDUCING = 2, /* only orders that do not raise their side's worst case */
} rl_trading_state_t;

typedef enum rl_freeze_reason {
    RL_FREEZE_REASON_NONE = 0,
    RL_FREEZE_REASON_EDGE_COLLAPSE = 1,
    RL_FREEZE_REASON_MANUAL = 2,
    RL_FREEZE_REASON_LIMIT_VIOLATION = 3,
    RL_FREEZE_REASON_CIRCUIT_BREAKER = 4,
    RL_FREEZE_REASON_LIMITS_CLEARED = 5, /* REDUCING ended: exposure is back under the resume share */
    RL_FREEZE_REASON_UNRECORDABLE = 6,   /* the venue reported a fill the position cannot hold */
    RL_FREEZE_REASON_JOURNAL_FAILURE = 7, /* a journal write or sync failed: nothing is durable */
    RL_FREEZE_REASON_RECONCILING = 8,     /* REDUCING: orders recovered in doubt wait for the venue's word */
    RL_FREEZE_REASON_RECONCILED = 9,      /* REDUCING ended: every order in doubt was settled with the venue */
    RL_FREEZE_REASON_HEARTBEAT_LOST = 10, /* the strategy missed its heartbeat (transient: the breaker lifts it) */
    RL_FREEZE_REASON_BREAKER_ESCALATED = 11, /* a transient halt repeated until the breaker gave up: an operator must look */
    RL_FREEZE_REASON_RATE_EXCEEDED = 12,  /* a strategy kept sending past its rate limits (transient) */
    RL_FREEZE_REASON_DRAWDOWN = 13,       /* equity fell from its peak by more than the drawdown limit */
    RL_FREEZE_REASON_DAILY_LOSS = 14,     /* equity fell since the day began by more than the daily loss limit */
    RL_FREEZE_REASON_STALE_DATA = 15,     /* no reference price arrived for any symbol for too long: the feed is stale (transient) */
    RL_FREEZE_REASON_JOURNAL_BACKPRESSURE = 16, /* the journal fell behind: its ring stayed 3/4 full for too long (transient) */
    /* Never recorded: the word of a halt that an operator's unfreeze is
     * deciding to lift, shown for a moment by the risk side (same epoch,
     * still HALTED). Transient, so a kill switch pulled meanwhile stores its
     * halt over it and the lift's CAS fails (rl_engine.c, RL_CONTROL_UNFREEZE). */
    RL_FREEZE_REASON_LIFTING = 17,
} rl_freeze_reason_t;

/* Alone on its cache line: written rarely, read by every router in its loop. */
typedef struct rl_freeze {
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(uint64_t) word;
    uint8_t padding[RL_CACHE_LINE - sizeof(uint64_t)];
} rl_freeze_t;

RL_STATIC_ASSERT(sizeof(rl_freeze_t) == RL_CACHE_LINE, "freeze word owns exactly one cache line");

RL_INLINE uint64_t rl_freeze_pack(uint64_t state, uint64_t reason, uint64_t epoch) {
    return (state & 0xff) | ((reason & 0xff) << 8) | (epoch << 16);
}
RL_INLINE rl_trading_state_t rl_freeze_word_state(uint64_t word) { return (rl_trading_state_t)(word & 0xff); }
RL_INLINE rl_freeze_reason_t rl_freeze_word_reason(uint64_t word) { return (rl_freeze_reason_t)((word >> 8) & 0xff); }
RL_INLINE uint64_t rl_freeze_word_epoch(uint64_t word) { return word >> 16; }

RL_INLINE void rl_freeze_init(rl_freeze_t *freeze) {
    /* relaxed: initialisation happens before the freeze is shared with any thread. */
    atomic_store_explicit(&freeze->word, rl_freeze_pack(RL_STATE_ACTIVE, RL_FREEZE_REASON_NONE, 0),
                          memory_order_relaxed);
}

/* The one load a router does per loop iteration. */
RL_INLINE uint64_t rl_freeze_load(const rl_freeze_t *freeze) {
    /* acquire: pairs with the release store in rl_freeze_store, so whatever the
     * controller wrote before (e.g. a new limit) is visible. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&freeze->word, memory_order_acquire);
}

RL_INLINE bool rl_freeze_is_active(const rl_freeze_t *freeze) {
    return rl_freeze_word_state(rl_freeze_load(freeze)) == RL_STATE_ACTIVE;
}

/* Recovery's store, before anything else runs: set the word. */
RL_INLINE void rl_freeze_store(rl_freeze_t *freeze, uint64_t word) {
    /* release: pairs with rl_freeze_load's acquire in routers and checkers. */
    atomic_store_explicit(&freeze->word, word, memory_order_release);
}

RL_EXTERN_C_END

#endif /* RL_FREEZE_H */
