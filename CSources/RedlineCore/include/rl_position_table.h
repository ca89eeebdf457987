/*
 * rl_position_table.h - fixed-size atomic position table with O(1) pre-order
 * check-and-reserve.
 *
 * One slot per symbol id, each on its own cache line. All values are fixed
 * point (rl_fixed.h). A slot keeps the symbol's two worst-case inventories
 * directly, so that a reservation is one CAS on one word:
 *
 *   long_worst  = position + working buys    (what the book holds if every buy fills)
 *   short_worst = position - working sells   (... if every sell fills)
 *
 *   worst-case inventory = max(|long_worst|, |short_worst|) x price
 *
 * A buy reserves by CAS on long_worst, a sell by CAS on short_worst; each CAS
 * re-checks the limit against the value it replaces, so any number of threads
 * reserving at once can never jointly pass a breach. A buy fill moves qty from
 * working to position, which leaves long_worst unchanged and raises
 * short_worst: one atomic add. Working quantities and position are derived:
 *   working_buy = long_worst - position,  working_sell = position - short_worst.
 *
 * Book exposure is a running aggregate, `total_exposure` = sum of the slots'
 * `exposure`, so the total check is O(1). A reservation raises its slot's
 * exposure to (its worst case x order price) if that is higher, taking the
 * increase from the total first with a CAS that checks maxTotalNotional. The
 * risk thread re-marks a slot (worst case x mark price) after every event it
 * applies, which is how releases and fills lower the total. Increases reach the
 * total before the slot and decreases reach the slot before the total, so at
 * every instant total >= sum of slots: the aggregate can over-count for a
 * moment, never under-count.
 *
 * Writers: checkers (any thread) CAS long_worst, short_worst, exposure and the
 * total. The risk thread alone writes position and mark, and applies fills and
 * releases. Setup writes limits.
 */
#ifndef RL_POSITION_TABLE_H
#define RL_POSITION_TABLE_H

#include "rl_platform.h"
#include "rl_result.h"
#include "rl_fixed.h"
#include "rl_freeze.h"

RL_EXTERN_C_BEGIN

typedef struct rl_position_slot {
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(int64_t) long_worst; /* position + working buys */
    _Atomic(int64_t) short_worst;                         /* position - working sells */
    _Atomic(int64_t) exposure;                            /* this slot's share of total_exposure */
    _Atomic(int64_t) position;                            /* risk thread only */
    _Atomic(int64_t) mark;                                /* last mark price; 0 until known */
    _Atomic(int64_t) limit;                               /* max worst-case notional */
    uint8_t padding[RL_CACHE_LINE - 6 * sizeof(int64_t)];
} rl_position_slot_t;

RL_STATIC_ASSERT(sizeof(rl_position_slot_t) == RL_CACHE_LINE, "one slot per cache line");

typedef struct rl_position_table {
    /* Setup-written, read by every checker. */
    RL_ALIGNAS(RL_CACHE_LINE) uint32_t capacity;
    _Atomic(uint32_t) count;         /* registered slots; published with release */
    _Atomic(int64_t) max_total;      /* maxTotalNotional */
    /* Contended by every reservation: alone on its line. */
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(int64_t) total_exposure;
    RL_ALIGNAS(RL_CACHE_LINE) rl_position_slot_t slots[];
} rl_position_table_t;

RL_STATIC_ASSERT(offsetof(rl_position_table_t, total_exposure) % RL_CACHE_LINE == 0, "total starts its own line");
RL_STATIC_ASSERT(offsetof(rl_position_table_t, slots) - offsetof(rl_position_table_t, total_exposure) >= RL_CACHE_LINE,
               "total does not share a line with slot 0");
RL_STATIC_ASSERT(offsetof(rl_position_table_t, slots) % RL_CACHE_LINE == 0, "slots start on a line");

/* A plain copy of a slot, for reporting and snapshots (Swift-importable). */
typedef struct rl_position_view {
    int64_t position;
    int64_t working_buy;
    int64_t working_sell;
    int64_t mark;
    int64_t exposure;
    int64_t limit;
} rl_position_view_t;

/* A table on NUMA `node` (< 0: any). Returns 0, -EINVAL (capacity 0,
 * max_total <= 0) or -ENOMEM. Slots start empty with limit 0. */
