/*
 * legacy_position_table.h - the position table as it was before the exposure
 * model of rl_position_table.h, kept only so that Tests/C/interleavings.c can
 * show that the races it forces broke the old design (and no longer break
 * the new one). Test code: never built into Redline.
 *
 * Copied from commit 0a550fb (CSources/RedlineCore/include/rl_position_table.h),
 * renamed legacy_*, with two RL_HOOK points added where the races happen.
 */
#ifndef LEGACY_POSITION_TABLE_H
#define LEGACY_POSITION_TABLE_H

#include <stdlib.h>
#include "rl_platform.h"
#include "rl_result.h"
#include "rl_fixed.h"
#include "rl_freeze.h"

typedef struct legacy_slot {
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(int64_t) long_worst; /* position + working buys */
    _Atomic(int64_t) short_worst;                         /* position - working sells */
    _Atomic(int64_t) exposure;                            /* this slot's share of total_exposure */
    _Atomic(int64_t) position;                            /* risk thread only */
    _Atomic(int64_t) mark;                                /* last mark price; 0 until known */
    _Atomic(int64_t) limit;                               /* max worst-case notional */
    uint8_t padding[RL_CACHE_LINE - 6 * sizeof(int64_t)];
} legacy_slot_t;

RL_STATIC_ASSERT(sizeof(legacy_slot_t) == RL_CACHE_LINE, "one slot per cache line");

typedef struct legacy_table {
    /* Setup-written, read by every checker. */
    RL_ALIGNAS(RL_CACHE_LINE) uint32_t capacity;
    _Atomic(uint32_t) count;         /* registered slots; published with release */
    _Atomic(int64_t) max_total;      /* maxTotalNotional */
    /* Contended by every reservation: alone on its line. */
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(int64_t) total_exposure;
    RL_ALIGNAS(RL_CACHE_LINE) legacy_slot_t slots[];
} legacy_table_t;

RL_STATIC_ASSERT(offsetof(legacy_table_t, total_exposure) % RL_CACHE_LINE == 0, "total starts its own line");
RL_STATIC_ASSERT(offsetof(legacy_table_t, slots) - offsetof(legacy_table_t, total_exposure) >= RL_CACHE_LINE,
               "total does not share a line with slot 0");
RL_STATIC_ASSERT(offsetof(legacy_table_t, slots) % RL_CACHE_LINE == 0, "slots start on a line");

/* A plain copy of a slot, for reporting and snapshots (Swift-importable). */
typedef struct legacy_view {
    int64_t position;
    int64_t working_buy;
    int64_t working_sell;
    int64_t mark;
    int64_t exposure;
    int64_t limit;
} legacy_view_t;

RL_INLINE uint32_t legacy_table_count(const legacy_table_t *table) {
    /* acquire: pairs with the release store in legacy_table_activate, so the
     * slot's limit is initialised before its id is accepted. */
    return atomic_load_explicit((_Atomic(uint32_t) *)&table->count, memory_order_acquire);
}



RL_INLINE int64_t legacy_table_total(const legacy_table_t *table) {
    /* relaxed: a monitoring read of the aggregate. */
    return atomic_load_explicit((_Atomic(int64_t) *)&table->total_exposure, memory_order_relaxed);
}

RL_INLINE int64_t legacy_table_max_total(const legacy_table_t *table) {
    /* relaxed: self-contained value. */
    return atomic_load_explicit((_Atomic(int64_t) *)&table->max_total, memory_order_relaxed);
}

/* Give back `delta` of total exposure (a rollback or a re-mark downwards). */
RL_INLINE void legacy_table_total_sub(legacy_table_t *table, int64_t delta) {
    /* relaxed: the total is a self-contained counter; nothing is published through it. */
    atomic_fetch_sub_explicit(&table->total_exposure, delta, memory_order_relaxed);
}

/* Take `delta` of total exposure if the total stays within max_total. */
RL_INLINE bool legacy_table_total_try_add(legacy_table_t *table, int64_t delta) {
    int64_t max_total = legacy_table_max_total(table);
    /* relaxed: the CAS below validates the value we computed from. */
    int64_t total = atomic_load_explicit(&table->total_exposure, memory_order_relaxed);
    for (;;) {
        int64_t next;
        if (RL_UNLIKELY(__builtin_add_overflow(total, delta, &next) || next > max_total)) {
            return false;
        }
        /* relaxed: single-location RMW order alone makes the limit check linearizable. */
        if (atomic_compare_exchange_weak_explicit(&table->total_exposure, &total, next,
                                                  memory_order_relaxed, memory_order_relaxed)) {
            return true;
        }
    }
}

/* The side word a side reserves on, and the direction it moves. */
RL_INLINE _Atomic(int64_t) *legacy_slot_side_word(legacy_slot_t *slot, rl_side_t side) {
    return side == RL_SIDE_BUY ? &slot->long_worst : &slot->short_worst;
}

