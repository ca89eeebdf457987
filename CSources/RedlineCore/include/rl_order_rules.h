/*
 * rl_order_rules.h - the per-order rules a firm's market-access controls
 * need (SEC 15c3-5, MiFID II RTS 6), checked on the hot path beside the
 * exposure limits: a restricted list, a maximum quantity and notional per
 * order, a price collar around the symbol's reference price, and a stale
 * reference price.
 *
 * Each symbol has its own rules (a new symbol takes the engine's default
 * rules); every rule is off at 0. They apply to orders that raise their
 * side's worst case, the orders the exposure limits apply to. An order that
 * does not (a reducing one) passes every rule, so there is always a way out
 * (rl_position_table.h).
 *
 * Rules are double-buffered by the book word's generation, as the limits
 * are: a checker reads the buffer of the generation it read, and its book
 * CAS fails if the generation moved. A publish writes every symbol's rules
 * and moves the generation once, so a check sees the whole old set or the
 * whole new one, never a mix.
 */
#ifndef RL_ORDER_RULES_H
#define RL_ORDER_RULES_H

#include "rl_platform.h"
#include "rl_result.h"
#include "rl_fixed.h"
#include "rl_clock.h"

RL_EXTERN_C_BEGIN

/* One symbol's rules as an operator states them (Swift-importable). */
typedef struct rl_order_rules {
    int64_t max_order_qty;       /* fixed point; 0: off */
    int64_t max_order_notional;  /* qty x price, fixed point USD; 0: off */
    int64_t collar_bps;          /* a buy may pay at most the mark + this, a sell take at least the mark - this;
                                    fixed point basis points; 0: off */
    int64_t stale_after_ns;      /* the mark may be at most this old, by the engine's clock; 0: off */
    uint32_t flags;              /* rl_order_rules_flag_t */
    uint32_t max_working_orders; /* working orders on the symbol, every strategy together (a raising order
                                    that would be one more is blocked, RL_REJECT_OPEN_ORDERS); 0: off */
} rl_order_rules_t;

typedef enum rl_order_rules_flag {
    RL_RULES_RESTRICTED = 1u << 0,         /* new orders that raise exposure are blocked (RL_REJECT_RESTRICTED) */
    RL_RULES_ALLOW_NO_REFERENCE = 1u << 1, /* with no mark yet, the collar and staleness rules let orders
                                              through ("allow-first"); without it they block (the default) */
} rl_order_rules_flag_t;

#define RL_RULES_KNOWN_FLAGS (RL_RULES_RESTRICTED | RL_RULES_ALLOW_NO_REFERENCE)
/* 10,000 bps in fixed point: the collar's unit. */
#define RL_RULES_BPS_ONE (10000 * RL_FP_SCALE)
/* The widest collar: 100% (a sell at any positive price). */
#define RL_RULES_MAX_COLLAR_BPS RL_RULES_BPS_ONE
/* The longest staleness bound: one day. */
#define RL_RULES_MAX_STALE_NS (86400ull * 1000000000ull)

typedef enum rl_rules_problem {
    RL_RULES_OK = 0,
    RL_RULES_QTY_RANGE = 1,      /* max_order_qty < 0 or >= RL_FP_EXPOSURE_CAP */
    RL_RULES_NOTIONAL_RANGE = 2, /* max_order_notional < 0 or above RL_FP_MAX_LIMIT */
    RL_RULES_COLLAR_RANGE = 3,   /* collar_bps < 0 or above RL_RULES_MAX_COLLAR_BPS */
    RL_RULES_STALE_RANGE = 4,    /* stale_after_ns < 0 or above RL_RULES_MAX_STALE_NS */
    RL_RULES_FLAGS = 5,          /* an unknown flag or a non-zero reserved field */
} rl_rules_problem_t;

/* The one validation rule, for C and Swift alike. */
rl_rules_problem_t rl_order_rules_validate(const rl_order_rules_t *rules);

/* The engine's clock, for staleness: the TSC, or, for tests and replays, a
 * manual clock in nanoseconds that only rl_engine_set_clock moves. Never the
 * order's own time. */
typedef struct rl_rules_clock {
    uint32_t manual;              /* set at create: 1 manual, 0 the TSC */
    uint32_t reserved;
    _Atomic(uint64_t) manual_now; /* ns, while manual */
} rl_rules_clock_t;

/* Which rules are on, as a checker reads them: one load says "none" and the
 * check goes on to the limits. */
typedef enum rl_rule_bit {
    RL_RULE_ON_RESTRICTED = 1u << 0,
    RL_RULE_ON_ORDER_QTY = 1u << 1,
    RL_RULE_ON_ORDER_NOTIONAL = 1u << 2,
    RL_RULE_ON_COLLAR = 1u << 3,
    RL_RULE_ON_STALE = 1u << 4,
    RL_RULE_ON_ALLOW_NO_REFERENCE = 1u << 5, /* set only with the collar or staleness rule */
    RL_RULE_ON_WORKING_ORDERS = 1u << 6,     /* the symbol's working orders are capped (slot->working) */
} rl_rule_bit_t;

