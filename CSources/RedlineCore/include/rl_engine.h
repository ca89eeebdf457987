/*
 * rl_engine.h - the risk engine: symbols, position table, freeze word, and the
 * risk side's step and controller.
 *
 *   strategy --rl_engine_reserve--> (check + reserve in the table) --> router
 *   gateway/strategy --rl_event_t--> SPSC ring --rl_engine_step--> table, controller --> freeze word
 *
 * The risk side is whoever runs rl_engine_step: the orchestrator's drain()
 * in single-threaded use, or the pinned risk thread. It is one thread at a
 * time. It alone lowers exposure (releases, fills, marks), grants overlap
 * credit, and runs the trading-state controller (rl_trading.h), which
 * writes the freeze word. The one exception is a halt: any thread may halt
 * at once (rl_engine_halt_now), and the controller takes it in at its next
 * step. Operators reach the controller through RL_EVENT_CONTROL events on a
 * ring.
 */
#ifndef RL_ENGINE_H
#define RL_ENGINE_H

#include "rl_platform.h"
#include "rl_result.h"
#include "rl_fixed.h"
#include "rl_freeze.h"
#include "rl_trading.h"
#include "rl_events.h"
#include "rl_spsc.h"
#include "rl_symbols.h"
#include "rl_position_table.h"
#include "rl_pnl.h"
#include "rl_breaker.h"
#include "rl_clock.h"
#include <string.h>

RL_EXTERN_C_BEGIN

typedef struct rl_engine_config {
    uint32_t symbol_capacity;           /* 0 means RL_SYMBOLS_DEFAULT_CAPACITY */
    int64_t default_symbol_limit;       /* maxInventoryUSD, fixed point */
    int64_t max_total;                  /* maxTotalNotional, fixed point */
    int64_t edge_freeze_threshold_bps;  /* edgeFreezeThresholdBps, fixed point */
    int64_t resume_share;               /* leave REDUCING under this share of every limit; fixed point; 0: 0.95 */
    uint32_t manual_clock;              /* 1: the engine's clock (staleness) is manual, moved by rl_engine_set_clock
                                           in nanoseconds (tests, replays); 0: the TSC */
    uint32_t reserved;                  /* 0 */
} rl_engine_config_t;

#define RL_DEFAULT_RESUME_SHARE (95 * RL_FP_SCALE / 100)

/* What is wrong with a set of limits; the one rule, for C and Swift alike. */
typedef enum rl_limits_problem {
    RL_LIMITS_OK = 0,
    RL_LIMITS_SYMBOL_RANGE = 1,      /* a symbol limit is <= 0 or above RL_FP_MAX_LIMIT */
    RL_LIMITS_TOTAL_RANGE = 2,       /* maxTotalNotional is <= 0 or above RL_FP_MAX_LIMIT */
    RL_LIMITS_SYMBOL_ABOVE_TOTAL = 3,/* a symbol limit is above maxTotalNotional */
    RL_LIMITS_THRESHOLD_RANGE = 4,   /* the edge threshold is beyond +-RL_FP_MAX_LIMIT */
    RL_LIMITS_RESUME_RANGE = 5,      /* the resume share is not in (0, 1] */
} rl_limits_problem_t;

/* Check one symbol limit against the book limit, and the engine-wide values.
 * Pass the default symbol limit, then each override, with the same others. */
rl_limits_problem_t rl_limits_check(int64_t symbol_limit, int64_t max_total, int64_t edge_threshold_bps,
                                    int64_t resume_share);

/* Kinds of impossible venue events: more released or filled than was working. */
typedef enum rl_anomaly {
    RL_ANOMALY_FILL = 0,     /* a fill beyond what was working: the position still moves (the venue is the truth) */
    RL_ANOMALY_CANCEL = 1,   /* a cancel ack beyond what was working: clamped */
    RL_ANOMALY_REJECT = 2,   /* a reject beyond what was working: clamped */
    RL_ANOMALY_EXPIRE = 3,   /* an expiry beyond what was working: clamped */
} rl_anomaly_t;

#define RL_ANOMALY_COUNT 4

/* What one rl_engine_step call did. */
typedef struct rl_step_result {
    uint64_t applied;          /* events consumed */
    uint64_t invalid;          /* events skipped: unknown symbol, bad type, overflow */
    uint64_t state_changes;    /* trading-state changes the controller published */
    uint64_t last_word;        /* the freeze word the risk side last made visible or took in (its own
                                  copy: loading the shared word at every step made each halter's CAS
                                  wait for this core) */
    uint64_t yielded;          /* 1: rl_engine_step_yielding stopped early for a knock (see rl_engine_knock) */
} rl_step_result_t;

/* The per-strategy dead-man (risk side only). A HEARTBEAT that names a
 * strategy (rl_event_t.strategy != 0) arms a watch for it; a strategy silent
 * for longer than the heartbeat timeout is halted alone: its bit in the
 * engine's halt bits is set, so its checks are refused
 * (RL_REJECT_STRATEGY_HALTED) and its router cancels its orders, while every
 * other strategy trades on. This is transient: each watch has its own
 * circuit breaker (the engine's settings), which lifts the halt once the
 * cooldown has run, a heartbeat came back within the timeout, and the
 * strategy's router said it canceled its orders (RL_CONTROL_STRATEGY_CANCELED,
 * after it saw the halt: a strategy whose thread stalls past its cooldown
 * still cancels before it trades again); repeats double the cooldown
 * and the Nth escalates to a halt only an operator releases
 * (RL_CONTROL_RELEASE_STRATEGY). Every step is an RL_EVENT_STRATEGY_HALT
 * record. A HEARTBEAT with no strategy (0) is the engine's own dead-man:
 * silence halts all trading (heartbeat_lost). */
#define RL_STRATEGY_WATCHES 64          /* strategies watched at once; one more is halted at once (fail closed) */
#define RL_STRATEGY_HALT_WORDS 1024     /* 65,536 strategy ids, one bit each */

typedef enum rl_strategy_watch_state {
    RL_WATCH_FREE = 0,
    RL_WATCH_LIVE = 1,
    RL_WATCH_HALTED = 2,        /* transient: the breaker lifts it */
    RL_WATCH_ESCALATED = 3,     /* an operator releases it */
} rl_strategy_watch_state_t;

typedef struct rl_strategy_watch {
    uint64_t last_heartbeat_ns; /* engine clock of its last HEARTBEAT */
    uint64_t halted_at_ns;      /* engine clock of its halt */
    rl_breaker_t breaker;       /* its own streak; config = the engine's breaker settings */
    uint16_t strategy;
    uint8_t state;              /* rl_strategy_watch_state_t */
    uint8_t canceled;           /* its router said it canceled its orders after this halt (RL_CONTROL_STRATEGY_CANCELED) */
    uint8_t reserved[4];
} rl_strategy_watch_t;