int rl_position_table_create(uint32_t capacity, int64_t max_total, int node, rl_position_table_t **out);
void rl_position_table_destroy(rl_position_table_t *table);

/* Setup: make slot `id` usable with `limit`; ids must be activated in order.
 * Returns 0, -EINVAL (limit <= 0, id != count) or -ENOSPC. */
int rl_position_table_activate(rl_position_table_t *table, uint32_t id, int64_t limit);

RL_INLINE uint32_t rl_position_table_count(const rl_position_table_t *table) {
    /* acquire: pairs with the release store in rl_position_table_activate, so the
     * slot's limit is initialised before its id is accepted. */
    return atomic_load_explicit((_Atomic(uint32_t) *)&table->count, memory_order_acquire);
}

RL_INLINE void rl_position_table_set_limit(rl_position_table_t *table, uint32_t id, int64_t limit) {
    /* relaxed: a limit is a self-contained value; a check may use the old one
     * until it sees the new one, which is the semantics of a limit change. */
    atomic_store_explicit(&table->slots[id].limit, limit, memory_order_relaxed);
}

RL_INLINE void rl_position_table_set_max_total(rl_position_table_t *table, int64_t max_total) {
    /* relaxed: self-contained value, as for the per-symbol limit. */
    atomic_store_explicit(&table->max_total, max_total, memory_order_relaxed);
}

RL_INLINE int64_t rl_position_table_total(const rl_position_table_t *table) {
    /* relaxed: a monitoring read of the aggregate. */
    return atomic_load_explicit((_Atomic(int64_t) *)&table->total_exposure, memory_order_relaxed);
}

RL_INLINE int64_t rl_position_table_max_total(const rl_position_table_t *table) {
    /* relaxed: self-contained value. */
    return atomic_load_explicit((_Atomic(int64_t) *)&table->max_total, memory_order_relaxed);
}

/* Give back `delta` of total exposure (a rollback or a re-mark downwards). */
RL_INLINE void rl_position_table_total_sub(rl_position_table_t *table, int64_t delta) {
    /* relaxed: the total is a self-contained counter; nothing is published through it. */
    atomic_fetch_sub_explicit(&table->total_exposure, delta, memory_order_relaxed);
}

