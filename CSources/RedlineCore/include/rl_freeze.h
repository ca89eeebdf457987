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
 * Changes are CAS loops, so two freezers racing produce exactly one transition
 * and one epoch step. Setting the current state again changes nothing.
 */
#ifndef RL_FREEZE_H
#define RL_FREEZE_H

#include "rl_platform.h"

RL_EXTERN_C_BEGIN

typedef enum rl_trading_state {
    RL_STATE_ACTIVE = 0,
    RL_STATE_HALTED = 1,
    RL_STATE_REDUCING = 2, /* reserved: only risk-reducing orders (not yet used) */
} rl_trading_state_t;

typedef enum rl_freeze_reason {
    RL_FREEZE_REASON_NONE = 0,
    RL_FREEZE_REASON_EDGE_COLLAPSE = 1,
    RL_FREEZE_REASON_MANUAL = 2,
    RL_FREEZE_REASON_LIMIT_VIOLATION = 3,
    RL_FREEZE_REASON_CIRCUIT_BREAKER = 4,
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
    /* acquire: pairs with the release CAS in rl_freeze_transition, so whatever the
     * freezer wrote before freezing (e.g. the trigger's metadata) is visible. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&freeze->word, memory_order_acquire);
}

RL_INLINE bool rl_freeze_is_active(const rl_freeze_t *freeze) {
    return rl_freeze_word_state(rl_freeze_load(freeze)) == RL_STATE_ACTIVE;
}

/* Move to `state`, recording `reason` and bumping the epoch.
 * Returns true if this call made the change; false if the word was already in
 * `state` (idempotent). *out_word receives the word after the call. */
RL_INLINE bool rl_freeze_transition(rl_freeze_t *freeze, rl_trading_state_t state,
                                    rl_freeze_reason_t reason, uint64_t *out_word) {
    /* relaxed: the CAS below re-reads the word with the needed ordering. */
    uint64_t current = atomic_load_explicit(&freeze->word, memory_order_relaxed);
    for (;;) {
        if (rl_freeze_word_state(current) == state) {
            *out_word = current;
            return false;
        }
        uint64_t next = rl_freeze_pack(state, reason, rl_freeze_word_epoch(current) + 1);
        /* acq_rel on success: release pairs with routers' acquire in rl_freeze_load;
         * acquire orders us after the previous transition. relaxed on failure: we retry. */
        if (atomic_compare_exchange_weak_explicit(&freeze->word, &current, next,
                                                  memory_order_acq_rel, memory_order_relaxed)) {
            *out_word = next;
            return true;
        }
    }
}

RL_INLINE bool rl_freeze_halt(rl_freeze_t *freeze, rl_freeze_reason_t reason, uint64_t *out_word) {
    return rl_freeze_transition(freeze, RL_STATE_HALTED, reason, out_word);
}

RL_INLINE bool rl_freeze_resume(rl_freeze_t *freeze, rl_freeze_reason_t reason, uint64_t *out_word) {
    return rl_freeze_transition(freeze, RL_STATE_ACTIVE, reason, out_word);
}

/* Recovery only: set the word exactly as persisted. Not for use while routers run. */
RL_INLINE void rl_freeze_restore(rl_freeze_t *freeze, uint64_t word) {
    /* release: pairs with rl_freeze_load's acquire in routers started afterwards. */
    atomic_store_explicit(&freeze->word, word, memory_order_release);
}

RL_EXTERN_C_END

#endif /* RL_FREEZE_H */
