#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_SET, sched_getcpu */
#endif
#include <errno.h>
#include <string.h>
#include "rl_position_table.h"
#include "rl_numa.h"

int rl_position_table_create(uint32_t capacity, int64_t max_total, int node, rl_position_table_t **out) {
    if (capacity == 0 || capacity > (1u << 24) || max_total <= 0 || max_total > RL_FP_MAX_LIMIT) return -EINVAL;
    size_t bytes = sizeof(rl_position_table_t) + (size_t)capacity * (sizeof(rl_position_slot_t) + sizeof(rl_position_risk_t)) +
                   ((size_t)capacity + 1) * sizeof(rl_symbol_rules_t);
    rl_position_table_t *table = rl_numa_alloc(bytes, node); /* zeroed */
    if (table == NULL) return -ENOMEM;
    table->capacity = capacity;
    table->risk = (rl_position_risk_t *)(table->slots + capacity);
    table->rules = (rl_symbol_rules_t *)(table->risk + capacity); /* zeroed: every rule off */
    for (uint32_t i = 0; i < capacity; i++) {
        for (int b = 0; b < 2; b++) {
            table->rules[i].buffer[b].mark_time = &table->risk[i].mark_time;
        }
    }
    /* relaxed: the table is not shared until create returns. */
    atomic_store_explicit(&table->count, 0, memory_order_relaxed);
    atomic_store_explicit(&table->max_total[0], max_total, memory_order_relaxed);
    atomic_store_explicit(&table->max_total[1], max_total, memory_order_relaxed);
    rl_pair_init(&table->book, 0, RL_BOOK_HI(0, RL_STATE_ACTIVE));
    *out = table;
    return 0;
}

void rl_position_table_destroy(rl_position_table_t *table) { rl_numa_free(table); }

void rl_position_table_use_manual_clock(rl_position_table_t *table) { table->clock.manual = 1; }

void rl_position_table_set_clock(rl_position_table_t *table, uint64_t now_ns) {
    /* relaxed: a test's clock; checkers read a recent value. */
    atomic_store_explicit(&table->clock.manual_now, now_ns, memory_order_relaxed);
}

/* The collar's bounds in `buffer` for `mark` (0: none yet). Risk side. */
static void rl_rules_buffer_mark(rl_rules_buffer_t *buffer, int64_t mark) {
    /* relaxed, all: written by the risk side alone; a check reads a recent bound, as it reads the mark. */
    int64_t collar = atomic_load_explicit(&buffer->collar_bps, memory_order_relaxed), buy_max = 0, sell_min = INT64_MAX;
    if (collar > 0 && mark > 0) rl_rules_collar_bounds(collar, mark, &buy_max, &sell_min);
    atomic_store_explicit(&buffer->buy_max, buy_max, memory_order_relaxed);
    atomic_store_explicit(&buffer->sell_min, sell_min, memory_order_relaxed);
}

void rl_position_table_mark_collar(rl_position_table_t *table, uint32_t symbol, int64_t mark) {
    for (int b = 0; b < 2; b++) rl_rules_buffer_mark(&table->rules[symbol].buffer[b], mark);
}

void rl_position_table_set_collar(rl_position_table_t *table, uint32_t symbol, int64_t collar_bps) {
    /* relaxed: the risk side is the mark's only writer. */
    int64_t mark = atomic_load_explicit(&table->risk[symbol].mark, memory_order_relaxed);
    for (int b = 0; b < 2; b++) {
        /* relaxed: as a new mark's bounds, written in place: a check reads one
         * bound (its side's), the old one or the new one. */
        atomic_store_explicit(&table->rules[symbol].buffer[b].collar_bps, collar_bps, memory_order_relaxed);
        rl_rules_buffer_mark(&table->rules[symbol].buffer[b], mark);
    }
}

