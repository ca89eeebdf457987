#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "rl_order_rules.h"

rl_rules_problem_t rl_order_rules_validate(const rl_order_rules_t *rules) {
    if (rules->max_order_qty < 0 || rules->max_order_qty >= RL_FP_EXPOSURE_CAP) return RL_RULES_QTY_RANGE;
    if (rules->max_order_notional < 0 || rules->max_order_notional > RL_FP_MAX_LIMIT) return RL_RULES_NOTIONAL_RANGE;
    if (rules->collar_bps < 0 || rules->collar_bps > RL_RULES_MAX_COLLAR_BPS) return RL_RULES_COLLAR_RANGE;
    if (rules->stale_after_ns < 0 || (uint64_t)rules->stale_after_ns > RL_RULES_MAX_STALE_NS) return RL_RULES_STALE_RANGE;
    if ((rules->flags & ~(uint32_t)RL_RULES_KNOWN_FLAGS) != 0) return RL_RULES_FLAGS;
    return RL_RULES_OK;
}

void rl_rules_collar_bounds(int64_t collar_bps, int64_t mark, int64_t *buy_max, int64_t *sell_min) {
    const unsigned __int128 one = (unsigned __int128)RL_RULES_BPS_ONE;
    unsigned __int128 up = (unsigned __int128)(uint64_t)mark * (uint64_t)(RL_RULES_BPS_ONE + collar_bps) / one;
    unsigned __int128 down = ((unsigned __int128)(uint64_t)mark * (uint64_t)(RL_RULES_BPS_ONE - collar_bps) + one - 1) / one;
    *buy_max = up > INT64_MAX ? INT64_MAX : (int64_t)up;
    *sell_min = (int64_t)down; /* <= mark */
}

uint64_t rl_order_rules_broken(const rl_rules_buffer_t *rules, uint64_t active_side, int64_t qty, int64_t price,
                               int64_t side_price, uint64_t now) {
    /* relaxed, all: read after the acquire load of the book word, whose CAS validates the generation. */
    uint64_t broken = 0, active = active_side;
    if (active & RL_RULE_ON_RESTRICTED) broken |= RL_RULE_BROKEN(RL_REJECT_RESTRICTED);
    if ((active & RL_RULE_ON_ORDER_QTY) &&
        qty > atomic_load_explicit((_Atomic(int64_t) *)&rules->max_order_qty, memory_order_relaxed)) {
        broken |= RL_RULE_BROKEN(RL_REJECT_ORDER_QTY);
    }
    if ((active & RL_RULE_ON_ORDER_NOTIONAL) &&
        !rl_rules_product_le(qty, price,
                             atomic_load_explicit((_Atomic(int64_t) *)&rules->max_order_notional, memory_order_relaxed),
                             RL_FP_SCALE)) {
        broken |= RL_RULE_BROKEN(RL_REJECT_ORDER_NOTIONAL);
    }
    if (active & (RL_RULE_ON_COLLAR | RL_RULE_ON_STALE)) {
        if (side_price <= 0) {
            if (!(active & RL_RULE_ON_ALLOW_NO_REFERENCE)) broken |= RL_RULE_BROKEN(RL_REJECT_NO_REFERENCE_PRICE);
            return broken;
        }
        /* buy: price <= mark x (1 + collar); sell: price >= mark x (1 - collar), as precomputed bounds. */
        if ((active & RL_RULE_ON_COLLAR) &&
            ((active_side & RL_RULES_SIDE_SELL_BIT)
                 ? price < atomic_load_explicit((_Atomic(int64_t) *)&rules->sell_min, memory_order_relaxed)
                 : price > atomic_load_explicit((_Atomic(int64_t) *)&rules->buy_max, memory_order_relaxed))) {
            broken |= RL_RULE_BROKEN(RL_REJECT_PRICE_COLLAR);
        }
        if (active & RL_RULE_ON_STALE) {
            /* relaxed: the risk side stamps it with the mark; a check reads a recent value. */
            uint64_t stamped = atomic_load_explicit((_Atomic(uint64_t) *)rules->mark_time, memory_order_relaxed);
            uint64_t bound = atomic_load_explicit((_Atomic(uint64_t) *)&rules->stale_after, memory_order_relaxed);
            if (stamped == 0 || (now > stamped && now - stamped > bound)) broken |= RL_RULE_BROKEN(RL_REJECT_STALE_PRICE);
        }
    }
    return broken;
}
