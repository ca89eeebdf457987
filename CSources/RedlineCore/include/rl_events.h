/*
 * rl_events.h - the fixed-size event record carried by the SPSC rings.
 *
 * Events flow one way: strategies and gateways -> ring -> risk thread, which
 * applies them to the position table and the freeze word (rl_engine_step).
 * The struct is plain data (no atomics, no over-alignment), so Swift imports it
 * as a value type and C++ can use it as is.
 */
#ifndef RL_EVENTS_H
#define RL_EVENTS_H

#include "rl_platform.h"

RL_EXTERN_C_BEGIN

typedef enum rl_event_type {
    RL_EVENT_NONE = 0,
    RL_EVENT_ORDER_ACCEPTED = 1, /* a reservation was made (sent before the order goes out): symbol, side, qty, price;
                                    timestamp_ns = rl_clock_cycles() at acceptance, or 0 (measures durable lag) */
    RL_EVENT_FILL = 2,           /* qty filled at price; moves qty from working to position */
    RL_EVENT_CANCEL_ACK = 3,     /* qty (the unfilled remainder) released */
    RL_EVENT_REJECT = 4,         /* qty released: the venue or the router refused the order */
    RL_EVENT_EXPIRE = 5,         /* qty released: the order's time in force ran out */
    RL_EVENT_EDGE_UPDATE = 6,    /* value = strategy edge in bps, fixed point (RL_FP_SCALE); side =
                                    RL_EDGE_HALTED and order_id = the word when the reporter already
                                    halted for it (the word rl_engine_halt_now returned): once that
                                    halt is taken in, the report only says the edge */
    RL_EVENT_HEARTBEAT = 7,      /* the strategy is alive; the risk side stamps it with the engine's clock
                                    (timestamp_ns is the sender's, for information only) */
    RL_EVENT_POSITION_ADJUST = 8,/* qty is a signed position change at price, with no reservation */
    RL_EVENT_MARK_PRICE = 9,     /* price is the symbol's new reference price (market data) */
    RL_EVENT_CONTROL = 10,       /* an operator's request, applied by the controller: side = rl_control_t,
                                    order_id = request id, symbol and value as the request needs */
    RL_EVENT_STATE_CHANGE = 11,  /* out, never in: the controller published a trading-state change.
                                    order_id = the new freeze word, price = the previous word,
                                    side = rl_trading_input_t (the trigger), symbol = the symbol
                                    that breached (RL_SYMBOL_NONE: the book or none); for an edge
                                    collapse value = edge bps and qty = threshold; for a breach
                                    value = exposure and qty = its limit; for an operator request
                                    value = the request id; timestamp_ns = CLOCK_REALTIME */
    RL_EVENT_EXCESS_FILL = 12,   /* a venue fill beyond what its order had working (or after it finished):
                                    side, qty at price. Moves the position only, never another order's
                                    working quantity. The venue is the truth: recorded even when its
                                    valuation saturates; if the position cannot hold it, trading halts */
    RL_EVENT_ORDER_ADOPTED = 13, /* reconciliation found an order open at the venue that the journal never
                                    held (its reservation was not yet durable at a crash): side, qty at
                                    price, reserved unconditionally, since the venue is the truth; a
                                    breach this makes enters REDUCING */
    RL_EVENT_STRATEGY_HALT = 14, /* out, never in: one strategy alone halted or resumed (its dead-man).
                                    strategy = the strategy it concerns, side = rl_strategy_halt_action_t,
                                    value = rl_freeze_reason_t of the cause, order_id = the engine's freeze
                                    word then (unchanged by it); for a halt qty = the timeout ns and
                                    price = the ns since its last heartbeat; for a lift qty = the cooldown
                                    ns; for an escalation qty = the repeats (0: it could not be watched) and
                                    price = 1 when the breaker is off; for an operator's release
                                    qty = the request id; timestamp_ns = CLOCK_REALTIME */
    RL_EVENT_VOLATILITY = 15,    /* value = the symbol's volatility estimate (fixed point, > 0, in the unit of
                                    the scaling's reference): with volatility scaling on, it scales the
                                    symbol's inventory limit and collar (RL_CONTROL_SET_VOLATILITY_SCALING) */
} rl_event_type_t;

#define RL_EVENT_TYPE_COUNT 16
#define RL_EDGE_HALTED 0x80 /* RL_EVENT_EDGE_UPDATE.side: the halt this collapse calls for is made (order_id: its word);
                               not a side's value, so a report filled from an order's template is not taken for it */
#define RL_SYMBOL_NONE UINT32_MAX