/* Take `delta` of total exposure if the total stays within max_total. */
RL_INLINE bool rl_position_table_total_try_add(rl_position_table_t *table, int64_t delta) {
    int64_t max_total = rl_position_table_max_total(table);
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
RL_INLINE _Atomic(int64_t) *rl_position_slot_side_word(rl_position_slot_t *slot, rl_side_t side) {
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
RL_INLINE rl_result_t rl_position_table_check(rl_position_table_t *table, const rl_freeze_t *freeze,
                                              uint32_t symbol, rl_side_t side, int64_t qty, int64_t price,
                                              bool commit) {
    if (RL_UNLIKELY(!rl_freeze_is_active(freeze))) return RL_FROZEN;
    if (RL_UNLIKELY(side != RL_SIDE_BUY && side != RL_SIDE_SELL)) return RL_REJECT_INVALID_SIDE;
    if (RL_UNLIKELY(qty <= 0)) return RL_REJECT_INVALID_QTY;
    if (RL_UNLIKELY(price <= 0)) return RL_REJECT_INVALID_PRICE;
    if (RL_UNLIKELY(symbol >= rl_position_table_count(table))) return RL_REJECT_UNKNOWN_SYMBOL;

    rl_position_slot_t *slot = &table->slots[symbol];
    _Atomic(int64_t) *word = rl_position_slot_side_word(slot, side);
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

    /* 2. Book limit: raise this slot's exposure to worst_notional, taking the
     *    increase from the total first. */
    /* acquire: pairs with the release CAS in rl_position_table_remark. */
    int64_t exposure = atomic_load_explicit(&slot->exposure, memory_order_acquire);
    for (;;) {
        int64_t increase = worst_notional - exposure;
        if (increase <= 0) break;
        if (!commit) {
            int64_t total = rl_position_table_total(table), next;
            if (__builtin_add_overflow(total, increase, &next) || next > rl_position_table_max_total(table)) {
                return RL_REJECT_TOTAL_LIMIT;
            }
            break;
        }
        if (!rl_position_table_total_try_add(table, increase)) {
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
        rl_position_table_total_sub(table, increase); /* someone moved the slot: retry */
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
RL_INLINE void rl_position_table_remark(rl_position_table_t *table, uint32_t symbol) {
    rl_position_slot_t *slot = &table->slots[symbol];
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
        int64_t target;
        if (!rl_fp_notional_ceil(worst, mark, &target)) target = INT64_MAX / 4; /* blocks everything */
        if (target == exposure) return;
        if (target > exposure) {
            int64_t increase = target - exposure;
            /* Raise the total first: it may over-count for a moment, never under-count.
             * relaxed: self-contained counter. */
            atomic_fetch_add_explicit(&table->total_exposure, increase, memory_order_relaxed);
            /* acq_rel: pairs with checkers' exposure CAS (see rl_position_table_check). */
            if (atomic_compare_exchange_strong_explicit(&slot->exposure, &exposure, target,
                                                        memory_order_acq_rel, memory_order_acquire)) {
                return;
            }
            rl_position_table_total_sub(table, increase);
        } else {
            /* acq_rel: as above. */
            if (atomic_compare_exchange_strong_explicit(&slot->exposure, &exposure, target,
                                                        memory_order_acq_rel, memory_order_acquire)) {
                rl_position_table_total_sub(table, exposure - target);
                return;
            }
        }
    }
}

/* Cancel, reject or expiry: give back `qty` of working quantity on `side`.
 * Risk thread (or a checker rolling back its own reservation). */
RL_INLINE void rl_position_table_release(rl_position_table_t *table, uint32_t symbol, rl_side_t side, int64_t qty) {
    rl_position_slot_t *slot = &table->slots[symbol];
    /* relaxed: the word is self-contained, and the risk thread re-marks after
     * this in its own program order. */
    if (side == RL_SIDE_BUY) atomic_fetch_sub_explicit(&slot->long_worst, qty, memory_order_relaxed);
    else atomic_fetch_add_explicit(&slot->short_worst, qty, memory_order_relaxed);
}

RL_INLINE int64_t rl_position_table_position(const rl_position_table_t *table, uint32_t symbol) {
    /* relaxed: the risk thread is the only writer; readers want a recent value. */
    return atomic_load_explicit((_Atomic(int64_t) *)&table->slots[symbol].position, memory_order_relaxed);
}

/* Risk thread: `qty` of a working order on `side` filled at `price`.
 * A buy fill raises position and short_worst by qty; long_worst already held
 * it. If a fill exceeds what was working (a venue over-fill), the excess is
 * added to the other side word too, as an unreserved position change.
 * Returns RL_OK or RL_REJECT_OVERFLOW (nothing changed). Re-marks the slot. */
RL_INLINE rl_result_t rl_position_table_apply_fill(rl_position_table_t *table, uint32_t symbol, rl_side_t side,
                                                   int64_t qty, int64_t price) {
    rl_position_slot_t *slot = &table->slots[symbol];
    /* relaxed: this thread is the only writer of position. */
    int64_t position = atomic_load_explicit(&slot->position, memory_order_relaxed);
    int64_t signed_qty = side == RL_SIDE_BUY ? qty : -qty;
    int64_t next_position;
    if (RL_UNLIKELY(__builtin_add_overflow(position, signed_qty, &next_position) || next_position == INT64_MIN)) {
        return RL_REJECT_OVERFLOW;
    }
    _Atomic(int64_t) *reserved_word = rl_position_slot_side_word(slot, side);
    _Atomic(int64_t) *other_word = side == RL_SIDE_BUY ? &slot->short_worst : &slot->long_worst;
    /* relaxed: checkers only ever add working quantity, so `working` can only be an under-estimate. */
    int64_t reserved = atomic_load_explicit(reserved_word, memory_order_relaxed);
    int64_t working = side == RL_SIDE_BUY ? reserved - position : position - reserved;
    int64_t excess = qty > working ? qty - (working > 0 ? working : 0) : 0;
    /* relaxed: self-contained words; the re-mark below follows in program order.
     * A checker between the two adds sees a state that over-states risk. */
    atomic_fetch_add_explicit(other_word, signed_qty, memory_order_relaxed);
    if (excess > 0) {
        atomic_fetch_add_explicit(reserved_word, side == RL_SIDE_BUY ? excess : -excess, memory_order_relaxed);
    }
    /* relaxed: single writer; readers are monitors. */
    atomic_store_explicit(&slot->position, next_position, memory_order_relaxed);
    atomic_store_explicit(&slot->mark, price, memory_order_relaxed);
    rl_position_table_remark(table, symbol);
    return RL_OK;
}

/* Risk thread: a signed position change with no reservation behind it (an
 * operator adjustment or a position loaded from elsewhere), marked at `price`. */
RL_INLINE rl_result_t rl_position_table_adjust(rl_position_table_t *table, uint32_t symbol, int64_t signed_qty,
                                               int64_t price) {
    rl_position_slot_t *slot = &table->slots[symbol];
    /* relaxed: single writer of position. */
    int64_t position = atomic_load_explicit(&slot->position, memory_order_relaxed);
    int64_t next_position;
    if (RL_UNLIKELY(__builtin_add_overflow(position, signed_qty, &next_position) || next_position == INT64_MIN)) {
        return RL_REJECT_OVERFLOW;
    }
    /* relaxed: as in rl_position_table_release. */
    atomic_fetch_add_explicit(&slot->long_worst, signed_qty, memory_order_relaxed);
    atomic_fetch_add_explicit(&slot->short_worst, signed_qty, memory_order_relaxed);
    /* relaxed: single writer; readers are monitors. */
    atomic_store_explicit(&slot->position, next_position, memory_order_relaxed);
    atomic_store_explicit(&slot->mark, price, memory_order_relaxed);
    rl_position_table_remark(table, symbol);
    return RL_OK;
}

/* Recovery (replaying a journaled reservation), with no other thread running:
 * reserve `qty` on `side` without checking limits: they held when it was made. */
RL_INLINE void rl_position_table_force_reserve(rl_position_table_t *table, uint32_t symbol, rl_side_t side,
                                               int64_t qty, int64_t price) {
    rl_position_slot_t *slot = &table->slots[symbol];
    /* relaxed, all: recovery is single-threaded. */
    if (side == RL_SIDE_BUY) atomic_fetch_add_explicit(&slot->long_worst, qty, memory_order_relaxed);
    else atomic_fetch_sub_explicit(&slot->short_worst, qty, memory_order_relaxed);
    if (atomic_load_explicit(&slot->mark, memory_order_relaxed) == 0) {
        atomic_store_explicit(&slot->mark, price, memory_order_relaxed);
    }
    rl_position_table_remark(table, symbol);
}

/* Copy a slot out for reporting. Consistent when the table is quiescent; a
 * recent, possibly torn, view while checkers run. */
RL_INLINE void rl_position_table_read(const rl_position_table_t *table, uint32_t symbol, rl_position_view_t *out) {
    const rl_position_slot_t *slot = &table->slots[symbol];
    /* relaxed, all: a monitoring read; nothing is synchronised through it. */
    int64_t position = atomic_load_explicit((_Atomic(int64_t) *)&slot->position, memory_order_relaxed);
    int64_t lw = atomic_load_explicit((_Atomic(int64_t) *)&slot->long_worst, memory_order_relaxed);
    int64_t sw = atomic_load_explicit((_Atomic(int64_t) *)&slot->short_worst, memory_order_relaxed);
    out->position = position;
    out->working_buy = lw - position;
    out->working_sell = position - sw;
    out->mark = atomic_load_explicit((_Atomic(int64_t) *)&slot->mark, memory_order_relaxed);
    out->exposure = atomic_load_explicit((_Atomic(int64_t) *)&slot->exposure, memory_order_relaxed);
    out->limit = atomic_load_explicit((_Atomic(int64_t) *)&slot->limit, memory_order_relaxed);
}

/* Recovery only, with no other thread running: set a slot to a persisted
 * state and re-mark it. Returns 0 or -EINVAL. */
int rl_position_table_restore(rl_position_table_t *table, uint32_t symbol, const rl_position_view_t *state);

RL_EXTERN_C_END

#endif /* RL_POSITION_TABLE_H */