typedef struct rl_engine {
    rl_freeze_t freeze;
    /* Written by the risk side only. */
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(uint64_t) applied[RL_EVENT_TYPE_COUNT];
    _Atomic(uint64_t) invalid_events;
    _Atomic(uint64_t) anomalies[RL_ANOMALY_COUNT];
    _Atomic(uint64_t) state_changes;
    _Atomic(uint64_t) state_records_dropped; /* the orchestrator's record ring was full */
    _Atomic(uint64_t) halt_causes_unattributed; /* outside halts recorded with their reason alone: the
                                                winner's cause was not written in time */
    _Atomic(uint64_t) journal_unrecorded;    /* events applied while the journal was failing and full:
                                                not on disk, so the journal is incomplete until restart */
    _Atomic(int64_t) last_edge_bps;
    _Atomic(uint64_t) last_heartbeat_ns;     /* the engine's clock (ns) when the last HEARTBEAT was applied; 0: none yet */
    _Atomic(uint64_t) breaker_trips[32];     /* circuit-breaker trips by rl_freeze_reason_t */
    _Atomic(uint64_t) breaker_escalations;
    _Atomic(uint64_t) breaker_cooldown_ns;   /* the cooldown of the last trip; 0 while nothing waits to lift */
    _Atomic(int64_t) pnl_published[4];       /* realized, unrealized, equity, peak (USD), for metrics */
    _Atomic(uint64_t) last_request_id;       /* order_id of the last CONTROL or POSITION_ADJUST applied */
    _Atomic(int32_t) last_request_result;    /* 0, -EINVAL, -ENOENT, or -rl_result_t of that request */
    _Atomic(uint64_t) requests_withdrawn;    /* requests skipped: their requester withdrew them (rl_engine_withdraw_request) */
    /* The request its requester waits for: its id while pending, id |
     * RL_REQUEST_TAKEN_BIT once the risk side took it, 0 once withdrawn.
     * Written by the requester and the risk side (CAS), rarely: one at a time. */
    _Atomic(uint64_t) request_claim;
    uint32_t over_count;                     /* symbols flagged over their limit */
    int64_t owed;                            /* refunds deferred to the end of a step: the total
                                                over-counts by this much meanwhile (never under) */
    rl_trading_t trading;                    /* the controller's machine */
    rl_breaker_t breaker;                    /* lifts transient halts after a cooldown (rl_breaker.h) */
    uint16_t applying_strategy;              /* the strategy of the event being applied (its state changes say it) */
    rl_pnl_symbol_t *pnl;                    /* per symbol (rl_pnl.h) */
    rl_pnl_book_t book_pnl;
    /* Dynamic limits: what an operator set, and the scales on it. In force:
     * min(base x schedule x volatility scale, the book's limit in force). */
    int64_t *base_limit;                     /* per symbol: maxInventoryUSD as set */
    int64_t *vol_scale;                      /* per symbol: fixed point (RL_FP_SCALE = 1) */
    int64_t *vol_last;                       /* per symbol: the last volatility reported, 0: none */
    int64_t base_max_total;                  /* maxTotalNotional as set */
    int64_t schedule_scale;                  /* fixed point, (0, 1]: a time-of-day window's */
    int64_t vol_reference, vol_floor, vol_cap; /* fixed point; reference 0: off */
    int64_t max_drawdown;                    /* USD, 0: off */
    int64_t daily_loss_limit;                /* USD, 0: off */
    int64_t day_begins_ns;                   /* after midnight UTC */
    bool replaying;                          /* recovery: apply, never decide */
    uint8_t *over;                           /* per symbol: over its limit (cleared under the resume share) */
    rl_order_rules_t *rules_staged;          /* capacity + 1 (the last: the defaults): what the next publish puts in force */
    rl_order_rules_t *rules_in_force;        /* capacity + 1: what the last publish put in force */
    double cycles_per_ns;                    /* TSC rate, for the staleness bound */
    rl_strategy_limits_t strategy_limits;    /* in force (rl_strategy.h) */
    uint64_t last_mark_ns;                   /* engine clock of the newest reference price; 0: none yet */
    uint64_t heartbeats_seen;                /* heartbeats the risk side has stamped */
    uint64_t freeze_requests_seen;           /* freeze_requests the risk side has acted on */
    _Atomic(uint64_t) freeze_requests_recorded; /* freeze_requests_seen, stored after the halt's record (if one was
                                                made) is in the state ring: rl_engine_freeze_requests_recorded */
    uint64_t halt_requests_seen;             /* halt_requests the risk side has taken in */
    bool knock_taken;                        /* rl_engine_take_knock took one since the last look for outside halts */
    uint32_t ticks_since_halt_look;          /* a look every RL_ENGINE_HALT_LOOK_TICKS ticks, knock or not */
    uint64_t published;                      /* the last freeze word the controller made visible (its own or
                                                one it took in): any other word is an outside halt's */
    uint64_t marked_word;                    /* the word an unfreeze's lifting mark last renamed (HALTED, so
                                                never 0; 0: none yet): its epoch is the mark's */
    uint64_t backlog_since_ns;               /* engine clock since which the journal ring is 3/4 full; 0: it is not */
    int32_t journal_stalled;                 /* rl_journal_stalled at the last look (-ETIMEDOUT or 0) */
    uint32_t stall_look_countdown;           /* steps until the next look (the look reads the clock) */
    uint32_t watch_count;                    /* watches[0..watch_count) may be in use */
    _Atomic(uint32_t) strategies_halted;     /* strategies halted alone now (metrics) */
    rl_strategy_watch_t watches[RL_STRATEGY_WATCHES];
    _Atomic(uint64_t) *strategy_halts;       /* RL_STRATEGY_HALT_WORDS words, one bit per strategy; read by
                                                every router's check, written by the risk side alone */
    _Atomic(uint32_t) *strategy_halt_epoch;  /* 65,536: +1 at each halt of the strategy, so its router knows a
                                                new halt from the one it already answered (risk side writes) */
    uint64_t *strategy_closed;               /* RL_STRATEGY_HALT_WORDS words: strategies whose router closed
                                                (a heartbeat still in a ring arms nothing); risk side only */
    rl_order_rules_t *rules_publishing;      /* capacity + 1: what a publish writes, the collars scaled */
    _Atomic(bool) rules_in_use;              /* some per-order rule is set: new symbols start restricted */
    /* Configuration: written by the controller (or setup), read by the step. */
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(int64_t) edge_freeze_threshold_bps;
    _Atomic(int64_t) resume_share;
    _Atomic(uint64_t) heartbeat_timeout_ns;  /* halt (heartbeat_lost) when no HEARTBEAT for this long; 0: off */
    _Atomic(uint64_t) stale_data_ns;         /* halt (stale_data) when no mark for any symbol for this long; 0: off */
    _Atomic(uint64_t) backpressure_ns;       /* halt (journal_backpressure) when the journal ring stays 3/4 full this long */
    /* The orchestrator's heartbeats (rl_engine_heartbeat): any thread adds
     * one, and the risk side's next tick stamps last_heartbeat_ns, as it does
     * for a HEARTBEAT event. Its own line: written at every heartbeat, by
     * threads other than the risk side. */
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(uint64_t) heartbeats;
    uint8_t heartbeats_padding[RL_CACHE_LINE - sizeof(uint64_t)];
    /* Freezes asked for from anywhere (rl_engine_request_freeze): any thread
     * adds one, the risk side acts on a change. Its own line: the writers are
     * not the risk side. */
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(uint64_t) freeze_requests;
    /* Set (rl_engine_knock) after a push onto a lane (rl_runtime.h) or a
     * freeze request: a risk step that may yield (rl_engine_step_yielding)
     * loads it once per event and returns early when it is set, so that the
     * lanes are served within one event, not one batch. Each tick loads it
     * too: a halter knocks after its count (rl_engine_take_in_halt). Same
     * line as freeze_requests: both written rarely, by threads other than
     * the risk side. */
    _Atomic(uint64_t) lane_doorbell;
    uint8_t freeze_requests_padding[RL_CACHE_LINE - 2 * sizeof(uint64_t)];
    /* A halt's cause, for the record (reason | strategy << 8, and the value:
     * an edge in bps). Written by the halting thread, read by the risk side
     * only when it takes a halt in (after a knock, see rl_engine_take_in_halt),
     * so at a halt this line is the halter's, unless the controller has
     * published or taken a halt in since (it stamps state_published_cycles
     * and reads the cause here): then the first store takes it back once.
     * Apart from the line above, which the risk side loads at every event.
     * halt_requests and the measurement stamp share it, so the locked add
     * after the word waits for no other core. On a line of its own, or the
     * doorbell's, that add waited for the risk side at every halt (under
     * load: word -> the router's next order +300-400 ns at p50); loaded here
     * at every tick, the first stores waited for it (with the per-step load
     * of the freeze word, also gone: FreezePropagation p50 270-330 ns
     * before, 151 ns after, 230 ns with this change alone). */
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(uint64_t) halt_cause;
    _Atomic(int64_t) halt_value;
    _Atomic(int64_t) halt_qty; /* an unrecordable fill's quantity; 0 for the other reasons */
    /* The halt that won its word, written by the winner after its CAS: the
     * value and quantity, then the tag (its epoch << 24 | strategy << 8 |
     * reason), which publishes them. Each word has one winner, so the
     * controller reads them as a set when the tag is the same before and after. */
    _Atomic(int64_t) halt_detail_value;
    _Atomic(int64_t) halt_detail_qty;
    _Atomic(uint64_t) halt_detail_tag;
    /* Halts made outside the controller (rl_engine_halt_now): +1 after
     * each, then a knock, so the risk side's next tick takes it in. */
    _Atomic(uint64_t) halt_requests;
    /* rl_clock_cycles() when the last freeze word was stored (measurements).
     * Here, not among the risk side's counters: a halter stamps it before
     * its locked add, which would wait for that line. */
    _Atomic(uint64_t) state_published_cycles;
    int64_t default_symbol_limit;
    rl_position_table_t *table;
    rl_symbol_registry_t *symbols;
    rl_spsc_t *journal;  /* where the step hands state changes to the journal writer; NULL: none */
    struct rl_journal *journal_writer; /* its writer, whose failures halt trading; NULL: none */
    rl_spsc_t *states;   /* where the controller records trading-state changes for the orchestrator */
    rl_spsc_t *request_ring; /* the ring whose requests may be withdrawn (rl_engine_set_request_ring); NULL: none */
} rl_engine_t;