static void rl_rules_buffer_store(rl_rules_buffer_t *buffer, const rl_order_rules_t *rules, int64_t mark, bool manual,
                                  double cycles_per_ns) {
    uint64_t active = 0;
    if (rules->flags & RL_RULES_RESTRICTED) active |= RL_RULE_ON_RESTRICTED;
    if (rules->max_order_qty > 0) active |= RL_RULE_ON_ORDER_QTY;
    if (rules->max_order_notional > 0) active |= RL_RULE_ON_ORDER_NOTIONAL;
    if (rules->collar_bps > 0) active |= RL_RULE_ON_COLLAR;
    if (rules->stale_after_ns > 0) active |= RL_RULE_ON_STALE;
    if (rules->max_working_orders > 0) active |= RL_RULE_ON_WORKING_ORDERS;
    if ((active & (RL_RULE_ON_COLLAR | RL_RULE_ON_STALE)) && (rules->flags & RL_RULES_ALLOW_NO_REFERENCE)) {
        active |= RL_RULE_ON_ALLOW_NO_REFERENCE;
    }
    uint64_t stale = (uint64_t)rules->stale_after_ns;
    if (!manual && stale > 0) {
        double cycles = (double)stale * cycles_per_ns;
        stale = cycles < 1.0 ? 1 : (uint64_t)cycles;
    }
    /* relaxed, all: only checkers of another generation read this buffer now, and their book CAS fails;
     * the generation's move (a full barrier) publishes it to checkers of the next. */
    atomic_store_explicit(&buffer->max_order_qty, rules->max_order_qty, memory_order_relaxed);
    atomic_store_explicit(&buffer->max_order_notional, rules->max_order_notional, memory_order_relaxed);
    atomic_store_explicit(&buffer->collar_bps, rules->collar_bps, memory_order_relaxed);
    rl_rules_buffer_mark(buffer, mark);
    atomic_store_explicit(&buffer->stale_after, stale, memory_order_relaxed);
    atomic_store_explicit(&buffer->max_working, rules->max_working_orders, memory_order_relaxed);
    atomic_store_explicit(&buffer->active, (uint32_t)active, memory_order_relaxed);
}

/* One symbol's rules into generation buffer `b`, with the slot's copy of which are on. */
static void rl_position_table_store_rules(rl_position_table_t *table, uint32_t symbol, uint32_t b,
                                          const rl_order_rules_t *rules, bool manual, double cycles_per_ns) {
    rl_rules_buffer_t *buffer = &table->rules[symbol].buffer[b];
    /* relaxed: the risk side, which publishes, is the mark's only writer. */
    int64_t mark = symbol < table->capacity ? atomic_load_explicit(&table->risk[symbol].mark, memory_order_relaxed) : 0;
    rl_rules_buffer_store(buffer, rules, mark, manual, cycles_per_ns);
    if (symbol < table->capacity) {
        /* relaxed: as the buffer's fields (rl_rules_buffer_store). */
        atomic_store_explicit(&table->slots[symbol].rules_active[b],
                              atomic_load_explicit(&buffer->active, memory_order_relaxed), memory_order_relaxed);
    }
}

void rl_position_table_publish_rules(rl_position_table_t *table, const rl_order_rules_t *rules, double cycles_per_ns) {
    uint32_t count = rl_position_table_count(table);
    bool manual = table->clock.manual != 0;
    /* relaxed: the risk side (the controller) is the only writer of the generation. */
    int64_t hi = atomic_load_explicit(&table->book.hi, memory_order_relaxed);
    uint32_t next = (uint32_t)((RL_BOOK_GENERATION(hi) + 1) & 1);
    for (uint32_t i = 0; i < count; i++) rl_position_table_store_rules(table, i, next, &rules[i], manual, cycles_per_ns);
    rl_position_table_store_rules(table, table->capacity, next, &rules[table->capacity], manual, cycles_per_ns);
    rl_position_table_advance(table, RL_BOOK_STATE(hi));
    for (uint32_t i = 0; i < count; i++) rl_position_table_store_rules(table, i, next ^ 1, &rules[i], manual, cycles_per_ns);
    rl_position_table_store_rules(table, table->capacity, next ^ 1, &rules[table->capacity], manual, cycles_per_ns);
}