/*
 * The pre-order check. With commit = false it only answers; with commit = true
 * a pass also reserves `qty` as working on `side`. Inputs are fixed point; a
 * caller with doubles converts with rl_fp_from_positive_double first.
 *
 * Blocks with: RL_FROZEN, RL_REJECT_INVALID_SIDE, RL_REJECT_INVALID_QTY,
 * RL_REJECT_INVALID_PRICE, RL_REJECT_UNKNOWN_SYMBOL, RL_REJECT_OVERFLOW,
 * RL_REJECT_SYMBOL_LIMIT, RL_REJECT_TOTAL_LIMIT. A blocked call changes nothing.
 */
RL_INLINE rl_result_t legacy_table_check(legacy_table_t *table, const rl_freeze_t *freeze,
                                              uint32_t symbol, rl_side_t side, int64_t qty, int64_t price,
                                              bool commit) {
    if (RL_UNLIKELY(!(freeze == NULL || rl_freeze_is_active(freeze)))) return RL_FROZEN;
    if (RL_UNLIKELY(side != RL_SIDE_BUY && side != RL_SIDE_SELL)) return RL_REJECT_INVALID_SIDE;
    if (RL_UNLIKELY(qty <= 0)) return RL_REJECT_INVALID_QTY;
    if (RL_UNLIKELY(price <= 0)) return RL_REJECT_INVALID_PRICE;
    if (RL_UNLIKELY(symbol >= legacy_table_count(table))) return RL_REJECT_UNKNOWN_SYMBOL;

    legacy_slot_t *slot = &table->slots[symbol];
    _Atomic(int64_t) *word = legacy_slot_side_word(slot, side);
    _Atomic(int64_t) *other = side == RL_SIDE_BUY ? &slot->short_worst : &slot->long_worst;
    /* relaxed: limit is a self-contained setup value (see set_limit). */
    int64_t limit = atomic_load_explicit(&slot->limit, memory_order_relaxed);

    /* 1. Symbol limit: CAS the side word, re-checking against each value we replace. */
    /* relaxed: the CAS validates what we read. */
    int64_t current = atomic_load_explicit(word, memory_order_relaxed);
    int64_t worst_notional;
    for (;;) {
        int64_t next;
        bool overflow = side == RL_SIDE_BUY ? __builtin_add_overflow(current, qty, &next)
                                            : __builtin_sub_overflow(current, qty, &next);
        if (RL_UNLIKELY(overflow || next == INT64_MIN)) return RL_REJECT_OVERFLOW;
        /* relaxed: the other side is checked by its own CAS; each side's magnitude
         * is bounded independently, so their max is bounded too. */
        int64_t other_worst = atomic_load_explicit(other, memory_order_relaxed);
        int64_t worst = rl_fp_abs(next);
        int64_t other_abs = other_worst == INT64_MIN ? INT64_MAX : rl_fp_abs(other_worst);
        if (other_abs > worst) worst = other_abs;
        if (RL_UNLIKELY(!rl_fp_notional_ceil(worst, price, &worst_notional))) return RL_REJECT_OVERFLOW;
        if (worst_notional > limit) return RL_REJECT_SYMBOL_LIMIT;
        if (!commit) break;
        /* relaxed: single-location RMW order alone makes the symbol check
         * linearizable; the exposure CAS below (release) publishes this word
         * to the risk thread's re-mark. */
        if (atomic_compare_exchange_weak_explicit(word, &current, next,
                                                  memory_order_relaxed, memory_order_relaxed)) {
            break;
        }
    }

    RL_HOOK("legacy:between_symbol_and_book");
    /* 2. Book limit: raise this slot's exposure to worst_notional, taking the
     *    increase from the total first. */
    /* acquire: pairs with the release CAS in legacy_table_remark. */
    int64_t exposure = atomic_load_explicit(&slot->exposure, memory_order_acquire);
    for (;;) {
        int64_t increase = worst_notional - exposure;
        if (increase <= 0) break;
        if (!commit) {
            int64_t total = legacy_table_total(table), next;
            if (__builtin_add_overflow(total, increase, &next) || next > legacy_table_max_total(table)) {
                return RL_REJECT_TOTAL_LIMIT;
            }
            break;
        }
        if (!legacy_table_total_try_add(table, increase)) {
            /* Roll back step 1: the order never existed. relaxed: self-contained word. */
            if (side == RL_SIDE_BUY) atomic_fetch_sub_explicit(word, qty, memory_order_relaxed);
            else atomic_fetch_add_explicit(word, qty, memory_order_relaxed);
            return RL_REJECT_TOTAL_LIMIT;
        }
        /* acq_rel on success: release publishes our side-word CAS to the risk
         * thread's acquire load in remark; acquire on failure pairs the same way. */
        if (atomic_compare_exchange_weak_explicit(&slot->exposure, &exposure, worst_notional,
                                                  memory_order_acq_rel, memory_order_acquire)) {
            break;
        }
        legacy_table_total_sub(table, increase); /* someone moved the slot: retry */
    }

    /* A symbol's first reservation gives it a reference price until the first fill. */
    /* relaxed: mark is a self-contained value. Load first so the common case
     * (mark already known) costs no locked instruction. */
    if (commit && RL_UNLIKELY(atomic_load_explicit(&slot->mark, memory_order_relaxed) == 0)) {
        int64_t no_mark = 0;
        /* relaxed: self-contained value; losing this race to a fill is fine. */
        atomic_compare_exchange_strong_explicit(&slot->mark, &no_mark, price,
                                                memory_order_relaxed, memory_order_relaxed);
    }
    return RL_OK;
}

