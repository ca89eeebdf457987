/*
 * rl_position_table.h - fixed-size position table: the O(1), lock-free
 * pre-order check and reservation, and the book total it keeps exact.
 *
 * ---- What is stored -------------------------------------------------------
 *
 * One slot per symbol, one cache line each. A slot has two sides. A side is
 * one 16-byte word (rl_pair.h) holding its worst-case extent and the price
 * it is valued at:
 *
 *   buy side   extent = position + working buys    (inventory if every buy fills)
 *   sell side  extent = working sells - position   (short inventory if every sell fills)
 *
 * An order only ever adds its quantity to its own side's extent. The
 * symbol's worst-case inventory is W = max(buy extent, sell extent) (this is
 * max(|pos + buys|, |pos - sells|), since the two extents sum to buys+sells),
 * and a side's exposure is
 *
 *   E(side) = ceil(max(0, extent) x price)      capped at RL_FP_EXPOSURE_CAP
 *
 * The price is the symbol's reference price (its last mark: a fill or a
 * MARK_PRICE event) once it has one. Before that it is provisional, stored
 * negated: the highest order price reserved on that side so far. 0 means
 * nothing was ever valued on that side.
 *
 * The book word (16 bytes) holds {total, version}. The slot also holds the
 * symbol's limit, and, written only by the risk side, its position, its mark
 * and its overlap credit C.
 *
 * ---- The invariants -------------------------------------------------------
 *
 *   (I1) when a reservation is accepted, the book's worst-case exposure with
 *        it, valued as below, is <= maxTotalNotional;
 *   (I2) when a reservation that raises its side is accepted, that side's
 *        extent valued at max(order price, side price) is <= the symbol's
 *        limit in force;
 *   (I3) at every instant, total >= sum over symbols of max(E(buy), E(sell)),
 *        the book's true worst-case exposure.
 *
 * Only the risk side can push exposure over a limit (market moves, venue
 * fills beyond what was reserved, position adjustments, a lowered limit);
 * (I3) makes the total follow it, and the engine then goes REDUCING.
 *
 * ---- How they hold without locks ------------------------------------------
 *
 * Bookkeeping. total = sum over slots of (E(buy) + E(sell) - C) + pending,
 * where pending >= 0 is what a thread has charged and not yet given back.
 * The risk side keeps C <= min(E(buy), E(sell)), so each slot adds at least
 * max(E(buy), E(sell)): that is (I3). The sum counts both sides; the credit C
 * takes the overlap back out, so at rest the total is exact.
 *
 *  - Checkers only ever raise an extent (or, while provisional, a price), so
 *    they only ever raise E of their side. Every change to a side is a CAS
 *    on its whole word, so the charge E(after) - E(before) is computed from
 *    exactly the value it replaces: marginal charges add up to the total
 *    with no drift, whatever interleaves. A charge is added to the total
 *    BEFORE the side's CAS and given back if the CAS fails, so the total is
 *    never behind the sides.
 *  - The risk side is the only writer of C and the only thread that lowers
 *    an E (releases, fills, marks). Before it lowers a side it lowers C to
 *    at most the new E; after it raises a side it grants credit up to
 *    min(E(buy), E(sell)) read afresh. Since checkers only raise E, a value
 *    it read is a lower bound of the current one, so credit is never
 *    granted that is not there. Lowering a side: CAS first, give back
 *    after. Raising it: charge first, CAS after.
 *
 * Acceptance. An order whose new extent is larger in magnitude than the old
 * one "raises its side". Such an order reads the book word, then the trading
 * state and the limits, and decides; it then CASes the book word from the
 * value it read to total + charge, which must stay <= maxTotalNotional. That
 * CAS is the reservation's acceptance: it fails if the total or the version
 * moved. Every change of trading state or of a limit is made first and then
 * bumps the version, so a decision taken on a stale state or limit never
 * gets through (I1, I2). The side CAS that follows only publishes the
 * reservation; if the side moved meanwhile it fails, the charge is given
 * back, and the check starts over.
 *
 * An order that does not raise its side (a buy against a short position of
 * at least twice its size, a sell against a long one: reducing, or crossing
 * through zero without opening more than it closes) never raises the
 * symbol's W nor the book's true exposure. It passes in ACTIVE and REDUCING
 * with no limit check, so there is always a way out. Its charge (when it
 * crosses zero, the side it opens) goes to the total unchecked and is
 * credited back by the risk side.
 *
 * Valuation. A raising order is checked at max(order price, side price): its
 * side's whole extent at that price against the symbol's limit, and the book
 * with this symbol's side at that price. The difference to the side price
 * is charged with the reservation and given back once it is published.
 *
 * Proof: CSources/RedlineCore/model/reservation.pml is a Promela model of
 * exactly these steps, checked by spin in CI; Tests/C/interleavings.c forces
 * the races that broke the earlier design; ReservationStressTests race real
 * threads at limits the book reaches.
 */
#ifndef RL_POSITION_TABLE_H
#define RL_POSITION_TABLE_H

#include "rl_platform.h"
#include "rl_result.h"
#include "rl_fixed.h"
#include "rl_freeze.h"
#include "rl_pair.h"
#include "rl_events.h"
#include "rl_order_rules.h"
#include "rl_strategy.h"

RL_EXTERN_C_BEGIN

/* The book total saturates here and then stays: fail closed. */
#define RL_BOOK_SATURATED (1LL << 62)