int rl_position_table_activate(rl_position_table_t *table, uint32_t id, int64_t limit, bool restricted) {
    if (limit <= 0 || limit > RL_FP_MAX_LIMIT) return -EINVAL;
    /* relaxed: setup runs on one thread; only the count's publication needs ordering. */
    uint32_t count = atomic_load_explicit(&table->count, memory_order_relaxed);
    if (id >= table->capacity) return -ENOSPC;
    if (id != count) return -EINVAL;
    /* relaxed: published by the release store of the count below. */
    atomic_store_explicit(&table->slots[id].limit[0], limit, memory_order_relaxed);
    atomic_store_explicit(&table->slots[id].limit[1], limit, memory_order_relaxed);
    /* The defaults in force: both buffers hold them outside a publish, which the risk side alone runs. */
    rl_symbol_rules_t *rules = &table->rules[id];
    const rl_rules_buffer_t *defaults = &table->rules[table->capacity].buffer[0];
    for (int b = 0; b < 2; b++) {
        /* relaxed, all: published by the release store of the count below. */
        atomic_store_explicit(&rules->buffer[b].max_order_qty,
                              atomic_load_explicit(&defaults->max_order_qty, memory_order_relaxed), memory_order_relaxed);
        atomic_store_explicit(&rules->buffer[b].max_order_notional,
                              atomic_load_explicit(&defaults->max_order_notional, memory_order_relaxed), memory_order_relaxed);
        atomic_store_explicit(&rules->buffer[b].collar_bps,
                              atomic_load_explicit(&defaults->collar_bps, memory_order_relaxed), memory_order_relaxed);
        rl_rules_buffer_mark(&rules->buffer[b], 0); /* a new symbol has no mark */
        atomic_store_explicit(&rules->buffer[b].stale_after,
                              atomic_load_explicit(&defaults->stale_after, memory_order_relaxed), memory_order_relaxed);
        atomic_store_explicit(&rules->buffer[b].max_working,
                              atomic_load_explicit(&defaults->max_working, memory_order_relaxed), memory_order_relaxed);
        uint32_t active = atomic_load_explicit(&defaults->active, memory_order_relaxed) |
                          (restricted ? RL_RULE_ON_RESTRICTED : 0);
        atomic_store_explicit(&rules->buffer[b].active, active, memory_order_relaxed);
        atomic_store_explicit(&table->slots[id].rules_active[b], active, memory_order_relaxed);
    }
    /* release: pairs with the acquire in rl_position_table_count, so a checker
     * that accepts this id sees its limit. */
    atomic_store_explicit(&table->count, count + 1, memory_order_release);
    return 0;
}

/* A snapshot's side price is valid if it is the symbol's mark (every mark
 * values both sides, so with a mark there is no other price), or, with no
 * mark yet, provisional (negative) or none. */
static bool rl_position_table_valid_price(int64_t price, int64_t mark) {
    return mark > 0 ? price == mark : (price == 0 || (price < 0 && price > -RL_FP_EXPOSURE_CAP));
}

bool rl_position_table_valid_view(const rl_position_view_t *state) {
    if (state->working_buy < 0 || state->working_sell < 0 || state->mark < 0 ||
        !rl_position_table_valid_price(state->buy_price, state->mark) ||
        !rl_position_table_valid_price(state->sell_price, state->mark)) {
        return false;
    }
    int64_t buy, sell;
    if (__builtin_add_overflow(state->position, state->working_buy, &buy) ||
        __builtin_sub_overflow(state->working_sell, state->position, &sell) || rl_fp_abs(buy) >= RL_FP_EXPOSURE_CAP ||
        rl_fp_abs(sell) >= RL_FP_EXPOSURE_CAP) {
        return false;
    }
    /* A position comes only from a fill or an adjustment, which mark it;
     * something held but never valued cannot be counted. */
    if (state->position != 0 && state->mark == 0) return false;
    if ((buy > 0 && state->buy_price == 0) || (sell > 0 && state->sell_price == 0)) return false;
    /* A side valued at the cap would saturate the book for good: refused, as a live mark is. */
    return rl_side_exposure(buy, state->buy_price) < RL_FP_EXPOSURE_CAP &&
           rl_side_exposure(sell, state->sell_price) < RL_FP_EXPOSURE_CAP;
}

