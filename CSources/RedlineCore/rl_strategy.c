#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include "rl_strategy.h"
#include "rl_numa.h"

int rl_strategy_limits_validate(const rl_strategy_limits_t *l) {
    if (l->reserved != 0) return -EINVAL;
    if ((l->orders_per_second || l->orders_per_second_per_symbol) && l->order_burst == 0) return -EINVAL;
    if (l->cancels_per_second && l->cancel_burst == 0) return -EINVAL;
    return 0;
}

/* What an unbound strategy's halt bit reads: never set. */
static _Atomic(uint64_t) rl_strategy_never_halted;

int rl_strategy_create(uint32_t symbol_capacity, int node, rl_strategy_t **out) {
    if (symbol_capacity == 0 || symbol_capacity > (1u << 24)) return -EINVAL;
    size_t bytes = sizeof(rl_strategy_t) + (size_t)symbol_capacity * sizeof(rl_strategy_symbol_t);
    rl_strategy_t *s = rl_numa_alloc(bytes, node); /* zeroed: every bucket full, nothing open */
    if (s == NULL) return -ENOMEM;
    s->capacity = symbol_capacity;
    s->halt_word = &rl_strategy_never_halted;
    *out = s;
    return 0;
}

void rl_strategy_destroy(rl_strategy_t *strategy) { rl_numa_free(strategy); }