typedef struct rl_position_slot {
    /* Checkers CAS these; the risk side too. lo: extent, hi: price (> 0 mark,
     * < 0 provisional, 0 none). Indexed by rl_side_t. */
    RL_ALIGNAS(RL_CACHE_LINE) rl_pair_t sides[2];
    /* The symbol's limit, double-buffered by the book word's generation:
     * a checker reads limit[generation & 1] (see rl_position_table_limit). */
    _Atomic(int64_t) limit[2];
    /* Which per-order rules are on (rl_rule_bit_t), double-buffered the same
     * way: on the line the check reads anyway, so rules that are off cost one
     * load. The rules themselves are in table->rules. */
    _Atomic(uint32_t) rules_active[2];
    /* Working orders on the symbol, every strategy together: +1 by the check
     * that accepts one (on the line its CAS just took), -1 when it finishes
     * (rl_position_table_order_done). Counted always, so that a cap put in
     * force later (RL_RULE_ON_WORKING_ORDERS) starts from the truth. */
    _Atomic(uint64_t) working;
} rl_position_slot_t;

RL_STATIC_ASSERT(sizeof(rl_position_slot_t) == RL_CACHE_LINE, "one slot per cache line");
RL_STATIC_ASSERT(offsetof(rl_position_slot_t, sides) % 16 == 0, "side words are 16-byte aligned");

/* What only the risk side writes about a symbol, apart from the slots that
 * checkers write: its own cache line, so risk-side writes never take the
 * checkers' lines away from them. */
typedef struct rl_position_risk {
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(int64_t) position;
    _Atomic(int64_t) credit; /* overlap credit C */
    _Atomic(int64_t) mark;   /* reference price, 0 until the first mark */
    _Atomic(uint64_t) mark_time; /* engine clock when the risk side set the mark; 0: not in this process */
    _Atomic(int64_t) realized;   /* the symbol's P&L (rl_pnl.h), USD, published for monitors */
    _Atomic(int64_t) unrealized;
    uint8_t padding[RL_CACHE_LINE - 6 * sizeof(int64_t)];
} rl_position_risk_t;

RL_STATIC_ASSERT(sizeof(rl_position_risk_t) == RL_CACHE_LINE, "one risk record per cache line");

/* The book word's hi half: the trading state a checker must decide in, and
 * the generation of the limits, which moves on every change of either.
 * Bit 7 is a halt asked for outside the controller (rl_engine_halt_now) and
 * not yet taken in by it: any thread sets it, only the controller clears it,
 * and only once its own state is HALTED. A check decides in HALTED while it
 * is set (RL_BOOK_DECIDING_STATE). */
#define RL_BOOK_HALT_REQUESTED 0x80
#define RL_BOOK_STATE(hi) ((rl_trading_state_t)((uint64_t)(hi) & 0x7f))
#define RL_BOOK_DECIDING_STATE(hi) \
    (((uint64_t)(hi) & RL_BOOK_HALT_REQUESTED) ? RL_STATE_HALTED : RL_BOOK_STATE(hi))
#define RL_BOOK_GENERATION(hi) ((uint64_t)(hi) >> 8)
#define RL_BOOK_HI(generation, state) ((int64_t)(((uint64_t)(generation) << 8) | ((uint64_t)(state) & 0xff)))

typedef struct rl_position_table {
    /* Setup-written, read by every checker. */
    RL_ALIGNAS(RL_CACHE_LINE) uint32_t capacity;
    _Atomic(uint32_t) count;        /* registered slots; published with release */
    _Atomic(int64_t) max_total[2];  /* maxTotalNotional, double-buffered like the symbol limits */
    rl_rules_clock_t clock;         /* the engine's clock, for the staleness rule */
    /* Contended by every raising reservation: alone on its line.
     * lo: total, hi: RL_BOOK_HI(generation, trading state). */
    RL_ALIGNAS(RL_CACHE_LINE) rl_pair_t book;
    rl_position_risk_t *risk;       /* capacity records, after the slots */
    rl_symbol_rules_t *rules;       /* capacity + 1 (the last: the defaults a new symbol takes), after the risk records */
    /* Every strategy's rate and open-order limits, double-buffered by the generation. */
    rl_strategy_limits_buffer_t strategy_limits[2];
    RL_ALIGNAS(RL_CACHE_LINE) rl_position_slot_t slots[];
} rl_position_table_t;

RL_STATIC_ASSERT(offsetof(rl_position_table_t, book) % RL_CACHE_LINE == 0, "book word starts its own line");
RL_STATIC_ASSERT(offsetof(rl_position_table_t, slots) - offsetof(rl_position_table_t, book) >= RL_CACHE_LINE,
                 "book word does not share a line with slot 0");
RL_STATIC_ASSERT(offsetof(rl_position_table_t, slots) % RL_CACHE_LINE == 0, "slots start on a line");

/* A plain copy of a slot, for reporting and snapshots (Swift-importable). */
typedef struct rl_position_view {
    int64_t position;
    int64_t working_buy;
    int64_t working_sell;
    int64_t mark;
    int64_t exposure;   /* max(E(buy), E(sell)): the symbol's worst-case exposure as counted */
    int64_t limit;
    int64_t buy_price;  /* each side's valuation price: > 0 mark, < 0 provisional, 0 none */
    int64_t sell_price;
    int64_t credit;
} rl_position_view_t;

/* A table on NUMA `node` (< 0: any). Returns 0, -EINVAL (capacity 0 or above
 * 2^24, max_total <= 0 or above RL_FP_MAX_LIMIT) or -ENOMEM. */