int rl_position_table_restore(rl_position_table_t *table, uint32_t symbol, const rl_position_view_t *state) {
    if (symbol >= rl_position_table_count(table) || !rl_position_table_valid_view(state)) return -EINVAL;
    int64_t buy = state->position + state->working_buy, sell = state->working_sell - state->position;
    rl_position_slot_t *slot = &table->slots[symbol];
    rl_position_risk_t *risk = &table->risk[symbol];
    rl_pair_value_t old_buy = rl_pair_load(&slot->sides[RL_SIDE_BUY]);
    rl_pair_value_t old_sell = rl_pair_load(&slot->sides[RL_SIDE_SELL]);
    /* relaxed, all: recovery runs before any other thread uses the table. */
    int64_t old_credit = atomic_load_explicit(&risk->credit, memory_order_relaxed);
    int64_t old = rl_side_exposure(old_buy.lo, old_buy.hi) + rl_side_exposure(old_sell.lo, old_sell.hi) - old_credit;
    rl_pair_init(&slot->sides[RL_SIDE_BUY], buy, state->buy_price);
    rl_pair_init(&slot->sides[RL_SIDE_SELL], sell, state->sell_price);
    atomic_store_explicit(&risk->position, state->position, memory_order_relaxed);
    atomic_store_explicit(&risk->mark, state->mark, memory_order_relaxed);
    atomic_store_explicit(&risk->credit, 0, memory_order_relaxed);
    rl_position_table_mark_collar(table, symbol, state->mark);
    int64_t fresh = rl_side_exposure(buy, state->buy_price) + rl_side_exposure(sell, state->sell_price);
    rl_position_table_add_total(table, fresh - old);
    rl_position_table_refresh_credit(table, symbol);
    return 0;
}

/* value x RL_FP_SCALE / price, saturating at +-INT64_MAX (price > 0). */
static int64_t rl_position_table_in_qty(int64_t value, int64_t price) {
    __int128 q = (__int128)value * RL_FP_SCALE / price;
    return q > INT64_MAX ? INT64_MAX : q < -INT64_MAX ? -INT64_MAX : (int64_t)q;
}

/* The first of `broken`'s results in `order`, the order the check takes them. */
static rl_result_t rl_position_table_first_result(uint64_t broken, const rl_result_t *order, size_t count) {
    for (size_t i = 0; i < count; i++) {
        if (broken & (1ull << order[i])) return order[i];
    }
    return RL_OK;
}

/* The check's order before it reads the side... */
static const rl_result_t rl_check_order_inputs[] = {
    RL_REJECT_INVALID_SIDE, RL_REJECT_INVALID_QTY, RL_REJECT_INVALID_PRICE, RL_REJECT_UNKNOWN_SYMBOL,
    RL_REJECT_STRATEGY_HALTED, RL_REJECT_OVERFLOW,
};
/* ... and after, for an order that raises its side (one that does not only
 * meets RL_REJECT_STRATEGY_HALTED and RL_FROZEN). */
static const rl_result_t rl_check_order_raising[] = {
    RL_REJECT_STRATEGY_HALTED, RL_FROZEN, RL_REJECT_REDUCE_ONLY, RL_REJECT_RESTRICTED, RL_REJECT_ORDER_QTY, RL_REJECT_ORDER_NOTIONAL,
    RL_REJECT_NO_REFERENCE_PRICE, RL_REJECT_PRICE_COLLAR, RL_REJECT_STALE_PRICE, RL_REJECT_OPEN_ORDERS,
    RL_REJECT_RATE_LIMIT, RL_REJECT_OVERFLOW,
    RL_REJECT_SYMBOL_LIMIT, RL_REJECT_TOTAL_LIMIT,
};
#define RL_COUNT(a) (sizeof(a) / sizeof((a)[0]))

