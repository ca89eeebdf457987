#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_SET, sched_getcpu */
#endif
#include <errno.h>
#include "rl_position_table.h"
#include "rl_numa.h"

int rl_position_table_create(uint32_t capacity, int64_t max_total, int node, rl_position_table_t **out) {
    if (capacity == 0 || capacity > (1u << 24) || max_total <= 0) return -EINVAL;
    size_t bytes = sizeof(rl_position_table_t) + (size_t)capacity * sizeof(rl_position_slot_t);
    rl_position_table_t *table = rl_numa_alloc(bytes, node); /* zeroed */
    if (table == NULL) return -ENOMEM;
    table->capacity = capacity;
    /* relaxed: the table is not shared until create returns. */
    atomic_store_explicit(&table->count, 0, memory_order_relaxed);
    atomic_store_explicit(&table->max_total, max_total, memory_order_relaxed);
    atomic_store_explicit(&table->total_exposure, 0, memory_order_relaxed);
    *out = table;
    return 0;
}

void rl_position_table_destroy(rl_position_table_t *table) { rl_numa_free(table); }

int rl_position_table_activate(rl_position_table_t *table, uint32_t id, int64_t limit) {
    if (limit <= 0) return -EINVAL;
    /* relaxed: setup runs on one thread; only the count's publication needs ordering. */
    uint32_t count = atomic_load_explicit(&table->count, memory_order_relaxed);
    if (id >= table->capacity) return -ENOSPC;
    if (id != count) return -EINVAL;
    rl_position_table_set_limit(table, id, limit);
    /* release: pairs with the acquire in rl_position_table_count, so a checker
     * that accepts this id sees its limit. */
    atomic_store_explicit(&table->count, count + 1, memory_order_release);
    return 0;
}

int rl_position_table_restore(rl_position_table_t *table, uint32_t symbol, const rl_position_view_t *state) {
    if (symbol >= rl_position_table_count(table) || state->working_buy < 0 || state->working_sell < 0 ||
        state->mark < 0) {
        return -EINVAL;
    }
    int64_t lw, sw;
    if (__builtin_add_overflow(state->position, state->working_buy, &lw) ||
        __builtin_sub_overflow(state->position, state->working_sell, &sw)) {
        return -EINVAL;
    }
    rl_position_slot_t *slot = &table->slots[symbol];
    /* relaxed, all: recovery runs before any other thread uses the table. */
    atomic_store_explicit(&slot->position, state->position, memory_order_relaxed);
    atomic_store_explicit(&slot->long_worst, lw, memory_order_relaxed);
    atomic_store_explicit(&slot->short_worst, sw, memory_order_relaxed);
    atomic_store_explicit(&slot->mark, state->mark, memory_order_relaxed);
    rl_position_table_remark(table, symbol);
    return 0;
}