int rl_position_table_create(uint32_t capacity, int64_t max_total, int node, rl_position_table_t **out);
void rl_position_table_destroy(rl_position_table_t *table);

/* Setup, before the table is shared: staleness is measured by a manual
 * clock in nanoseconds (rl_position_table_set_clock) instead of the TSC. */
void rl_position_table_use_manual_clock(rl_position_table_t *table);
/* Move the manual clock to `now_ns` (any thread; never backwards is the caller's business). */
void rl_position_table_set_clock(rl_position_table_t *table, uint64_t now_ns);

/* Setup: make slot `id` usable with `limit`, with the default rules in force
 * (and, with `restricted`, restricted until the next publish of the rules:
 * fail closed while its own rules are on their way); ids must be activated
 * in order.
 * Returns 0, -EINVAL (limit out of range, id != count) or -ENOSPC. */
int rl_position_table_activate(rl_position_table_t *table, uint32_t id, int64_t limit, bool restricted);

RL_INLINE uint32_t rl_position_table_count(const rl_position_table_t *table) {
    /* acquire: pairs with the release store in rl_position_table_activate, so the
     * slot's limit is initialised before its id is accepted. */
    return atomic_load_explicit((_Atomic(uint32_t) *)&table->count, memory_order_acquire);
}

/* ---- Exposure arithmetic ------------------------------------------------ */

/* E = ceil(max(0, extent) x |price|), saturating at RL_FP_EXPOSURE_CAP. */
RL_INLINE int64_t rl_side_exposure(int64_t extent, int64_t price) {
    if (extent <= 0) return 0;
    uint64_t p = (uint64_t)(price < 0 ? -price : price);
#if defined(__x86_64__)
    /* As rl_fp_notional_ceil, with the cap folded into its range check: a
     * product of 2^64 x S/8 or more is at least RL_FP_EXPOSURE_CAP x S. */
    const uint64_t S = (uint64_t)RL_FP_SCALE;
    unsigned __int128 product = (unsigned __int128)(uint64_t)extent * p;
    uint64_t hi = (uint64_t)(product >> 64), lo = (uint64_t)product, quotient, remainder;
    if (RL_UNLIKELY(hi >= S / 8)) return RL_FP_EXPOSURE_CAP;
    __asm__("divq %4" : "=a"(quotient), "=d"(remainder) : "a"(lo), "d"(hi), "r"(S) : "cc");
    return (int64_t)(quotient + (remainder != 0));
#else
    int64_t notional;
    if (RL_UNLIKELY(!rl_fp_notional_ceil(extent, (int64_t)p, &notional) || notional > RL_FP_EXPOSURE_CAP)) {
        return RL_FP_EXPOSURE_CAP;
    }
    return notional;
#endif
}

RL_STATIC_ASSERT(RL_FP_EXPOSURE_CAP == (1LL << 61) && RL_FP_SCALE % 8 == 0,
                 "rl_side_exposure's range check assumes the cap is 2^61 = 2^64 / 8");

/* ---- The book word ------------------------------------------------------ */

RL_INLINE int64_t rl_position_table_total(const rl_position_table_t *table) {
    /* relaxed: a monitoring read of the total; decisions use the CAS. */
    return atomic_load_explicit((_Atomic(int64_t) *)&table->book.lo, memory_order_relaxed);
}

/* The book word's generation and trading state, for monitoring. */
RL_INLINE uint64_t rl_position_table_generation(const rl_position_table_t *table) {
    /* relaxed: a monitoring read; decisions validate it with the CAS. */
    return RL_BOOK_GENERATION(atomic_load_explicit((_Atomic(int64_t) *)&table->book.hi, memory_order_relaxed));
}

/* The limits in force for a book word's hi half (read after the book word,
 * whose CAS then validates them). */
RL_INLINE int64_t rl_position_table_limit_for(const rl_position_table_t *table, uint32_t symbol, int64_t hi) {
    /* relaxed: ordered after the acquire load of the book word; the generation validates it. */
    return atomic_load_explicit((_Atomic(int64_t) *)&table->slots[symbol].limit[RL_BOOK_GENERATION(hi) & 1],
                                memory_order_relaxed);
}
RL_INLINE int64_t rl_position_table_max_total_for(const rl_position_table_t *table, int64_t hi) {
    /* relaxed: as rl_position_table_limit_for. */
    return atomic_load_explicit((_Atomic(int64_t) *)&table->max_total[RL_BOOK_GENERATION(hi) & 1],
                                memory_order_relaxed);
}

/* The limits in force now, for the risk side and monitors. */
RL_INLINE int64_t rl_position_table_limit(const rl_position_table_t *table, uint32_t symbol) {
    /* relaxed: the controller is the only writer of the generation. */
    return rl_position_table_limit_for(table, symbol,
                                       atomic_load_explicit((_Atomic(int64_t) *)&table->book.hi, memory_order_relaxed));
}
RL_INLINE int64_t rl_position_table_max_total(const rl_position_table_t *table) {
    /* relaxed: as rl_position_table_limit. */
    return rl_position_table_max_total_for(table, atomic_load_explicit((_Atomic(int64_t) *)&table->book.hi,
                                                                       memory_order_relaxed));
}

/* Add `delta` (either sign) to the total, keeping the version; no limit.
 * Once saturated the total stays saturated (fail closed). Any thread. */