/* Risk thread: bring a slot's exposure to (worst case x mark), moving the
 * difference into the total in the order that never under-counts. */
RL_INLINE void legacy_table_remark(legacy_table_t *table, uint32_t symbol) {
    legacy_slot_t *slot = &table->slots[symbol];
    /* relaxed: mark is written by this thread or set once by a checker. */
    int64_t mark = atomic_load_explicit(&slot->mark, memory_order_relaxed);
    if (mark <= 0) return; /* no price yet: keep the reserved exposure */
    /* acquire: pairs with checkers' release CAS on exposure, so the side words
     * we load next include every reservation already counted in it. */
    int64_t exposure = atomic_load_explicit(&slot->exposure, memory_order_acquire);
    for (;;) {
        /* relaxed: self-contained words, ordered after the acquire above. */
        int64_t lw = atomic_load_explicit(&slot->long_worst, memory_order_relaxed);
        int64_t sw = atomic_load_explicit(&slot->short_worst, memory_order_relaxed);
        int64_t worst = rl_fp_abs(lw) > rl_fp_abs(sw) ? rl_fp_abs(lw) : rl_fp_abs(sw);
        RL_HOOK("legacy:remark_after_read");
        int64_t target;
        if (!rl_fp_notional_ceil(worst, mark, &target)) target = INT64_MAX / 4; /* blocks everything */
        if (target == exposure) return;
        if (target > exposure) {
            int64_t increase = target - exposure;
            /* Raise the total first: it may over-count for a moment, never under-count.
             * relaxed: self-contained counter. */
            atomic_fetch_add_explicit(&table->total_exposure, increase, memory_order_relaxed);
            /* acq_rel: pairs with checkers' exposure CAS (see legacy_table_check). */
            if (atomic_compare_exchange_strong_explicit(&slot->exposure, &exposure, target,
                                                        memory_order_acq_rel, memory_order_acquire)) {
                return;
            }
            legacy_table_total_sub(table, increase);
        } else {
            /* acq_rel: as above. */
            if (atomic_compare_exchange_strong_explicit(&slot->exposure, &exposure, target,
                                                        memory_order_acq_rel, memory_order_acquire)) {
                legacy_table_total_sub(table, exposure - target);
                return;
            }
        }
    }
}

/* Cancel, reject or expiry: give back `qty` of working quantity on `side`.
 * Risk thread (or a checker rolling back its own reservation). */
RL_INLINE void legacy_table_release(legacy_table_t *table, uint32_t symbol, rl_side_t side, int64_t qty) {
    legacy_slot_t *slot = &table->slots[symbol];
    /* relaxed: the word is self-contained, and the risk thread re-marks after
     * this in its own program order. */
    if (side == RL_SIDE_BUY) atomic_fetch_sub_explicit(&slot->long_worst, qty, memory_order_relaxed);
    else atomic_fetch_add_explicit(&slot->short_worst, qty, memory_order_relaxed);
}


/* Risk thread: `qty` of a working order on `side` filled at `price`.
 * A buy fill raises position and short_worst by qty; long_worst already held
 * it. If a fill exceeds what was working (a venue over-fill), the excess is
 * added to the other side word too, as an unreserved position change.
 * Returns RL_OK or RL_REJECT_OVERFLOW (nothing changed). Re-marks the slot. */

/* Risk thread: a signed position change with no reservation behind it (an
 * operator adjustment or a position loaded from elsewhere), marked at `price`. */

/* Recovery (replaying a journaled reservation), with no other thread running:
 * reserve `qty` on `side` without checking limits: they held when it was made. */

/* Copy a slot out for reporting. Consistent when the table is quiescent; a
 * recent, possibly torn, view while checkers run. */


/* A zeroed table of `capacity` slots, every slot active with `limit`. */
static inline legacy_table_t *legacy_table_create(uint32_t capacity, int64_t limit, int64_t max_total) {
    size_t bytes = sizeof(legacy_table_t) + (size_t)capacity * sizeof(legacy_slot_t);
    legacy_table_t *table = aligned_alloc(RL_CACHE_LINE, (bytes + RL_CACHE_LINE - 1) / RL_CACHE_LINE * RL_CACHE_LINE);
    memset(table, 0, bytes);
    table->capacity = capacity;
    atomic_store_explicit(&table->count, capacity, memory_order_relaxed);
    atomic_store_explicit(&table->max_total, max_total, memory_order_relaxed);
    for (uint32_t i = 0; i < capacity; i++) atomic_store_explicit(&table->slots[i].limit, limit, memory_order_relaxed);
    return table;
}

#endif /* LEGACY_POSITION_TABLE_H */