void rl_position_table_simulate(const rl_position_table_t *table, const rl_freeze_t *freeze, uint32_t symbol,
                                rl_side_t side, int64_t qty, int64_t price, rl_simulation_t *out) {
    rl_position_table_simulate_for(table, freeze, NULL, symbol, side, qty, price, out);
}

void rl_position_table_simulate_for(const rl_position_table_t *table, const rl_freeze_t *freeze,
                                    const rl_strategy_t *strategy, uint32_t symbol, rl_side_t side, int64_t qty,
                                    int64_t price, rl_simulation_t *out) {
    memset(out, 0, sizeof *out);
    out->order_qty_headroom = INT64_MAX;
    out->order_notional_headroom = INT64_MAX;
    uint64_t broken = 0;
    if ((unsigned)side > (unsigned)RL_SIDE_SELL) broken |= 1ull << RL_REJECT_INVALID_SIDE;
    if (qty <= 0) broken |= 1ull << RL_REJECT_INVALID_QTY;
    if (price <= 0) broken |= 1ull << RL_REJECT_INVALID_PRICE;
    if (symbol >= rl_position_table_count(table)) broken |= 1ull << RL_REJECT_UNKNOWN_SYMBOL;
    /* The check refuses a strategy halted alone before it reads the side. */
    uint64_t strategy_halted = strategy != NULL && rl_strategy_halted(strategy) ? 1ull << RL_REJECT_STRATEGY_HALTED : 0;
    rl_pair_value_t cur = {0, 0};
    if (broken == 0) {
        cur = rl_pair_load((rl_pair_t *)&table->slots[symbol].sides[side]);
        if (qty >= RL_FP_EXPOSURE_CAP || cur.lo + qty >= RL_FP_EXPOSURE_CAP) broken |= 1ull << RL_REJECT_OVERFLOW;
    }
    if (broken != 0) {
        broken |= strategy_halted;
        out->broken = broken;
        out->result = rl_position_table_first_result(broken, rl_check_order_inputs, RL_COUNT(rl_check_order_inputs));
        return;
    }
    /* As rl_position_table_check, step by step, recording instead of returning. */
    int64_t extent = cur.lo + qty;
    int64_t side_price = cur.hi <= 0 && price > -cur.hi ? -price : cur.hi;
    int64_t after = rl_side_exposure(extent, side_price);
    int64_t charge = after - rl_side_exposure(cur.lo, cur.hi);
    bool raises = extent > -cur.lo;
    rl_pair_value_t book = rl_pair_load((rl_pair_t *)&table->book);
    int64_t limit = rl_position_table_limit_for(table, symbol, book.hi);
    int64_t max_total = rl_position_table_max_total_for(table, book.hi);
    int64_t valuation = price > rl_fp_abs(side_price) ? price : rl_fp_abs(side_price);
    out->raises = raises;
    if (raises) {
        rl_trading_state_t state = RL_BOOK_DECIDING_STATE(book.hi);
        if (state == RL_STATE_HALTED) broken |= 1ull << RL_FROZEN;
        if (state == RL_STATE_REDUCING) broken |= 1ull << RL_REJECT_REDUCE_ONLY;
        uint64_t generation = RL_BOOK_GENERATION(book.hi) & 1;
        const rl_rules_buffer_t *rules = &table->rules[symbol].buffer[generation];
        /* relaxed: a view, as the check's own read of it. */
        uint64_t active = atomic_load_explicit((_Atomic(uint32_t) *)&table->slots[symbol].rules_active[generation],
                                               memory_order_relaxed);
        const rl_strategy_limits_buffer_t *limits = &table->strategy_limits[generation];
        /* relaxed: as the check's read of it; never published (all zero) means every limit off. */
        uint64_t strategy_active =
            strategy != NULL ? atomic_load_explicit((_Atomic(uint64_t) *)&limits->active, memory_order_relaxed) : 0;
        /* One read of the engine's clock, as the check. */
        uint64_t now = (active & RL_RULE_ON_STALE) || strategy_active ? rl_rules_clock_now(&table->clock) : 0;
        if (active != 0) {
            broken |= rl_order_rules_broken(rules, rl_order_rules_with_side(active, side), qty, price, cur.hi, now)
                      << RL_REJECT_RESTRICTED;
        }
        /* relaxed, both: a view, as the check's own reads. */
        if ((active & RL_RULE_ON_WORKING_ORDERS) &&
            atomic_load_explicit((_Atomic(uint64_t) *)&table->slots[symbol].working, memory_order_relaxed) >=
                atomic_load_explicit((_Atomic(uint32_t) *)&rules->max_working, memory_order_relaxed)) {
            broken |= 1ull << RL_REJECT_OPEN_ORDERS;
        }
        if (strategy_active != 0) {
            /* Each of the strategy's limits on its own (rl_strategy_admit stops at the first). */
            /* relaxed, all: a view, as the check's own reads (rl_strategy_admit). */
            if (strategy->open >= atomic_load_explicit((_Atomic(uint32_t) *)&limits->max_open, memory_order_relaxed) ||
                strategy->symbols[symbol].open >=
                    atomic_load_explicit((_Atomic(uint32_t) *)&limits->max_open_symbol, memory_order_relaxed)) {
                broken |= 1ull << RL_REJECT_OPEN_ORDERS;
            }
            if (!rl_strategy_gcra_ready(strategy->order_tat,
                                        atomic_load_explicit((_Atomic(uint64_t) *)&limits->order_tolerance, memory_order_relaxed),
                                        now) ||
                !rl_strategy_gcra_ready(strategy->symbols[symbol].tat,
                                        atomic_load_explicit((_Atomic(uint64_t) *)&limits->symbol_tolerance, memory_order_relaxed),
                                        now)) {
                broken |= 1ull << RL_REJECT_RATE_LIMIT;
            }
        }
        /* relaxed, both: as above. */
        if (active & RL_RULE_ON_ORDER_QTY) {
            out->order_qty_headroom =
                atomic_load_explicit((_Atomic(int64_t) *)&rules->max_order_qty, memory_order_relaxed) - qty;
        }
        if (active & RL_RULE_ON_ORDER_NOTIONAL) {
            int64_t notional;
            if (!rl_fp_notional_ceil(qty, price, &notional)) notional = RL_FP_EXPOSURE_CAP;
            out->order_notional_headroom =
                atomic_load_explicit((_Atomic(int64_t) *)&rules->max_order_notional, memory_order_relaxed) - notional;
        }
        int64_t at_order_price = after;
        if (price > rl_fp_abs(side_price) && !rl_fp_notional_ceil(extent, price, &at_order_price)) {
            broken |= 1ull << RL_REJECT_OVERFLOW;
            at_order_price = RL_FP_EXPOSURE_CAP;
        }
        if (at_order_price > limit) broken |= 1ull << RL_REJECT_SYMBOL_LIMIT;
        int64_t extra = at_order_price - after;
        int64_t book_after = book.lo + charge + (extra > 0 ? extra : 0);
        if (book_after > max_total) broken |= 1ull << RL_REJECT_TOTAL_LIMIT;
        out->symbol_headroom = limit - at_order_price;
        out->book_headroom = max_total - book_after;
    } else {
        /* Never raises the symbol's worst case nor the book's: only a halt stops it. */
        if (rl_freeze_word_state(rl_freeze_load((rl_freeze_t *)freeze)) == RL_STATE_HALTED) broken |= 1ull << RL_FROZEN;
        out->symbol_headroom = limit - rl_position_table_exposure(table, symbol);
        out->book_headroom = max_total - rl_position_table_total(table);
    }
    broken |= strategy_halted;
    out->symbol_headroom_qty = rl_position_table_in_qty(out->symbol_headroom, valuation);
    out->book_headroom_qty = rl_position_table_in_qty(out->book_headroom, valuation);
    out->headroom_known = 1;
    out->broken = broken;
    out->result = rl_position_table_first_result(broken, rl_check_order_raising, RL_COUNT(rl_check_order_raising));
}