RL_STATIC_ASSERT(offsetof(rl_engine_t, applied) % RL_CACHE_LINE == 0, "risk-side stats start a line");
RL_STATIC_ASSERT(offsetof(rl_engine_t, edge_freeze_threshold_bps) % RL_CACHE_LINE == 0, "config starts a line");
RL_STATIC_ASSERT(offsetof(rl_engine_t, heartbeats) % RL_CACHE_LINE == 0 &&
                     offsetof(rl_engine_t, freeze_requests) - offsetof(rl_engine_t, heartbeats) == RL_CACHE_LINE,
                 "the heartbeats' line holds nothing else");
RL_STATIC_ASSERT(offsetof(rl_engine_t, freeze_requests) % RL_CACHE_LINE == 0 &&
                     offsetof(rl_engine_t, halt_cause) - offsetof(rl_engine_t, freeze_requests) == RL_CACHE_LINE,
                 "freeze requests, written by any thread, own a line");
RL_STATIC_ASSERT(offsetof(rl_engine_t, halt_cause) % RL_CACHE_LINE == 0 &&
                     offsetof(rl_engine_t, default_symbol_limit) - offsetof(rl_engine_t, halt_cause) == RL_CACHE_LINE,
                 "a halt's cause, written by the halting thread, owns a line");

/* Returns 0, -EINVAL (rl_limits_check fails) or -ENOMEM. */
/* A fresh engine has every per-order rule off (rl_order_rules.h). */
int rl_engine_create(const rl_engine_config_t *config, rl_engine_t **out);
/* As rl_engine_create, with the engine and its table on NUMA `node` (< 0: any):
 * the node of the CPU the risk thread will run on. */
int rl_engine_create_on_node(const rl_engine_config_t *config, int node, rl_engine_t **out);
void rl_engine_destroy(rl_engine_t *engine);

/* Register `name` with its own limit (fixed point), or, when 0, the default
 * capped at the book's limit in force. While per-order rules are in use, the
 * new symbol is restricted until the next publish of the rules gives it its
 * own (rl_engine_set_order_rules, or RL_CONTROL_PUBLISH_ORDER_RULES).
 * Returns the id, or -EINVAL (bad name, limit out of range or above the
 * book's), -EEXIST, -ENOSPC. Setup: before the risk side runs, or from the
 * thread that owns registration. */
int64_t rl_engine_add_symbol(rl_engine_t *engine, const char *name, int64_t limit);
int64_t rl_engine_symbol_id(const rl_engine_t *engine, const char *name); /* id or -ENOENT */
const char *rl_engine_symbol_name(const rl_engine_t *engine, uint32_t id);
uint32_t rl_engine_symbol_count(const rl_engine_t *engine);

/* Before the risk side starts: hand every state change the step applies to
 * `journal_ring` (rl_journal_hot_ring), NULL to stop. When that ring is full
 * the step stops consuming its input until there is room: nothing is lost. */
void rl_engine_attach_journal(rl_engine_t *engine, rl_spsc_t *journal_ring);