RL_INLINE void rl_position_table_add_total(rl_position_table_t *table, int64_t delta) {
    rl_pair_value_t book = rl_pair_load(&table->book);
    for (;;) {
        if (RL_UNLIKELY(book.lo >= RL_BOOK_SATURATED)) return;
        int64_t total = book.lo + delta; /* |delta| <= 2 x RL_FP_EXPOSURE_CAP: no overflow */
        rl_pair_value_t next = {total >= RL_BOOK_SATURATED ? RL_BOOK_SATURATED : total, book.hi};
        /* Full barrier (rl_pair.h); on failure `book` holds the current value. */
        if (rl_pair_cas(&table->book, &book, next)) return;
    }
}

/* Controller only: move the book word to a new generation with `state`.
 * Every decision taken in the old generation then fails its book CAS. A
 * requested halt stays requested: the controller clears it only once it has
 * taken it in (rl_position_table_clear_halt_request). */
RL_INLINE void rl_position_table_advance(rl_position_table_t *table, rl_trading_state_t state) {
    rl_pair_value_t book = rl_pair_load(&table->book);
    while (!rl_pair_cas(&table->book, &book,
                        (rl_pair_value_t){book.lo, RL_BOOK_HI(RL_BOOK_GENERATION(book.hi) + 1, state) |
                                                       (book.hi & RL_BOOK_HALT_REQUESTED)})) {
        /* `book` holds the current value: retry. */
    }
}

/* Any thread: from here on every raising check decides in HALTED. A check
 * that read the word before fails its book CAS (the word changed), so no
 * raising order is accepted after this returns. */
RL_INLINE void rl_position_table_request_halt(rl_position_table_t *table) {
    /* seq_cst, a locked OR: a full barrier, as the pair's CAS is (rl_pair.h).
     * Pairs with the checks' pair loads and CASes, which see the bit or fail.
     * One instruction, where a read and a CAS lost to every release the risk
     * thread CASed onto this line in between (a retry is another transfer of
     * the line under load). The OR on the hi half and the CAS on both are
     * atomic to each other: one cache line on x86-64, and on arm64 the OR
     * clears the pair's exclusive monitor, whose store then fails and retries. */
    RL_PAIR_TSAN_RELEASE(&table->book); /* ThreadSanitizer: the same edges as a pair CAS */
    (void)atomic_fetch_or_explicit(&table->book.hi, (int64_t)RL_BOOK_HALT_REQUESTED, memory_order_seq_cst);
    RL_PAIR_TSAN_ACQUIRE(&table->book);
}

/* Controller only, once its state is HALTED (published, in the state bits):
 * the requested halt is then in force as the state itself. */
RL_INLINE void rl_position_table_clear_halt_request(rl_position_table_t *table) {
    rl_pair_value_t book = rl_pair_load(&table->book);
    /* Full barrier (rl_pair.h); on failure `book` holds the current value. */
    while ((book.hi & RL_BOOK_HALT_REQUESTED) &&
           !rl_pair_cas(&table->book, &book, (rl_pair_value_t){book.lo, book.hi & ~(int64_t)RL_BOOK_HALT_REQUESTED})) {
    }
}

/* Controller only: change a symbol's limit (symbol < count) or the book's
 * (symbol == RL_SYMBOL_NONE). The new value goes into the buffer of the
 * next generation, the generation moves, then the old buffer catches up:
 * a checker that read a generation reads that generation's limit, and its
 * CAS fails if the generation moved. */
RL_INLINE void rl_position_table_set_limit(rl_position_table_t *table, uint32_t symbol, int64_t limit) {
    int64_t hi = atomic_load_explicit(&table->book.hi, memory_order_relaxed); /* relaxed: generation and state, the controller's alone (a halter ORs bit 7) */
    uint64_t next = (RL_BOOK_GENERATION(hi) + 1) & 1;
    _Atomic(int64_t) *buffers = symbol == UINT32_MAX ? table->max_total : table->slots[symbol].limit;
    /* relaxed: published by the full barrier of the book CAS in rl_position_table_advance. */
    atomic_store_explicit(&buffers[next], limit, memory_order_relaxed);
    rl_position_table_advance(table, RL_BOOK_STATE(hi));
    /* relaxed: only checkers of the old generation read it, and their CAS fails. */
    atomic_store_explicit(&buffers[next ^ 1], limit, memory_order_relaxed);
}

/* ---- The pre-order check (any thread) ----------------------------------- */

/* `count` working orders fewer on a slot, never below zero: a done without
 * its order (bad input) racing a check's give-back cannot wrap the count. */
RL_INLINE void rl_position_table_working_down_n(_Atomic(uint64_t) *working, uint64_t count) {
    /* relaxed: a count; the CAS alone decides. */
    uint64_t now = atomic_load_explicit(working, memory_order_relaxed);
    while (now > 0 && !atomic_compare_exchange_weak_explicit(working, &now, now > count ? now - count : 0,
                                                             memory_order_relaxed, memory_order_relaxed)) {
    }
}

RL_INLINE void rl_position_table_working_down(_Atomic(uint64_t) *working) {
    rl_position_table_working_down_n(working, 1);
}

/*
 * Check `qty` on `side` at `price` (fixed point) and, with commit, reserve it
 * as working. A caller with doubles converts with rl_fp_from_positive_double
 * first (rl_engine_check_f64 does).
 *
 * Blocks with: RL_FROZEN (HALTED), RL_REJECT_INVALID_SIDE, RL_REJECT_INVALID_QTY,
 * RL_REJECT_INVALID_PRICE, RL_REJECT_UNKNOWN_SYMBOL, RL_REJECT_OVERFLOW,
 * RL_REJECT_REDUCE_ONLY (REDUCING, and the order raises its side), then the
 * per-order rules of rl_order_rules.h for an order that raises its side,
 * then RL_REJECT_SYMBOL_LIMIT, RL_REJECT_TOTAL_LIMIT. A blocked call changes nothing.
 */