/* Clock units per event at `per_second`, and the burst's tolerance. */
static void rl_position_table_gcra(uint32_t per_second, uint32_t burst, bool manual, double cycles_per_ns,
                                   uint64_t *interval, uint64_t *tolerance) {
    if (per_second == 0) {
        /* Off: nothing spent, and a tolerance no time reaches (the check tests no bit). */
        *interval = 0;
        *tolerance = UINT64_MAX / 4;
        return;
    }
    double ns = 1e9 / (double)per_second;
    double units = manual ? ns : ns * cycles_per_ns;
    *interval = units < 1 ? 1 : (uint64_t)units;
    *tolerance = (uint64_t)(burst > 0 ? burst - 1 : 0) * *interval;
}

static void rl_strategy_limits_store(rl_strategy_limits_buffer_t *b, const rl_strategy_limits_t *l, bool manual,
                                     double cycles_per_ns) {
    uint64_t active = (l->orders_per_second ? RL_STRATEGY_ORDER_RATE : 0) |
                      (l->orders_per_second_per_symbol ? RL_STRATEGY_SYMBOL_RATE : 0) |
                      (l->max_open_orders ? RL_STRATEGY_OPEN : 0) | (l->max_open_orders_per_symbol ? RL_STRATEGY_SYMBOL_OPEN : 0) |
                      (l->cancels_per_second ? RL_STRATEGY_CANCEL_RATE : 0);
    uint64_t interval, tolerance;
    /* relaxed, all: as rl_rules_buffer_store: another generation's buffer, published by the generation's move. */
    rl_position_table_gcra(l->orders_per_second, l->order_burst, manual, cycles_per_ns, &interval, &tolerance);
    atomic_store_explicit(&b->order_interval, interval, memory_order_relaxed);
    atomic_store_explicit(&b->order_tolerance, tolerance, memory_order_relaxed);
    rl_position_table_gcra(l->orders_per_second_per_symbol, l->order_burst, manual, cycles_per_ns, &interval, &tolerance);
    atomic_store_explicit(&b->symbol_interval, interval, memory_order_relaxed);
    atomic_store_explicit(&b->symbol_tolerance, tolerance, memory_order_relaxed);
    rl_position_table_gcra(l->cancels_per_second, l->cancel_burst, manual, cycles_per_ns, &interval, &tolerance);
    atomic_store_explicit(&b->cancel_interval, interval, memory_order_relaxed);
    atomic_store_explicit(&b->cancel_tolerance, tolerance, memory_order_relaxed);
    atomic_store_explicit(&b->max_open, l->max_open_orders ? l->max_open_orders : UINT32_MAX, memory_order_relaxed);
    atomic_store_explicit(&b->max_open_symbol, l->max_open_orders_per_symbol ? l->max_open_orders_per_symbol : UINT32_MAX,
                          memory_order_relaxed);
    atomic_store_explicit(&b->active, active, memory_order_relaxed);
}

void rl_position_table_publish_strategy_limits(rl_position_table_t *table, const rl_strategy_limits_t *limits,
                                               double cycles_per_ns) {
    bool manual = table->clock.manual != 0;
    /* relaxed: the risk side (the controller) is the only writer of the generation. */
    int64_t hi = atomic_load_explicit(&table->book.hi, memory_order_relaxed);
    uint32_t next = (uint32_t)((RL_BOOK_GENERATION(hi) + 1) & 1);
    rl_strategy_limits_store(&table->strategy_limits[next], limits, manual, cycles_per_ns);
    rl_position_table_advance(table, RL_BOOK_STATE(hi));
    rl_strategy_limits_store(&table->strategy_limits[next ^ 1], limits, manual, cycles_per_ns);
}