/* Before the risk side starts: journal to `writer` (its hot ring), and fail
 * closed when it fails. From the first step that sees the writer's error
 * (rl_journal_error), or its commit stalled (rl_journal_stalled: -RL_JOURNAL_STALLED,
 * looked at every RL_ENGINE_STALL_LOOK_STEPS steps and at each unfreeze;
 * a stall alone keeps the backpressure below, so nothing goes unrecorded),
 * until the writer succeeds again, trading is HALTED with
 * reason RL_FREEZE_REASON_JOURNAL_FAILURE, and an unfreeze is refused with
 * the writer's -errno. Meanwhile the step keeps applying events (so cancels
 * and fills still reach the positions, and no router waits forever) and
 * journals what fits in the ring; what does not fit is counted in
 * journal_unrecorded, and once any is, trading stays HALTED for the life of
 * the process: its journal has a hole that only a restart and reconciliation
 * with the venue can close. NULL to stop. */
#define RL_ENGINE_STALL_LOOK_STEPS 64
struct rl_journal;
void rl_engine_attach_journal_writer(rl_engine_t *engine, struct rl_journal *writer);

/* Events the step could not journal while the journal was failing. */
RL_INLINE uint64_t rl_engine_journal_unrecorded(const rl_engine_t *engine) {
    /* relaxed: a statistic with a single writer (the risk side). */
    return atomic_load_explicit((_Atomic(uint64_t) *)&engine->journal_unrecorded, memory_order_relaxed);
}

/* The ring of RL_EVENT_STATE_CHANGE records the controller writes (one per
 * published change), for the orchestrator's history. Single consumer. */
RL_INLINE rl_spsc_t *rl_engine_state_ring(rl_engine_t *engine) { return engine->states; }

/* Apply one operator request now, as the risk side would on an
 * RL_EVENT_CONTROL event. Only while no risk side runs (setup, recovery,
 * tests): with one running, push the event into a ring instead.
 * Returns 0, -EINVAL (bad value), -ENOENT (unknown symbol), or for a lift
 * -ECANCELED (a halt landed while it was published, or a book no longer
 * known came in as it was taken in (unrecordable_fill): it stands). */
int rl_engine_apply_control(rl_engine_t *engine, rl_control_t control, uint32_t symbol, int64_t value,
                            uint64_t request_id);

/* One symbol's per-order rules (symbol < count; RL_SYMBOL_NONE: the defaults
 * a newly registered symbol takes), applied now and in force on return.
 * Only while no risk side runs, as rl_engine_apply_control; with one
 * running, push RL_CONTROL_STAGE_ORDER_RULE events for each field and then
 * one RL_CONTROL_PUBLISH_ORDER_RULES. Returns 0, -EINVAL
 * (rl_order_rules_validate fails) or -ENOENT (unknown symbol). */
int rl_engine_set_order_rules(rl_engine_t *engine, uint32_t symbol, const rl_order_rules_t *rules);

/* The per-order rules in force for `symbol` (RL_SYMBOL_NONE: the defaults).
 * From the risk side, or while none runs. Returns 0 or -ENOENT. */
int rl_engine_order_rules(const rl_engine_t *engine, uint32_t symbol, rl_order_rules_t *out);

/* Recovery: a snapshot's position for `symbol` (rl_position_table_restore),
 * its P&L starting at the mark (average cost = mark). 0 or -EINVAL. */
int rl_engine_restore_position(rl_engine_t *engine, uint32_t symbol, const rl_position_view_t *state);

/* Realized, unrealized, equity and its peak, USD fixed point (any thread; a recent value). */
typedef enum rl_pnl_figure { RL_PNL_REALIZED = 0, RL_PNL_UNREALIZED = 1, RL_PNL_EQUITY = 2, RL_PNL_PEAK = 3 } rl_pnl_figure_t;
RL_INLINE int64_t rl_engine_pnl(const rl_engine_t *engine, rl_pnl_figure_t figure) {
    /* relaxed: monitoring read of single-writer values. */
    return atomic_load_explicit((_Atomic(int64_t) *)&engine->pnl_published[figure & 3], memory_order_relaxed);
}

/* The inventory limit in force for `symbol` (fixed point), after the
 * time-of-day and volatility scales; the scale (fixed point) the volatility
 * puts on it. From the risk side, or while none runs. */
int64_t rl_engine_symbol_limit_in_force(const rl_engine_t *engine, uint32_t symbol);
int64_t rl_engine_volatility_scale(const rl_engine_t *engine, uint32_t symbol);

/* `symbol`'s realized or unrealized P&L (RL_PNL_REALIZED, RL_PNL_UNREALIZED),
 * USD fixed point; the book's figures are their sums (rl_engine_pnl). Any
 * thread; a recent value. 0 for an unknown symbol. */
RL_INLINE int64_t rl_engine_symbol_pnl(const rl_engine_t *engine, uint32_t symbol, rl_pnl_figure_t figure) {
    if (symbol >= rl_position_table_count(engine->table)) return 0;
    const rl_position_risk_t *risk = &engine->table->risk[symbol];
    /* relaxed: monitoring read of single-writer values. */
    return atomic_load_explicit((_Atomic(int64_t) *)(figure == RL_PNL_REALIZED ? &risk->realized : &risk->unrealized),
                                memory_order_relaxed);
}

/* The engine's clock in nanoseconds: the TSC converted, or the manual clock. */
uint64_t rl_engine_now_ns(const rl_engine_t *engine);

/* Every strategy's rate and open-order limits (rl_strategy.h), in force on
 * return. Only while no risk side runs; with one running, push
 * RL_CONTROL_SET_STRATEGY_LIMITS. Returns 0 or -EINVAL. */
int rl_engine_set_strategy_limits(rl_engine_t *engine, const rl_strategy_limits_t *limits);

/* The circuit breaker's settings (rl_breaker.h), applied now. Only while no
 * risk side runs; with one running, push RL_CONTROL_SET_BREAKER. Returns 0
 * or -EINVAL. */
int rl_engine_set_breaker(rl_engine_t *engine, const rl_breaker_config_t *config);

/* Risk side (also called by every rl_engine_step): act on the engine's clock,
 * lifting a transient halt whose cooldown ran out, and halting on a lost
 * heartbeat. */
void rl_engine_tick(rl_engine_t *engine);

/* Bind a router's strategy state to its strategy id (its order-id session),
 * so that its checks see the strategy's own halt. Setup, from the router's
 * thread, before its first check. */
RL_INLINE void rl_engine_bind_strategy(rl_engine_t *engine, rl_strategy_t *strategy, uint16_t id) {
    strategy->halt_word = &engine->strategy_halts[id >> 6];
    strategy->halt_mask = 1ull << (id & 63);
}

/* Is strategy `id` halted alone now? Any thread. */
RL_INLINE bool rl_engine_strategy_halted(const rl_engine_t *engine, uint16_t id) {
    /* acquire: pairs with the release store in rl_engine_set_strategy_halt. */
    return (atomic_load_explicit(&engine->strategy_halts[id >> 6], memory_order_acquire) >> (id & 63)) & 1;
}

/* The number of times strategy `id` was halted alone: a router that canceled
 * after seeing halt N answers RL_CONTROL_STRATEGY_CANCELED with value N. */