RL_INLINE rl_result_t rl_position_table_check_for(rl_position_table_t *table, const rl_freeze_t *freeze,
                                                  rl_strategy_t *strategy, uint32_t symbol, rl_side_t side, int64_t qty,
                                                  int64_t price, bool commit) {
    if (RL_UNLIKELY((unsigned)side > (unsigned)RL_SIDE_SELL)) return RL_REJECT_INVALID_SIDE;
    if (RL_UNLIKELY(qty <= 0)) return RL_REJECT_INVALID_QTY;
    if (RL_UNLIKELY(price <= 0)) return RL_REJECT_INVALID_PRICE;
    if (RL_UNLIKELY(symbol >= rl_position_table_count(table))) return RL_REJECT_UNKNOWN_SYMBOL;
    /* A strategy halted on its own sends nothing new, reducing or not (as HALTED). */
    if (strategy != NULL && RL_UNLIKELY(rl_strategy_halted(strategy))) return RL_REJECT_STRATEGY_HALTED;
    rl_position_slot_t *slot = &table->slots[symbol];
    rl_pair_t *own = &slot->sides[side];

    for (;;) {
        rl_pair_value_t cur = rl_pair_load(own);
        bool counted = false; /* this attempt holds a place among the symbol's working orders */
        /* |cur.lo| < RL_FP_EXPOSURE_CAP, so with qty below it too the sum cannot overflow. */
        if (RL_UNLIKELY(qty >= RL_FP_EXPOSURE_CAP || cur.lo + qty >= RL_FP_EXPOSURE_CAP)) return RL_REJECT_OVERFLOW;
        int64_t extent = cur.lo + qty;
        /* While the side has no mark, it is valued at the highest order price. */
        int64_t side_price = cur.hi <= 0 && price > -cur.hi ? -price : cur.hi;
        int64_t after = rl_side_exposure(extent, side_price);
        int64_t charge = after - rl_side_exposure(cur.lo, cur.hi); /* >= 0 */
        int64_t extra = 0;
        bool raises = extent > -cur.lo; /* |extent| > |cur.lo|, as extent > cur.lo */
        const rl_strategy_limits_buffer_t *limits = NULL;
        uint64_t strategy_active = 0, now = 0;

        if (raises) {
            /* The book word carries the trading state and the generation of
             * the limits: the decision below is the one in force if the CAS
             * that accepts it succeeds. */
            rl_pair_value_t book = rl_pair_load(&table->book);
            /* One test for the common case: ACTIVE (0) and no halt requested. */
            if (RL_UNLIKELY(((uint64_t)book.hi & 0xff) != RL_STATE_ACTIVE)) {
                return RL_BOOK_DECIDING_STATE(book.hi) == RL_STATE_REDUCING ? RL_REJECT_REDUCE_ONLY : RL_FROZEN;
            }
            /* The per-order rules of this generation: one load when none is on. */
            uint64_t generation = RL_BOOK_GENERATION(book.hi) & 1;
            /* relaxed: ordered after the book word's acquire load; the book CAS validates the generation. */
            uint64_t active = atomic_load_explicit(&slot->rules_active[generation], memory_order_relaxed);
            /* The strategy's own limits (rl_strategy.h): folded away for a check with no strategy. */
            if (strategy != NULL) {
                limits = &table->strategy_limits[generation];
                /* relaxed: as the rules word above. */
                strategy_active = atomic_load_explicit((_Atomic(uint64_t) *)&limits->active, memory_order_relaxed);
            }
            if (RL_UNLIKELY((active | strategy_active) != 0)) {
                /* One read of the engine's clock, for the staleness rule and the rates. */
                if ((active & RL_RULE_ON_STALE) || (strategy_active & (RL_STRATEGY_ORDER_RATE | RL_STRATEGY_SYMBOL_RATE))) {
                    now = rl_rules_clock_now(&table->clock);
                }
                if (active != 0) {
                    uint64_t broken = rl_order_rules_broken(&table->rules[symbol].buffer[generation],
                                                            rl_order_rules_with_side(active, side), qty, price, cur.hi, now);
                    if (broken != 0) return rl_order_rules_first(broken);
                    /* relaxed, both: the cap of the generation the book CAS validates; the count is reserved below. */
                    if (RL_UNLIKELY(active & RL_RULE_ON_WORKING_ORDERS) &&
                        atomic_load_explicit(&slot->working, memory_order_relaxed) >=
                            atomic_load_explicit(&table->rules[symbol].buffer[generation].max_working, memory_order_relaxed)) {
                        return RL_REJECT_OPEN_ORDERS;
                    }
                }
                rl_result_t refused = strategy_active ? rl_strategy_admit(strategy, limits, symbol, now) : RL_OK;
                if (refused != RL_OK) {
                    if (refused == RL_REJECT_RATE_LIMIT) strategy->rate_blocks++; else strategy->open_blocks++;
                    return refused;
                }
            }
            /* The side valued at max(order price, side price): at the side's
             * own price unless the order pays more. */
            int64_t at_order_price = after;
            if (price > rl_fp_abs(side_price) &&
                RL_UNLIKELY(!rl_fp_notional_ceil(extent, price, &at_order_price))) {
                return RL_REJECT_OVERFLOW;
            }
            if (at_order_price > rl_position_table_limit_for(table, symbol, book.hi)) return RL_REJECT_SYMBOL_LIMIT;
            /* at_order_price <= limit < RL_FP_EXPOSURE_CAP, so `after` is not capped and extra >= 0. */
            extra = at_order_price - after;
            if (book.lo + charge + extra > rl_position_table_max_total_for(table, book.hi)) return RL_REJECT_TOTAL_LIMIT;
            if (!commit) return RL_OK;
            /* A raising order takes its place among the symbol's working orders
             * before it is accepted, cap or no cap: a cap published meanwhile
             * then counts it (a checker under the new cap sees it), and
             * checkers racing for a cap's last place cannot both get it.
             * relaxed, all: the count is the only shared state, the RMW alone decides. */
            uint64_t before = atomic_fetch_add_explicit(&slot->working, 1, memory_order_relaxed);
            counted = true;
            if (RL_UNLIKELY(active & RL_RULE_ON_WORKING_ORDERS) &&
                before >= atomic_load_explicit(&table->rules[symbol].buffer[generation].max_working,
                                               memory_order_relaxed)) {
                rl_position_table_working_down(&slot->working);
                return RL_REJECT_OPEN_ORDERS;
            }
            RL_HOOK("check:before_book");
            /* The acceptance: fails if the total, the state or the limits moved since we read them. */
            if (!rl_pair_cas(&table->book, &book, (rl_pair_value_t){book.lo + charge + extra, book.hi})) {
                rl_position_table_working_down(&slot->working); /* gives back the place reserved above */
                continue;
            }
        } else {
            /* Never raises W nor the book's true exposure: the way out, with no
             * limit check. Only a halt stops it (the freeze word every router polls). */
            if (RL_UNLIKELY(rl_freeze_word_state(rl_freeze_load(freeze)) == RL_STATE_HALTED)) return RL_FROZEN;
            if (!commit) return RL_OK;
            if (charge > 0) rl_position_table_add_total(table, charge);
        }
        RL_HOOK("check:before_side");
        /* Publish. Fails if the side moved since we read it: give back and decide again. */
        if (RL_LIKELY(rl_pair_cas(own, &cur, (rl_pair_value_t){extent, side_price}))) {
            if (extra > 0) rl_position_table_add_total(table, -extra);
            /* relaxed: a count; the cap's race is decided by the reservation above. */
            if (!counted) atomic_fetch_add_explicit(&slot->working, 1, memory_order_relaxed);
            if (strategy != NULL) {
                if (strategy_active) rl_strategy_spend(strategy, limits, symbol, now);
                rl_strategy_opened(strategy, symbol);
            }
            return RL_OK;
        }
        rl_position_table_add_total(table, -(charge + extra));
        if (counted) rl_position_table_working_down(&slot->working); /* the place goes back with the charge */
    }
}

