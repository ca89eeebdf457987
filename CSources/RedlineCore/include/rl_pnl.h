/*
 * rl_pnl.h - profit and loss, and the drawdown from the peak of equity.
 *
 * Per symbol, on the risk side only (plain memory, one writer):
 *
 *   realized    from fills (and position adjustments, which are trades at
 *               their price): a trade that reduces the position realizes
 *               (price - average cost) on what it closes;
 *   unrealized  position x (mark - average cost).
 *
 * The book's equity is the sum of both over symbols. Its peak only rises;
 * the drawdown is peak - equity, so a strategy that gives back its gains
 * trips the limit as surely as one that loses from the start. The day's
 * loss is the equity's fall since the day's start, which resets at a
 * configured time. All amounts fixed point (RL_FP_SCALE), saturating.
 */
#ifndef RL_PNL_H
#define RL_PNL_H

#include "rl_platform.h"
#include "rl_fixed.h"

RL_EXTERN_C_BEGIN

typedef struct rl_pnl_symbol {
    int64_t average_cost;  /* of the open position; 0 when flat */
    int64_t realized;      /* USD */
    int64_t unrealized;    /* USD, at the last mark */
} rl_pnl_symbol_t;

/* `v` within +-RL_FP_EXPOSURE_CAP: once there, it stays there. */
RL_INLINE int64_t rl_pnl_clamp(__int128 v) {
    return v > RL_FP_EXPOSURE_CAP ? RL_FP_EXPOSURE_CAP : v < -RL_FP_EXPOSURE_CAP ? -RL_FP_EXPOSURE_CAP : (int64_t)v;
}

/* qty x price / RL_FP_SCALE rounded down (towards less profit: every rounding
 * counts more risk), saturating at +-RL_FP_EXPOSURE_CAP. */
RL_INLINE int64_t rl_pnl_amount(__int128 qty, __int128 price) {
    __int128 product = qty * price, q = product / RL_FP_SCALE;
    if (product % RL_FP_SCALE != 0 && product < 0) q -= 1;
    return rl_pnl_clamp(q);
}

/* The position went from `before` to `after` in a trade at `price`, and the
 * symbol is marked at `mark` (> 0). Returns the change in the symbol's
 * realized plus unrealized P&L. */
RL_INLINE int64_t rl_pnl_trade(rl_pnl_symbol_t *p, int64_t before, int64_t after, int64_t price, int64_t mark) {
    int64_t old_total = p->realized + p->unrealized;
    int64_t qty = after - before;
    if (qty != 0) {
        bool same_way = before == 0 || (before > 0) == (qty > 0);
        if (same_way) {
            /* Adds to the position: the average cost moves towards the price. */
            __int128 held = before < 0 ? -(__int128)before : before, added = qty < 0 ? -(__int128)qty : qty;
            __int128 cost = held * p->average_cost + added * price, units = held + added;
            /* Rounded against the position: up for a long, down for a short (less profit either way). */
            __int128 average = cost / units;
            if (cost % units != 0 && after > 0) average += 1;
            p->average_cost = (int64_t)average;
        } else {
            /* Reduces it: what closes realizes against the average cost; what crosses opens at the price. */
            __int128 held = before < 0 ? -(__int128)before : before, traded = qty < 0 ? -(__int128)qty : qty;
            __int128 closed = traded < held ? traded : held;
            __int128 per_unit = before > 0 ? (__int128)price - p->average_cost : (__int128)p->average_cost - price;
            p->realized = rl_pnl_clamp((__int128)p->realized + rl_pnl_amount(closed, per_unit));
            if (after == 0) p->average_cost = 0;
            else if (traded > held) p->average_cost = price;
        }
    }
    p->unrealized = after == 0 ? 0 : rl_pnl_amount(after, (__int128)mark - p->average_cost);
    return (int64_t)rl_pnl_clamp((__int128)p->realized + p->unrealized - old_total);
}

/* The book's equity, its peak and the day's start. */
typedef struct rl_pnl_book {
    int64_t equity;         /* sum of realized + unrealized over symbols */
    int64_t peak;           /* the highest equity seen (from the first value) */
    int64_t day_start;      /* equity when the day began */
    uint64_t day;           /* the day number (engine wall clock) day_start belongs to */
    bool drawn;             /* the drawdown limit was reported (until equity recovers under it) */
    bool lost;              /* the daily loss limit was reported (until the day resets) */
} rl_pnl_book_t;

RL_EXTERN_C_END

#endif /* RL_PNL_H */