RL_INLINE uint32_t rl_engine_strategy_halt_epoch(const rl_engine_t *engine, uint16_t id) {
    /* acquire: pairs with the release store in the halt, before the halt bit's. */
    return atomic_load_explicit(&engine->strategy_halt_epoch[id], memory_order_acquire);
}

/* Strategies halted alone now (metrics; a recent value). */
RL_INLINE uint32_t rl_engine_strategies_halted(const rl_engine_t *engine) {
    /* relaxed: monitoring read of a single-writer counter. */
    return atomic_load_explicit((_Atomic(uint32_t) *)&engine->strategies_halted, memory_order_relaxed);
}

/* Outside halts (rl_engine_halt_now) are looked for at the tick after each
 * knock, and at least once in this many risk-side ticks (and controls that
 * take in first, which count with them). */
#define RL_ENGINE_HALT_LOOK_TICKS 1024

/* After pushing onto a lane (or asking for a freeze): the risk thread stops
 * the data ring it is stepping through and serves the lanes. Any thread.
 * A plain store, not a locked add: the risk thread reads this line at every
 * event, and a locked RMW here would stall the producer (measured: 1-3 us
 * under load) where a store retires at once. */
RL_INLINE void rl_engine_knock(rl_engine_t *engine) {
    /* release: pairs with the acquire exchange in rl_engine_take_knock; the
     * lane's event (its tail store) is visible to whoever takes the knock. */
    atomic_store_explicit(&engine->lane_doorbell, 1, memory_order_release);
}