/* What an RL_EVENT_CONTROL asks for. */
typedef enum rl_control {
    RL_CONTROL_MANUAL_FREEZE = 1,    /* halt; value unused */
    RL_CONTROL_UNFREEZE = 2,         /* an operator lifts a halt (-ECANCELED: a halt that landed while the lift
                                        was published stands; the state is that halt). value: 0, or the
                                        kill-switch pulls the requester had seen + 1 (rl_engine_freeze_requests):
                                        -ECANCELED if one came after */
    RL_CONTROL_CIRCUIT_BREAKER = 3,  /* lift a halt for a transient reason (rl_breaker.h; -ECANCELED as above) */
    RL_CONTROL_SET_SYMBOL_LIMIT = 4, /* symbol, value = maxInventoryUSD (fixed point) */
    RL_CONTROL_SET_MAX_TOTAL = 5,    /* value = maxTotalNotional (fixed point) */
    RL_CONTROL_SET_EDGE_THRESHOLD = 6, /* value = edgeFreezeThresholdBps (fixed point) */
    RL_CONTROL_SET_RESUME_SHARE = 7, /* value = share of each limit exposure must fall under to leave REDUCING (fixed point, 0 < share <= 1) */
    RL_CONTROL_RECONCILE_PENDING = 8, /* recovered orders are in doubt: REDUCING until RL_CONTROL_RECONCILED */
    RL_CONTROL_RECONCILED = 9,       /* every order in doubt was settled with the venue */
    RL_CONTROL_STAGE_ORDER_RULE = 10, /* symbol (RL_SYMBOL_NONE: the defaults), qty = rl_rule_field_t, value:
                                         staged for the next publish, not yet in force */
    RL_CONTROL_PUBLISH_ORDER_RULES = 11, /* put every staged rule in force at once; if any is invalid, none is
                                            (-EINVAL) and the staged rules go back to those in force */
    RL_CONTROL_SET_HEARTBEAT_TIMEOUT = 12, /* value = ns without a HEARTBEAT before trading halts (heartbeat_lost); 0: off */
    RL_CONTROL_SET_BREAKER = 13,     /* the circuit breaker (rl_breaker_config_t): value = cooldown_ns, qty =
                                        max_cooldown_ns, price = window_ns, symbol = escalate_after */
    RL_CONTROL_SET_STRATEGY_LIMITS = 14, /* rl_strategy_limits_t packed: value = orders_per_second |
                                            orders_per_second_per_symbol << 32, qty = order_burst |
                                            cancels_per_second << 32, price = cancel_burst | max_open_orders << 32,
                                            symbol = max_open_orders_per_symbol */
    RL_CONTROL_RATE_EXCEEDED = 15,   /* a strategy kept exceeding its rates: halt (rate_exceeded, transient);
                                        value = the blocks it counted in its window */
    RL_CONTROL_SET_PNL_LIMITS = 16,  /* value = max drawdown USD, qty = daily loss limit USD (fixed point; 0: off),
                                        price = when the day begins, ns after midnight UTC */
    RL_CONTROL_RELEASE_STRATEGY = 17, /* an operator lifts one strategy's own halt: symbol = the strategy
                                         (-ENOENT: not watched, or not halted) */
    RL_CONTROL_FORGET_STRATEGY = 18,  /* the strategy is gone (its router closed): stop watching its
                                         heartbeat, clear its halt; symbol = the strategy */
    RL_CONTROL_SET_FEED_GUARDS = 19, /* value = ns with no reference price for any symbol before trading halts
                                        (stale_data; 0: off; armed by the first mark), qty = ns the journal's
                                        ring may stay 3/4 full before trading halts (journal_backpressure; 0: off) */
    RL_CONTROL_SET_LIMIT_SCALE = 20, /* value = the scale (fixed point, in (0, 1]) every inventory limit and the
                                        book's limit are multiplied by: a tighter window of a time-of-day schedule */
    RL_CONTROL_SET_VOLATILITY_SCALING = 21, /* value = the reference volatility (fixed point; 0: off), qty = the
                                               floor, price = the cap of the scale (fixed point, 0 < floor <= cap
                                               <= 10): a symbol's scale is reference / volatility within them; its
                                               inventory limit is multiplied by it, its collar divided by it */
    RL_CONTROL_STRATEGY_CANCELED = 22, /* a router saw its strategy halted alone and canceled its orders (the
                                          event's strategy; value = rl_engine_strategy_halt_epoch it saw):
                                          only then may the breaker lift that halt */
    RL_CONTROL_STRATEGY_OPENED = 23, /* a router opened with strategy id `symbol`: an earlier router's
                                        closing of that id no longer applies */
    RL_CONTROL_UNRECORDABLE_FILL = 24, /* a router got a fill it cannot put in any position (an order it does
                                          not know, or no price): qty and price as the venue sent them.
                                          The book is unknown: halt (unrecordable_fill, persistent) */
} rl_control_t;

/* What an RL_EVENT_STRATEGY_HALT record says happened to its strategy. */
typedef enum rl_strategy_halt_action {
    RL_STRATEGY_HALTED = 1,    /* halted (transient): its orders are refused, its router cancels them */
    RL_STRATEGY_RESUMED = 2,   /* the circuit breaker lifted it: the cooldown ran and its heartbeat is back */
    RL_STRATEGY_ESCALATED = 3, /* it kept halting: halted until an operator releases it */
    RL_STRATEGY_RELEASED = 4,  /* an operator released it */
} rl_strategy_halt_action_t;

/* The field an RL_CONTROL_STAGE_ORDER_RULE sets (rl_order_rules_t). */
typedef enum rl_rule_field {
    RL_RULE_FIELD_MAX_ORDER_QTY = 0,
    RL_RULE_FIELD_MAX_ORDER_NOTIONAL = 1,
    RL_RULE_FIELD_COLLAR_BPS = 2,
    RL_RULE_FIELD_STALE_AFTER_NS = 3,
    RL_RULE_FIELD_FLAGS = 4,
    RL_RULE_FIELD_MAX_WORKING_ORDERS = 5,
} rl_rule_field_t;

typedef struct rl_event {
    uint8_t type;          /* rl_event_type_t */
    uint8_t side;          /* rl_side_t, where the type has one */
    uint16_t strategy;     /* who made it (RTS 6 attribution): the router's session, its order-id prefix;
                              0: the engine, an operator or a feed */
    uint32_t symbol;       /* dense symbol id from the registry */
    uint64_t order_id;
    int64_t qty;           /* fixed point, RL_FP_SCALE */
    int64_t price;         /* fixed point, RL_FP_SCALE */
    int64_t value;         /* per type; edge bps for RL_EVENT_EDGE_UPDATE */
    uint64_t timestamp_ns;
} rl_event_t;

RL_STATIC_ASSERT(sizeof(rl_event_t) == 48, "events are 48 bytes: four per three cache lines");

RL_EXTERN_C_END

#endif /* RL_EVENTS_H */