/* One generation's rules for one symbol, in the form a checker uses: the
 * staleness bound in engine clock units. Written by the risk side (publish),
 * read by checkers: atomics, relaxed, validated by the book CAS. */
typedef struct rl_rules_buffer {
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(uint32_t) active; /* rl_rule_bit_t */
    _Atomic(uint32_t) max_working;                      /* rl_order_rules_t.max_working_orders */
    _Atomic(int64_t) max_order_qty;
    _Atomic(int64_t) max_order_notional;
    _Atomic(int64_t) collar_bps;
    /* The collar around the symbol's mark, as prices: set at publish and by
     * the risk side at every new mark (rl_position_table_mark_collar), so a
     * check compares, and never multiplies. */
    _Atomic(int64_t) buy_max;                           /* floor(mark x (1 + collar)) */
    _Atomic(int64_t) sell_min;                          /* ceil(mark x (1 - collar)) */
    _Atomic(uint64_t) stale_after;                      /* engine clock units */
    /* Set once at create: where the staleness rule reads the mark's time. */
    const _Atomic(uint64_t) *mark_time;
} rl_rules_buffer_t;

RL_STATIC_ASSERT(sizeof(rl_rules_buffer_t) == RL_CACHE_LINE, "one generation's rules fill one cache line");

/* Both generations of one symbol's rules: a checker reads one line. */
typedef struct rl_symbol_rules {
    rl_rules_buffer_t buffer[2];
} rl_symbol_rules_t;

RL_STATIC_ASSERT(sizeof(rl_symbol_rules_t) == 2 * RL_CACHE_LINE, "each generation on its own line");

RL_INLINE uint64_t rl_rules_clock_now(const rl_rules_clock_t *clock) {
    /* relaxed: the manual clock is a test's own value; nothing is published through it. */
    if (RL_UNLIKELY(clock->manual)) return atomic_load_explicit((_Atomic(uint64_t) *)&clock->manual_now, memory_order_relaxed);
    return rl_clock_cycles();
}

/* ---- The check ------------------------------------------------------------- */

/* a x b <= c x d, exactly (all non-negative, below 2^63). */
RL_INLINE bool rl_rules_product_le(int64_t a, int64_t b, int64_t c, int64_t d) {
    return (unsigned __int128)(uint64_t)a * (uint64_t)b <= (unsigned __int128)(uint64_t)c * (uint64_t)d;
}

/* The bit of a rule's result code in a mask of broken rules (codes 20-25,
 * numbered in the order the check takes them). */
#define RL_RULE_BROKEN(code) (1ull << ((unsigned)(code) - (unsigned)RL_REJECT_RESTRICTED))

/* `active` with the order's side in its top bit, so that the rules' call
 * passes its arguments in registers. */
#define RL_RULES_SIDE_SELL_BIT (1ull << 63)
RL_INLINE uint64_t rl_order_rules_with_side(uint64_t active, rl_side_t side) { return active | ((uint64_t)side << 63); }

/* The collar's price bounds around `mark` (> 0) for `collar_bps`. */
void rl_rules_collar_bounds(int64_t collar_bps, int64_t mark, int64_t *buy_max, int64_t *sell_min);

/*
 * Every rule in `rules` that an order of `qty` at `price` breaks, as a mask
 * of RL_RULE_BROKEN bits. `active_side` is the slot's rules word (non-zero)
 * with RL_RULES_SIDE_SELL_BIT set for a sell. `side_price` is the side word's
 * price (> 0: the symbol has a mark). `now` is the engine's clock, read by
 * the caller when the staleness rule is on. The buffer's `mark_time` is when
 * the risk side set the mark (0: never in this process, so a recovered mark
 * counts as stale). With
 * no mark, the collar and staleness rules are not evaluated: the
 * no-reference-price rule answers for them. The check blocks with the lowest
 * bit (rl_order_rules_first); simulation reports them all: one definition
 * for both. Out of line: the check calls it only when a rule is on, and
 * keeping its body out of the inlined check keeps the check's registers for
 * the check.
 */
uint64_t rl_order_rules_broken(const rl_rules_buffer_t *rules, uint64_t active_side, int64_t qty, int64_t price,
                               int64_t side_price, uint64_t now);

/* The result of the first rule in `broken` (non-zero), in check order. */
RL_INLINE rl_result_t rl_order_rules_first(uint64_t broken) {
    return (rl_result_t)((unsigned)RL_REJECT_RESTRICTED + (unsigned)__builtin_ctzll(broken));
}

RL_EXTERN_C_END

#endif /* RL_ORDER_RULES_H */