/* `count` orders the check accepted on `symbol` finished (filled, canceled,
 * rejected, expired): they no longer count as working (slot->working), nor
 * for `strategy` (NULL: none). Whoever placed one reports it once; a router
 * does it itself, a burst of answers with one update per symbol (the
 * working count shares the line the risk side's CAS takes). */
RL_INLINE void rl_position_table_orders_done(rl_position_table_t *table, rl_strategy_t *strategy, uint32_t symbol,
                                             uint32_t count) {
    if (symbol >= table->capacity || count == 0) return;
    if (strategy != NULL) rl_strategy_closed_n(strategy, symbol, count);
    rl_position_table_working_down_n(&table->slots[symbol].working, count);
}

/* One order on `symbol` finished. */
RL_INLINE void rl_position_table_order_done(rl_position_table_t *table, rl_strategy_t *strategy, uint32_t symbol) {
    rl_position_table_orders_done(table, strategy, symbol, 1);
}

/* An order counts as working on `symbol` without a check (one adopted from
 * the venue at reconciliation). */
RL_INLINE void rl_position_table_order_adopted(rl_position_table_t *table, rl_strategy_t *strategy, uint32_t symbol) {
    if (symbol >= table->capacity) return;
    if (strategy != NULL) rl_strategy_opened(strategy, symbol);
    /* relaxed: a count. */
    atomic_fetch_add_explicit(&table->slots[symbol].working, 1, memory_order_relaxed);
}