/* Risk side: has anyone knocked since the last rl_engine_take_knock? */
RL_INLINE bool rl_engine_knocked(const rl_engine_t *engine) {
    /* relaxed: a hint to stop; rl_engine_take_knock orders what follows. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&engine->lane_doorbell, memory_order_relaxed) != 0;
}

/* Risk side, before serving the lanes: clear the knock. An exchange, so a
 * knock that lands meanwhile is either taken here (and its event is seen by
 * the lane scan that follows) or left set for the next check. A knock may
 * be a halter's (rl_engine_halt_now knocks after its count), so the next
 * tick looks for outside halts. */
RL_INLINE void rl_engine_take_knock(rl_engine_t *engine) {
    if (rl_engine_knocked(engine)) {
        /* acquire: pairs with rl_engine_knock's release store. */
        (void)atomic_exchange_explicit(&engine->lane_doorbell, 0, memory_order_acquire);
        engine->knock_taken = true;
    }
}

/* A halt's cause, as the risk side records it: its reason and the strategy
 * that made it (0: none). The tag adds the epoch of the word the halt won
 * (its low 40 bits), so the risk side can tell the winner's cause from a
 * loser's. One layout, written by rl_engine_halt_now, read by the risk side. */
RL_INLINE uint64_t rl_halt_cause_pack(rl_freeze_reason_t reason, uint16_t strategy) {
    return (uint64_t)reason | ((uint64_t)strategy << 8);
}
RL_INLINE rl_freeze_reason_t rl_halt_cause_reason(uint64_t cause) { return (rl_freeze_reason_t)(cause & 0xff); }
RL_INLINE uint16_t rl_halt_cause_strategy(uint64_t cause) { return (uint16_t)(cause >> 8); }
RL_INLINE uint64_t rl_halt_tag_pack(uint64_t word, rl_freeze_reason_t reason, uint16_t strategy) {
    return (rl_freeze_word_epoch(word) << 24) | rl_halt_cause_pack(reason, strategy);
}
/* Whether `tag` is the cause of the halt that made `word`. */
RL_INLINE bool rl_halt_tag_names(uint64_t tag, uint64_t word) {
    return (tag >> 24) == (rl_freeze_word_epoch(word) & ((1ull << 40) - 1)) &&
           rl_halt_cause_reason(tag) == rl_freeze_word_reason(word);
}
RL_INLINE uint64_t rl_halt_tag_cause(uint64_t tag) { return tag & 0xffffff; }

/* Halt trading now, from any thread, without waiting for the risk side:
 * the strategy that sees its edge collapse (OrderRouter.reportEdge), the
 * kill switch (rl_engine_request_freeze), or a router given a fill no
 * position can take (rl_engine_halt_unrecordable_fill). `reason` is
 * RL_FREEZE_REASON_EDGE_COLLAPSE or RL_FREEZE_REASON_UNRECORDABLE; any
 * other value halts as RL_FREEZE_REASON_MANUAL (fail closed). `qty` is
 * recorded with an unrecordable fill's halt (its quantity; `value` its
 * price), 0 for the others. Lock-free, no syscall, async-signal-safe.
 *
 * 1. It reads the freeze word. HALTED for a persistent reason: nothing to
 *    add.
 * 2. The book word: from here every raising check decides in HALTED, and a
 *    check that read it before fails its CAS.
 * 3. The freeze word, HALTED for this reason with a new epoch, by CAS from
 *    the word read in step 1: every router sees it at its next poll and
 *    cancels everything. The CAS succeeds only if the controller published
 *    nothing since, so the request of step 2 is still in the book (only the
 *    controller clears it, and only after a publish): the book holds every
 *    halt a router can see. On a failed CAS, back to step 1.
 *    A word HALTED for a transient reason (heartbeat lost, rates, stale
 *    data, journal backpressure) is stored over the same way: the halt is
 *    persistent from here, and a breaker lift racing it fails its own CAS
 *    on this word (its book step is held by the request of step 2). So the
 *    word shows HALTED from the moment this returns until an operator lifts
 *    it, and reducing orders, which look at the word alone, stop too.
 * 4. The risk side's next step takes the halt in: its machine goes HALTED,
 *    the change is recorded and journaled with this call's cause (the
 *    winner's, written after its CAS), and only then is the request cleared.
 *
 * Returns the HALTED word this call made visible, 0 when it made none (it
 * was HALTED for a persistent reason already). The protocol is
 * model-checked in model/halt.pml. */
RL_INLINE uint64_t rl_engine_halt_now_detailed(rl_engine_t *engine, rl_freeze_reason_t reason, uint16_t strategy,
                                               int64_t qty, int64_t value) {
    if (reason != RL_FREEZE_REASON_EDGE_COLLAPSE && reason != RL_FREEZE_REASON_UNRECORDABLE) {
        reason = RL_FREEZE_REASON_MANUAL;
    }
    if (reason != RL_FREEZE_REASON_UNRECORDABLE) qty = 0;
    /* The three lines written below, fetched for writing at once: under load
     * each is another core's, and one after the other their misses add up. */
    rl_prefetch_for_write(&engine->halt_cause);
    rl_prefetch_for_write(&engine->table->book);
    rl_prefetch_for_write(&engine->freeze.word);
    uint64_t word = rl_freeze_load(&engine->freeze), made = 0;
    for (;;) {
        if (rl_freeze_word_state(word) == RL_STATE_HALTED &&
            rl_freeze_reason_class(rl_freeze_word_reason(word)) != RL_REASON_CLASS_TRANSIENT) {
            break; /* HALTED for a persistent reason: nothing to add */
        }
        /* relaxed, both: the cause of a request taken in before its word
         * shows (rare); the book request's OR publishes them. */
        atomic_store_explicit(&engine->halt_cause, rl_halt_cause_pack(reason, strategy), memory_order_relaxed);
        atomic_store_explicit(&engine->halt_value, value, memory_order_relaxed);
        atomic_store_explicit(&engine->halt_qty, qty, memory_order_relaxed);
        rl_position_table_request_halt(engine->table);
        uint64_t next = rl_freeze_pack(RL_STATE_HALTED, reason, rl_freeze_word_epoch(word) + 1);
        /* release: pairs with rl_freeze_load's acquire in routers and checkers
         * (the book request is visible first); acquire on failure: pairs with
         * the controller's release, the word tried again from. */
        if (atomic_compare_exchange_weak_explicit(&engine->freeze.word, &word, next, memory_order_release,
                                                  memory_order_acquire)) {
            made = next;
            break;
        }
    }
    if (made != 0) {
        RL_HOOK("halt:after_cas");
        /* relaxed: a measurement (rl_engine_state_published_cycles). */
        atomic_store_explicit(&engine->state_published_cycles, rl_clock_cycles(), memory_order_relaxed);
        /* The winner's cause, tagged with its word: the controller records
         * it, and never a loser's or a mix of two. relaxed: published by the
         * tag's release store, which pairs with the controller's acquire load. */
        atomic_store_explicit(&engine->halt_detail_value, value, memory_order_relaxed);
        atomic_store_explicit(&engine->halt_detail_qty, qty, memory_order_relaxed);
        atomic_store_explicit(&engine->halt_detail_tag, rl_halt_tag_pack(made, reason, strategy), memory_order_release);
    }
    /* release: pairs with the acquire load in the risk side's tick: its next
     * step takes in everything above. The knock after it is what makes that
     * tick look (rl_engine_take_in_halt). */
    atomic_fetch_add_explicit(&engine->halt_requests, 1, memory_order_release);
    rl_engine_knock(engine);
    return made;
}

RL_INLINE uint64_t rl_engine_halt_now(rl_engine_t *engine, rl_freeze_reason_t reason, uint16_t strategy,
                                      int64_t value) {
    return rl_engine_halt_now_detailed(engine, reason, strategy, 0, value);
}

/* A router was given a fill no position can take (an order it does not
 * know, or a price it cannot value): what the book holds is no longer known.
 * Halts now (unrecordable_fill, persistent), so that no router accepts an
 * order meanwhile; recorded with `qty` and `price`. Returns the word made, 0
 * when the word was HALTED for a persistent reason already: then the halt
 * may still be in the book as a request (a controller halt landed during
 * this call), but the caller must also send RL_CONTROL_UNRECORDABLE_FILL
 * through its ring, which makes the book's state take over that halt
 * (rl_trading_next) so that it is recorded and seen before any lift. */
RL_INLINE uint64_t rl_engine_halt_unrecordable_fill(rl_engine_t *engine, uint16_t strategy, int64_t qty,
                                                    int64_t price) {
    return rl_engine_halt_now_detailed(engine, RL_FREEZE_REASON_UNRECORDABLE, strategy, qty, price);
}

/* The kill switch from anywhere: any thread, or a signal handler (no lock,
 * no allocation, no system call). Halts at once (rl_engine_halt_now, manual,
 * persistent); the risk side records it as a manual freeze by request, and
 * every router cancels its own orders on its own thread when it next polls. */
/* The orchestrator is alive (RiskLimits.heartbeatTimeoutMilliseconds): any
 * thread, no ring, no lock, no wait. The risk side stamps it with the
 * engine's clock at its next tick, as it stamps a HEARTBEAT event (which a
 * C strategy's ring may still carry); a risk side held up stamps nothing. */
RL_INLINE void rl_engine_heartbeat(rl_engine_t *engine) {
    /* relaxed: a count; the risk side's tick reads it relaxed, and nothing is published with it. */
    atomic_fetch_add_explicit(&engine->heartbeats, 1, memory_order_relaxed);
}

/* rl_engine_request_freeze that says which pull it was: returns its count,
 * which rl_engine_freeze_requests_recorded reaches once the risk side has
 * acted on it (its halt recorded, or found halted already). *made (if not
 * NULL): the word this call made, 0 if the word was HALTED for a persistent
 * reason already. Any thread; no lock, no allocation, no system call. */
RL_INLINE uint64_t rl_engine_request_freeze_counted(rl_engine_t *engine, uint64_t *made) {
    /* seq_cst, the add and the load after it: this side's store-load pair
     * against an unfreeze's (its lifting mark, then its read of this count;
     * rl_engine.c, RL_CONTROL_UNFREEZE). Either the unfreeze sees this pull
     * and is refused, or this load (and so the halt's own read, later in the
     * word's order) sees the mark, which the halt stores over. The add also
     * pairs with the risk step's acquire load of freeze_requests. */
    uint64_t count = atomic_fetch_add_explicit(&engine->freeze_requests, 1, memory_order_seq_cst) + 1;
    (void)atomic_load_explicit(&engine->freeze.word, memory_order_seq_cst);
    uint64_t word = rl_engine_halt_now(engine, RL_FREEZE_REASON_MANUAL, 0, 0);
    if (made != NULL) *made = word;
    return count;
}

/* Kill-switch pulls so far (rl_engine_request_freeze_counted's last count).
 * An unfreeze that carries this + 1 as its value (RL_CONTROL_UNFREEZE) is
 * refused (-ECANCELED) if a pull came after. Any thread. */
RL_INLINE uint64_t rl_engine_freeze_requests(const rl_engine_t *engine) {
    /* acquire: pairs with rl_engine_request_freeze_counted's release add. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&engine->freeze_requests, memory_order_acquire);
}

/* The freeze requests (rl_engine_request_freeze_counted's counts) the risk
 * side has acted on. Any thread. Every state record it made for them is in
 * the state ring (rl_engine_state_ring) before this shows their count. */
RL_INLINE uint64_t rl_engine_freeze_requests_recorded(const rl_engine_t *engine) {
    /* acquire: pairs with the risk side's release store after the record (rl_engine.c). */
    return atomic_load_explicit((_Atomic(uint64_t) *)&engine->freeze_requests_recorded, memory_order_acquire);
}

RL_INLINE void rl_engine_request_freeze(rl_engine_t *engine) {
    (void)rl_engine_request_freeze_counted(engine, NULL);
}

/* Move the engine's manual clock (rl_engine_config_t.manual_clock) to
 * `now_ns`. Any thread. Returns 0, or -EINVAL on an engine with the TSC clock. */
int rl_engine_set_clock(rl_engine_t *engine, uint64_t now_ns);

/* Recovery, single-threaded: apply one journaled event (RL_JREC_EVENT) to the
 * table as the risk step did; a reservation is re-made without limit checks.
 * Returns false for an event that cannot apply (unknown symbol, bad fields). */
bool rl_engine_replay_event(rl_engine_t *engine, const rl_event_t *event);

/* Recovery: set the freeze word as persisted, and the controller with it.
 * Only while no risk side runs. The epoch never goes backwards: a word older
 * than the current one changes nothing and returns false. A halt from
 * outside (rl_engine_halt_now) that lands meanwhile keeps its word: false,
 * and the next step takes it in. */
bool rl_engine_restore_trading(rl_engine_t *engine, uint64_t word);

/* After recovery: evaluate every symbol and the book against the limits, as
 * the risk side does after each event, so that a breach found now enters
 * REDUCING (or is remembered while HALTED). */
void rl_engine_evaluate_limits(rl_engine_t *engine);

/* Risk side: apply up to `max` events from `ring` in one batch.
 * *out is overwritten. Returns the number consumed. */
uint64_t rl_engine_step(rl_engine_t *engine, rl_spsc_t *ring, uint64_t max, rl_step_result_t *out);
/* rl_engine_step that stops early (out->yielded = 1) when someone knocked
 * (rl_engine_knock): the risk thread then serves the lanes, and comes back to
 * this ring. One load per event, from the second on: a step always applies
 * one event, so knocks, however frequent, never starve the ring. */
uint64_t rl_engine_step_yielding(rl_engine_t *engine, rl_spsc_t *ring, uint64_t max, rl_step_result_t *out);

RL_INLINE rl_freeze_t *rl_engine_freeze(rl_engine_t *engine) { return &engine->freeze; }
RL_INLINE rl_position_table_t *rl_engine_table(rl_engine_t *engine) { return engine->table; }

/* The hot path, fixed point: check and, on a pass, reserve. */
RL_INLINE rl_result_t rl_engine_reserve(rl_engine_t *engine, uint32_t symbol, rl_side_t side, int64_t qty,
                                        int64_t price) {
    return rl_position_table_check(engine->table, &engine->freeze, symbol, side, qty, price, true);
}

/* simulateOrder: what rl_engine_reserve would meet now, every rule and limit
 * the order breaks, and the headroom under each; no side effect. Any thread. */
RL_INLINE void rl_engine_simulate(const rl_engine_t *engine, uint32_t symbol, rl_side_t side, int64_t qty,
                                  int64_t price, rl_simulation_t *out) {
    rl_position_table_simulate(engine->table, &engine->freeze, symbol, side, qty, price, out);
}

/* The same for a strategy (a router's, from its thread): its rates and caps too. */
RL_INLINE void rl_engine_simulate_for(const rl_engine_t *engine, const rl_strategy_t *strategy, uint32_t symbol,
                                      rl_side_t side, int64_t qty, int64_t price, rl_simulation_t *out) {
    rl_position_table_simulate_for(engine->table, &engine->freeze, strategy, symbol, side, qty, price, out);
}

/* Map a conversion failure to the reason a check gives for it. */
RL_INLINE rl_result_t rl_engine_conversion_result(rl_fp_status_t status, rl_result_t invalid) {
    return status == RL_FP_OVERFLOW ? RL_REJECT_OVERFLOW : status == RL_FP_IMPRECISE ? RL_REJECT_IMPRECISE : invalid;
}

/* The hot path from doubles: validates, converts (rounding up, see
 * rl_fp_from_double), then checks (commit = false) or checks and reserves
 * (commit = true). On RL_OK, *qty_fp and *price_fp hold the fixed-point
 * values the check used: send exactly those to the venue, and keep them to
 * release the reservation. With a `strategy` (a router's, from its thread
 * only), its rate and open-order limits (rl_strategy.h) apply too; NULL: none. */
RL_INLINE rl_result_t rl_engine_check_for(rl_engine_t *engine, rl_strategy_t *strategy, uint32_t symbol, rl_side_t side,
                                          double qty, double price, bool commit, int64_t *qty_fp, int64_t *price_fp) {
    if (RL_UNLIKELY(rl_freeze_word_state(rl_freeze_load(&engine->freeze)) == RL_STATE_HALTED)) return RL_FROZEN;
    rl_fp_status_t status = rl_fp_from_positive_double(qty, qty_fp);
    if (RL_UNLIKELY(status != RL_FP_OK)) return rl_engine_conversion_result(status, RL_REJECT_INVALID_QTY);
    status = rl_fp_from_positive_double(price, price_fp);
    if (RL_UNLIKELY(status != RL_FP_OK)) return rl_engine_conversion_result(status, RL_REJECT_INVALID_PRICE);
    return rl_position_table_check_for(engine->table, &engine->freeze, strategy, symbol, side, *qty_fp, *price_fp, commit);
}

/* An order rl_engine_reserve (or a check with commit) accepted on `symbol`
 * finished: filled, canceled, rejected or expired. Call it once per order,
 * from the thread that placed it: the symbol's working-order count (the
 * max_working_orders rule) and the strategy's, if any, go down. A router
 * does it itself. */
RL_INLINE void rl_engine_order_done(rl_engine_t *engine, rl_strategy_t *strategy, uint32_t symbol) {
    rl_position_table_order_done(engine->table, strategy, symbol);
}

/* rl_engine_check_for with no strategy. */
RL_INLINE rl_result_t rl_engine_check_f64(rl_engine_t *engine, uint32_t symbol, rl_side_t side, double qty,
                                          double price, bool commit, int64_t *qty_fp, int64_t *price_fp) {
    return rl_engine_check_for(engine, NULL, symbol, side, qty, price, commit, qty_fp, price_fp);
}

/* Risk-side statistics, for metrics. */
RL_INLINE uint64_t rl_engine_applied_count(const rl_engine_t *engine, rl_event_type_t type) {
    /* relaxed: monitoring read of a single-writer counter. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&engine->applied[type], memory_order_relaxed);
}
RL_INLINE uint64_t rl_engine_invalid_count(const rl_engine_t *engine) {
    /* relaxed: monitoring read of a single-writer counter. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&engine->invalid_events, memory_order_relaxed);
}
RL_INLINE uint64_t rl_engine_anomaly_count(const rl_engine_t *engine, rl_anomaly_t kind) {
    /* relaxed: monitoring read of a single-writer counter. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&engine->anomalies[kind], memory_order_relaxed);
}
RL_INLINE uint64_t rl_engine_state_change_count(const rl_engine_t *engine) {
    /* relaxed: monitoring read of a single-writer counter. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&engine->state_changes, memory_order_relaxed);
}
/* rl_clock_cycles() when the freeze word was last stored, by the controller
 * or a halt from outside (rl_engine_halt_now): the moment a change became
 * visible to every router (the load test measures propagation to it). */
RL_INLINE uint64_t rl_engine_state_published_cycles(const rl_engine_t *engine) {
    /* relaxed: a measurement. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&engine->state_published_cycles, memory_order_relaxed);
}
RL_INLINE uint64_t rl_engine_state_records_dropped(const rl_engine_t *engine) {
    /* relaxed: monitoring read of a single-writer counter. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&engine->state_records_dropped, memory_order_relaxed);
}

/* Outside halts recorded with the word's reason alone (no strategy, no
 * value): the winning halter was descheduled between its CAS and its cause. */
RL_INLINE uint64_t rl_engine_halt_causes_unattributed(const rl_engine_t *engine) {
    /* relaxed: a monitoring count with a single writer. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&engine->halt_causes_unattributed, memory_order_relaxed);
}
RL_INLINE int64_t rl_engine_last_edge_bps(const rl_engine_t *engine) {
    /* relaxed: monitoring read. */
    return atomic_load_explicit((_Atomic(int64_t) *)&engine->last_edge_bps, memory_order_relaxed);
}
RL_INLINE int64_t rl_engine_edge_threshold(const rl_engine_t *engine) {
    /* relaxed: self-contained value. */
    return atomic_load_explicit((_Atomic(int64_t) *)&engine->edge_freeze_threshold_bps, memory_order_relaxed);
}

/* A strategy's edge report, `value` in bps (fixed point), ready for its
 * lane: below the threshold, trading is halted here first
 * (rl_engine_halt_now), and the report says so (RL_EDGE_HALTED and the
 * word), so that the risk side takes that halt in and decides nothing again.
 * Any thread: the strategy's own. */
RL_INLINE rl_event_t rl_engine_edge_report(rl_engine_t *engine, uint16_t strategy, int64_t value) {
    /* The lines a halt writes, fetched before the threshold is read: its
     * line is cold at a rare report, and a collapse then waited for it
     * before asking for these (under load, p50 to the word 170-270 ns
     * against 150, p99 430-1,040 against 320-520 ns, four pairs, built for
     * x86-64 where all three are PREFETCHT0). The book word and the freeze
     * word for a read only: every healthy report does this, and a write
     * prefetch (PREFETCHW, arm64's PSTL1KEEP) would take the freeze word's
     * line from every other router and the book's from the risk side at each
     * one; the halt itself asks for them for writing. */
    rl_prefetch_for_write(&engine->halt_cause);
    rl_prefetch_for_read(&engine->table->book);
    rl_prefetch_for_read(&engine->freeze.word);
    rl_event_t event;
    memset(&event, 0, sizeof(event)); /* not `= {0}`: C++ builds warn on it */
    event.type = RL_EVENT_EDGE_UPDATE;
    event.value = value;
    event.strategy = strategy;
    event.timestamp_ns = rl_clock_cycles();
    if (value < rl_engine_edge_threshold(engine)) {
        uint64_t made = rl_engine_halt_now(engine, RL_FREEZE_REASON_EDGE_COLLAPSE, strategy, value);
        if (made != 0) event.side = RL_EDGE_HALTED, event.order_id = made;
    }
    return event;
}
RL_INLINE uint64_t rl_engine_breaker_trips(const rl_engine_t *engine, rl_freeze_reason_t reason) {
    /* relaxed: monitoring read of a single-writer counter. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&engine->breaker_trips[reason & 31], memory_order_relaxed);
}
RL_INLINE uint64_t rl_engine_breaker_escalations(const rl_engine_t *engine) {
    /* relaxed: monitoring read of a single-writer counter. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&engine->breaker_escalations, memory_order_relaxed);
}
RL_INLINE uint64_t rl_engine_breaker_cooldown_ns(const rl_engine_t *engine) {
    /* relaxed: monitoring read of a single-writer value. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&engine->breaker_cooldown_ns, memory_order_relaxed);
}
RL_INLINE int64_t rl_engine_resume_share(const rl_engine_t *engine) {
    /* relaxed: self-contained value. */
    return atomic_load_explicit((_Atomic(int64_t) *)&engine->resume_share, memory_order_relaxed);
}
/* Requests a requester may withdraw. A request is an event on the request
 * ring (one producer: the orchestrator) whose order_id carries
 * RL_REQUEST_ID_BIT: an RL_EVENT_CONTROL, MARK_PRICE, POSITION_ADJUST or
 * VOLATILITY whose requester waits for its answer. The requester names it
 * (rl_engine_expect_request) before pushing it; the risk side takes it
 * (a CAS to id | RL_REQUEST_TAKEN_BIT) before applying it. A requester that
 * waited past its bound withdraws it (rl_engine_withdraw_request): if that
 * CAS wins, the request never applies, however late the risk side reaches
 * it (it answers -ETIMEDOUT and counts it), so a request whose requester
 * gave up (an operator's unfreeze during a stalled journal) cannot apply
 * later behind the operator's back. If it loses, the request was taken and
 * its answer follows. A request an older requester withdrew is skipped too:
 * the claim names a newer one. */
#define RL_REQUEST_ID_BIT (UINT64_C(1) << 63)
#define RL_REQUEST_TAKEN_BIT (UINT64_C(1) << 62)

/* Setup only (no risk thread running): the ring whose requests are claimed. */
void rl_engine_set_request_ring(rl_engine_t *engine, rl_spsc_t *ring);

/* The requester, before pushing request `id`. */
RL_INLINE void rl_engine_expect_request(rl_engine_t *engine, uint64_t id) {
    /* release: pairs with the risk side's acquiring CAS when it takes the request. */
    atomic_store_explicit(&engine->request_claim, id, memory_order_release);
}

/* The requester, giving up on request `id`: true if it is withdrawn (it
 * will never apply), false if the risk side took it (its answer follows). */
RL_INLINE bool rl_engine_withdraw_request(rl_engine_t *engine, uint64_t id) {
    uint64_t expected = id;
    /* acq_rel: pairs with the risk side's CAS that takes it; exactly one of the two wins. */
    return atomic_compare_exchange_strong_explicit(&engine->request_claim, &expected, 0, memory_order_acq_rel,
                                                   memory_order_acquire);
}

RL_INLINE uint64_t rl_engine_requests_withdrawn(const rl_engine_t *engine) {
    /* relaxed: a monitoring count, single writer. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&engine->requests_withdrawn, memory_order_relaxed);
}

/* The request id and result of the last CONTROL or POSITION_ADJUST the risk
 * side applied. Read after the ring shows the request consumed. */
RL_INLINE uint64_t rl_engine_last_request_id(const rl_engine_t *engine) {
    /* acquire: pairs with the release store after the request was applied. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&engine->last_request_id, memory_order_acquire);
}
RL_INLINE int32_t rl_engine_last_request_result(const rl_engine_t *engine) {
    /* relaxed: ordered by the acquire load of last_request_id before it. */
    return atomic_load_explicit((_Atomic(int32_t) *)&engine->last_request_result, memory_order_relaxed);
}

RL_EXTERN_C_END

#endif /* RL_ENGINE_H */