/* Working orders on `symbol`, every strategy together (a recent value). */
RL_INLINE uint64_t rl_position_table_working_orders(const rl_position_table_t *table, uint32_t symbol) {
    /* relaxed: monitoring read. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&table->slots[symbol].working, memory_order_relaxed);
}

/* The check with no strategy's limits (C strategies that keep none, tests). */
RL_INLINE rl_result_t rl_position_table_check(rl_position_table_t *table, const rl_freeze_t *freeze, uint32_t symbol,
                                              rl_side_t side, int64_t qty, int64_t price, bool commit) {
    return rl_position_table_check_for(table, freeze, NULL, symbol, side, qty, price, commit);
}

/* A strategy's cancel, against its cancel budget: RL_OK (spent) or
 * RL_REJECT_RATE_LIMIT. Never for a cancel-all on a freeze: the way out is
 * never throttled. The strategy's thread only. */
RL_INLINE rl_result_t rl_position_table_admit_cancel(rl_position_table_t *table, rl_strategy_t *strategy) {
    /* relaxed: the controller is the only writer of the generation; a cancel needs no CAS to validate. */
    int64_t hi = atomic_load_explicit(&table->book.hi, memory_order_relaxed);
    const rl_strategy_limits_buffer_t *limits = &table->strategy_limits[RL_BOOK_GENERATION(hi) & 1];
    /* relaxed, both: a recent generation's limits are enough for a budget. */
    if (!(atomic_load_explicit((_Atomic(uint64_t) *)&limits->active, memory_order_relaxed) & RL_STRATEGY_CANCEL_RATE)) {
        return RL_OK;
    }
    uint64_t now = rl_rules_clock_now(&table->clock);
    if (!rl_strategy_gcra_ready(strategy->cancel_tat,
                                atomic_load_explicit((_Atomic(uint64_t) *)&limits->cancel_tolerance, memory_order_relaxed), now)) {
        strategy->cancel_blocks++;
        return RL_REJECT_RATE_LIMIT;
    }
    strategy->cancel_tat = (strategy->cancel_tat > now ? strategy->cancel_tat : now) +
                           atomic_load_explicit((_Atomic(uint64_t) *)&limits->cancel_interval, memory_order_relaxed);
    return RL_OK;
}

/* Risk side only: put `limits` in force for every strategy, in one move of
 * the generation. Valid by rl_strategy_limits_validate. */
void rl_position_table_publish_strategy_limits(rl_position_table_t *table, const rl_strategy_limits_t *limits,
                                               double cycles_per_ns);

/* ---- Risk-side primitives (the engine's risk step composes them) --------- */

/* A lower bound of a side's exposure, for the risk side. The two halves are
 * read separately and may come from different writes, but while the risk
 * side reads, only checkers write, and a checker only ever raises the extent
 * (and a provisional price): any mix of an older and a newer half is at most
 * the current exposure. Never used by a checker. */
RL_INLINE int64_t rl_position_table_side_exposure(const rl_position_table_t *table, uint32_t symbol, rl_side_t side) {
    rl_pair_value_t v = rl_pair_load(&table->slots[symbol].sides[side]);
    return rl_side_exposure(v.lo, v.hi);
}

/* max(E(buy), E(sell)): the symbol's worst-case exposure as the book counts
 * it (a lower bound while checkers run, see above). */
RL_INLINE int64_t rl_position_table_exposure(const rl_position_table_t *table, uint32_t symbol) {
    int64_t buy = rl_position_table_side_exposure(table, symbol, RL_SIDE_BUY);
    int64_t sell = rl_position_table_side_exposure(table, symbol, RL_SIDE_SELL);
    return buy > sell ? buy : sell;
}

RL_INLINE int64_t rl_position_table_position(const rl_position_table_t *table, uint32_t symbol) {
    /* relaxed: the risk side is the only writer; readers want a recent value. */
    return atomic_load_explicit((_Atomic(int64_t) *)&table->risk[symbol].position, memory_order_relaxed);
}

RL_INLINE int64_t rl_position_table_mark(const rl_position_table_t *table, uint32_t symbol) {
    /* relaxed: the risk side is the only writer; readers want a recent value. */
    return atomic_load_explicit((_Atomic(int64_t) *)&table->risk[symbol].mark, memory_order_relaxed);
}

/* Risk side: the position and (when > 0) the mark. */
/* Risk side: the collar's price bounds for a new mark, in both generations. */
void rl_position_table_mark_collar(rl_position_table_t *table, uint32_t symbol, int64_t mark);

/* Risk side only: `symbol`'s collar in force (volatility scaling), in both
 * generations' buffers, its bounds at the current mark. In place, like a
 * new mark's bounds. */
void rl_position_table_set_collar(rl_position_table_t *table, uint32_t symbol, int64_t collar_bps);

RL_INLINE void rl_position_table_set_position(rl_position_table_t *table, uint32_t symbol, int64_t position,
                                              int64_t mark) {
    rl_position_risk_t *risk = &table->risk[symbol];
    /* relaxed: the risk side is the only writer; readers are monitors and the risk side itself. */
    atomic_store_explicit(&risk->position, position, memory_order_relaxed);
    if (mark > 0 && mark != atomic_load_explicit(&risk->mark, memory_order_relaxed)) {
        atomic_store_explicit(&risk->mark, mark, memory_order_relaxed);
        rl_position_table_mark_collar(table, symbol, mark);
    }
}

/* Risk side: the mark was set now, by the engine's clock (staleness rule). */
RL_INLINE void rl_position_table_stamp_mark(rl_position_table_t *table, uint32_t symbol) {
    uint64_t now = rl_rules_clock_now(&table->clock);
    /* relaxed: checkers read a recent stamp; the mark itself is published by the side CAS. */
    atomic_store_explicit(&table->risk[symbol].mark_time, now ? now : 1, memory_order_relaxed);
}

/* What an order would meet, without placing it (rl_position_table_simulate). */
typedef struct rl_simulation {
    int32_t result;              /* rl_result_t: what rl_position_table_check would return now */
    uint32_t reserved;
    uint64_t broken;             /* bit r set for every rl_result_t r the order breaks (not only the first) */
    /* Headroom after the order, fixed point; negative: over by that much. Set
     * when the order is well formed and its symbol known (headroom_known). */
    int64_t symbol_headroom;     /* the symbol's limit - its worst-case exposure with the order, USD */
    int64_t symbol_headroom_qty; /* how much more this side could take at the order's valuation price */
    int64_t book_headroom;       /* maxTotalNotional - the book's exposure with the order, USD */
    int64_t book_headroom_qty;   /* the same in quantity at that price */
    int64_t order_qty_headroom;  /* maxOrderQuantity - qty; INT64_MAX when the rule is off */
    int64_t order_notional_headroom; /* maxOrderNotional - qty x price, USD; INT64_MAX when off */
    uint32_t headroom_known;     /* 1: the headroom fields are set */
    uint32_t raises;             /* 1: the order raises its side (the limits and rules apply) */
} rl_simulation_t;

/*
 * The check of rl_position_table_check with no side effect, that does not
 * stop at the first rule broken: every rule and limit the order would break
 * now, the result the check would return, and the headroom left under each
 * limit. Any thread; a recent view while checkers and the risk side run.
 */
void rl_position_table_simulate(const rl_position_table_t *table, const rl_freeze_t *freeze, uint32_t symbol,
                                rl_side_t side, int64_t qty, int64_t price, rl_simulation_t *out);

/* As rl_position_table_simulate, for a strategy (a router's): its rates and
 * working-order caps too, as rl_position_table_check_for would meet them.
 * The strategy's thread only; nothing is spent. */
void rl_position_table_simulate_for(const rl_position_table_t *table, const rl_freeze_t *freeze,
                                    const rl_strategy_t *strategy, uint32_t symbol, rl_side_t side, int64_t qty,
                                    int64_t price, rl_simulation_t *out);

/* Risk side only: publish `rules` (capacity + 1 of them, indexed as
 * table->rules, the last the defaults a new symbol takes; staleness in
 * nanoseconds, valid by rl_order_rules_validate) in one move of the
 * generation. `cycles_per_ns` converts staleness to TSC units (unused with a
 * manual clock). */
void rl_position_table_publish_rules(rl_position_table_t *table, const rl_order_rules_t *rules, double cycles_per_ns);

/* Risk side: grant the overlap credit back, up to min(E(buy), E(sell)) read
 * now. Checkers only raise E, so the values read are lower bounds. Returns
 * max(E(buy), E(sell)) as read: the symbol's exposure. */
RL_INLINE int64_t rl_position_table_refresh_credit(rl_position_table_t *table, uint32_t symbol) {
    rl_position_risk_t *slot = &table->risk[symbol];
    int64_t buy = rl_position_table_side_exposure(table, symbol, RL_SIDE_BUY);
    int64_t sell = rl_position_table_side_exposure(table, symbol, RL_SIDE_SELL);
    int64_t overlap = buy < sell ? buy : sell;
    /* relaxed: the risk side is the only writer of credit. */
    int64_t credit = atomic_load_explicit(&slot->credit, memory_order_relaxed);
    if (overlap > credit) {
        /* release: orders the credit before the total it gives back; readers of
         * both (snapshots, the model) see the credit no later than its refund. */
        atomic_store_explicit(&slot->credit, overlap, memory_order_release);
        rl_position_table_add_total(table, -(overlap - credit));
    }
    return buy > sell ? buy : sell;
}

/* Risk side: lower the credit to at most `bound` before a side drops to
 * exposure `bound`, charging the total first. */
RL_INLINE void rl_position_table_cap_credit(rl_position_table_t *table, uint32_t symbol, int64_t bound) {
    rl_position_risk_t *slot = &table->risk[symbol];
    /* relaxed: the risk side is the only writer of credit. */
    int64_t credit = atomic_load_explicit(&slot->credit, memory_order_relaxed);
    if (credit > bound) {
        rl_position_table_add_total(table, credit - bound);
        /* release: the total was raised first (see rl_position_table_refresh_credit). */
        atomic_store_explicit(&slot->credit, bound, memory_order_release);
    }
}

/* Copy a slot out for reporting. Consistent when the table is quiescent; a
 * recent, possibly torn, view while checkers run. */
RL_INLINE void rl_position_table_read(const rl_position_table_t *table, uint32_t symbol, rl_position_view_t *out) {
    const rl_position_slot_t *slot = &table->slots[symbol];
    const rl_position_risk_t *risk = &table->risk[symbol];
    rl_pair_value_t buy = rl_pair_load(&slot->sides[RL_SIDE_BUY]);
    rl_pair_value_t sell = rl_pair_load(&slot->sides[RL_SIDE_SELL]);
    /* relaxed, all: a monitoring read; nothing is synchronised through it. */
    int64_t position = atomic_load_explicit((_Atomic(int64_t) *)&risk->position, memory_order_relaxed);
    out->position = position;
    out->working_buy = buy.lo - position;
    out->working_sell = sell.lo + position;
    out->mark = atomic_load_explicit((_Atomic(int64_t) *)&risk->mark, memory_order_relaxed);
    int64_t eb = rl_side_exposure(buy.lo, buy.hi), es = rl_side_exposure(sell.lo, sell.hi);
    out->exposure = eb > es ? eb : es;
    out->limit = rl_position_table_limit(table, symbol);
    out->buy_price = buy.hi;
    out->sell_price = sell.hi;
    out->credit = atomic_load_explicit((_Atomic(int64_t) *)&risk->credit, memory_order_relaxed);
}

/* The one rule for a persisted slot: working quantities >= 0, extents in
 * range, each side price 0, the mark, or provisional (negative) with no mark,
 * and anything held valued. */
bool rl_position_table_valid_view(const rl_position_view_t *state);

/* Recovery only, with no other thread running: set a slot to a persisted
 * state that rl_position_table_valid_view accepts. Returns 0 or -EINVAL. */
int rl_position_table_restore(rl_position_table_t *table, uint32_t symbol, const rl_position_view_t *state);

RL_EXTERN_C_END

#endif /* RL_POSITION_TABLE_H */
