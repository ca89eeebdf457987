#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_SET, sched_getcpu */
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include "rl_engine.h"
#include "rl_journal.h"
#include "rl_numa.h"

#define RL_STATE_RING_CAPACITY 4096
/* Room the step needs in the journal ring before it applies one event: the
 * event's record and the state changes it may cause. */
#define RL_JOURNAL_ROOM_PER_EVENT 4

rl_limits_problem_t rl_limits_check(int64_t symbol_limit, int64_t max_total, int64_t edge_threshold_bps,
                                    int64_t resume_share) {
    if (max_total <= 0 || max_total > RL_FP_MAX_LIMIT) return RL_LIMITS_TOTAL_RANGE;
    if (symbol_limit <= 0 || symbol_limit > RL_FP_MAX_LIMIT) return RL_LIMITS_SYMBOL_RANGE;
    if (symbol_limit > max_total) return RL_LIMITS_SYMBOL_ABOVE_TOTAL;
    if (edge_threshold_bps < -RL_FP_MAX_LIMIT || edge_threshold_bps > RL_FP_MAX_LIMIT) return RL_LIMITS_THRESHOLD_RANGE;
    if (resume_share <= 0 || resume_share > RL_FP_SCALE) return RL_LIMITS_RESUME_RANGE;
    return RL_LIMITS_OK;
}

/* The TSC rate, measured once per process (10 ms), for the staleness bound. */
static double rl_engine_tsc_rate;
static void rl_engine_measure_tsc(void) { rl_engine_tsc_rate = rl_clock_calibrate(10000000); }
static double rl_engine_cycles_per_ns(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, rl_engine_measure_tsc);
    return rl_engine_tsc_rate;
}

int rl_engine_create(const rl_engine_config_t *config, rl_engine_t **out) {
    return rl_engine_create_on_node(config, -1, out);
}

int rl_engine_create_on_node(const rl_engine_config_t *config, int node, rl_engine_t **out) {
    uint32_t capacity = config->symbol_capacity ? config->symbol_capacity : RL_SYMBOLS_DEFAULT_CAPACITY;
    int64_t resume_share = config->resume_share ? config->resume_share : RL_DEFAULT_RESUME_SHARE;
    if (rl_limits_check(config->default_symbol_limit, config->max_total, config->edge_freeze_threshold_bps,
                        resume_share) != RL_LIMITS_OK) {
        return -EINVAL;
    }
    rl_engine_t *engine = rl_numa_alloc(sizeof(rl_engine_t), node); /* zeroed */
    if (engine == NULL) return -ENOMEM;
    int rc = rl_symbols_create(capacity, &engine->symbols);
    if (rc == 0) rc = rl_position_table_create(capacity, config->max_total, node, &engine->table);
    if (rc == 0) rc = rl_spsc_create_on_node(RL_STATE_RING_CAPACITY, node, &engine->states);
    if (rc == 0 && (engine->over = rl_numa_alloc(capacity, node)) == NULL) rc = -ENOMEM;
    if (rc == 0 && (engine->pnl = rl_numa_alloc((size_t)capacity * sizeof(rl_pnl_symbol_t), node)) == NULL) rc = -ENOMEM;
    if (rc == 0 && ((engine->strategy_halts = rl_numa_alloc(RL_STRATEGY_HALT_WORDS * sizeof(uint64_t), node)) == NULL ||
                    (engine->strategy_closed = rl_numa_alloc(RL_STRATEGY_HALT_WORDS * sizeof(uint64_t), node)) == NULL ||
                    (engine->strategy_halt_epoch = rl_numa_alloc(65536 * sizeof(uint32_t), node)) == NULL)) {
        rc = -ENOMEM; /* zeroed: no strategy halted, none closed */
    }
    size_t per_symbol = (size_t)capacity * sizeof(int64_t);
    if (rc == 0 && ((engine->base_limit = rl_numa_alloc(per_symbol, node)) == NULL ||
                    (engine->vol_scale = rl_numa_alloc(per_symbol, node)) == NULL ||
                    (engine->vol_last = rl_numa_alloc(per_symbol, node)) == NULL)) {
        rc = -ENOMEM;
    }
    size_t rule_bytes = ((size_t)capacity + 1) * sizeof(rl_order_rules_t);
    if (rc == 0 && ((engine->rules_staged = rl_numa_alloc(rule_bytes, node)) == NULL ||
                    (engine->rules_in_force = rl_numa_alloc(rule_bytes, node)) == NULL ||
                    (engine->rules_publishing = rl_numa_alloc(rule_bytes, node)) == NULL)) {
        rc = -ENOMEM; /* zeroed: every rule off, as the table's */
    }
    if (rc != 0) {
        rl_engine_destroy(engine);
        return rc;
    }
    if (config->manual_clock) rl_position_table_use_manual_clock(engine->table);
    /* A manual clock counts nanoseconds: no TSC to measure (and no 10 ms spent measuring it). */
    engine->cycles_per_ns = config->manual_clock ? 1.0 : rl_engine_cycles_per_ns();
    engine->breaker.config = (rl_breaker_config_t){RL_BREAKER_DEFAULT_COOLDOWN_NS, RL_BREAKER_DEFAULT_MAX_COOLDOWN_NS,
                                                   RL_BREAKER_DEFAULT_WINDOW_NS, RL_BREAKER_DEFAULT_ESCALATE_AFTER, 0};
    rl_freeze_init(&engine->freeze);
    engine->published = rl_freeze_load(&engine->freeze);
    engine->trading = (rl_trading_t){RL_STATE_ACTIVE, RL_FREEZE_REASON_NONE, false, false};
    engine->default_symbol_limit = config->default_symbol_limit;
    engine->base_max_total = config->max_total;
    engine->schedule_scale = RL_FP_SCALE;
    for (uint32_t i = 0; i < capacity; i++) engine->vol_scale[i] = RL_FP_SCALE;
    /* relaxed: the engine is not shared until create returns. */
    atomic_store_explicit(&engine->edge_freeze_threshold_bps, config->edge_freeze_threshold_bps, memory_order_relaxed);
    atomic_store_explicit(&engine->resume_share, resume_share, memory_order_relaxed);
    *out = engine;
    return 0;
}

void rl_engine_destroy(rl_engine_t *engine) {
    if (engine == NULL) return;
    rl_symbols_destroy(engine->symbols);
    rl_position_table_destroy(engine->table);
    rl_spsc_destroy(engine->states);
    rl_numa_free(engine->over);
    rl_numa_free(engine->pnl);
    rl_numa_free(engine->strategy_halts);
    rl_numa_free(engine->strategy_closed);
    rl_numa_free(engine->strategy_halt_epoch);
    rl_numa_free(engine->rules_publishing);
    rl_numa_free(engine->base_limit);
    rl_numa_free(engine->vol_scale);
    rl_numa_free(engine->vol_last);
    rl_numa_free(engine->rules_staged);
    rl_numa_free(engine->rules_in_force);
    rl_numa_free(engine);
}

/* base x scale, rounded down, within [1, RL_FP_MAX_LIMIT]. */
static int64_t rl_engine_scale(int64_t base, int64_t scale) {
    __int128 v = (__int128)base * scale / RL_FP_SCALE;
    return v < 1 ? 1 : v > RL_FP_MAX_LIMIT ? RL_FP_MAX_LIMIT : (int64_t)v;
}

/* The volatility's scale on `symbol`'s limit and on its collar. With no
 * estimate yet, each at its fail-closed end: the limit's at most 1 (the floor
 * if lower), the collar's at least 1 (the cap if higher: a narrower band). */
static int64_t rl_engine_limit_vol_scale(const rl_engine_t *engine, uint32_t symbol) {
    if (engine->vol_reference <= 0) return RL_FP_SCALE;
    if (engine->vol_last[symbol] > 0) return engine->vol_scale[symbol];
    return engine->vol_floor < RL_FP_SCALE ? engine->vol_floor : RL_FP_SCALE;
}

static int64_t rl_engine_collar_vol_scale(const rl_engine_t *engine, uint32_t symbol) {
    if (engine->vol_reference <= 0) return RL_FP_SCALE;
    if (engine->vol_last[symbol] > 0) return engine->vol_scale[symbol];
    return engine->vol_cap > RL_FP_SCALE ? engine->vol_cap : RL_FP_SCALE;
}

/* `symbol`'s limit in force under a book limit of `max_total`: its base times
 * the schedule's and its volatility's scales, never above the book's. */
static int64_t rl_engine_scaled_limit(const rl_engine_t *engine, uint32_t symbol, int64_t max_total) {
    int64_t limit = rl_engine_scale(rl_engine_scale(engine->base_limit[symbol], engine->schedule_scale),
                                    rl_engine_limit_vol_scale(engine, symbol));
    return limit < max_total ? limit : max_total;
}

int64_t rl_engine_symbol_limit_in_force(const rl_engine_t *engine, uint32_t symbol) {
    return symbol < rl_position_table_count(engine->table) ? rl_position_table_limit(engine->table, symbol) : 0;
}

int64_t rl_engine_volatility_scale(const rl_engine_t *engine, uint32_t symbol) {
    return symbol < rl_position_table_count(engine->table) ? rl_engine_limit_vol_scale(engine, symbol) : 0;
}

int64_t rl_engine_add_symbol(rl_engine_t *engine, const char *name, int64_t limit) {
    /* The default never exceeds the book's limit, which may have been lowered.
     * Both as the operator set them; the scales apply to what is in force. */
    int64_t base_total = engine->base_max_total, max_total = rl_position_table_max_total(engine->table);
    int64_t effective = limit ? limit : (engine->default_symbol_limit < base_total ? engine->default_symbol_limit : base_total);
    if (rl_limits_check(effective, base_total, rl_engine_edge_threshold(engine),
                        rl_engine_resume_share(engine)) != RL_LIMITS_OK) {
        return -EINVAL;
    }
    int64_t id = rl_symbols_register(engine->symbols, name);
    if (id < 0) return id;
    /* Registry and table share capacity, so activation cannot run out of room. */
    /* While per-order rules are in use, a new symbol is restricted until the
     * next publish gives it its rules: a publish racing this registration
     * cannot leave it with rules no one put in force (fail closed). */
    /* relaxed: set by the risk side's publish; a stale false only misses a restriction a publish then lifts anyway. */
    bool in_use = atomic_load_explicit(&engine->rules_in_use, memory_order_relaxed);
    /* The operator's limit, and in force the scales on it: a new symbol starts
     * at the volatility floor while volatility scaling waits for its first
     * estimate (fail closed). */
    engine->base_limit[id] = effective;
    engine->vol_scale[id] = RL_FP_SCALE;
    engine->vol_last[id] = 0;
    int64_t in_force = rl_engine_scaled_limit(engine, (uint32_t)id, max_total);
    int rc = rl_position_table_activate(engine->table, (uint32_t)id, in_force, in_use);
    return rc < 0 ? rc : id;
}

int64_t rl_engine_symbol_id(const rl_engine_t *engine, const char *name) {
    return rl_symbols_lookup(engine->symbols, name);
}

const char *rl_engine_symbol_name(const rl_engine_t *engine, uint32_t id) {
    return rl_symbols_name(engine->symbols, id);
}

uint32_t rl_engine_symbol_count(const rl_engine_t *engine) { return rl_symbols_count(engine->symbols); }

void rl_engine_attach_journal(rl_engine_t *engine, rl_spsc_t *journal_ring) {
    engine->journal = journal_ring;
    engine->journal_stalled = 0; /* a writer's look, if any, starts over */
}

void rl_engine_set_request_ring(rl_engine_t *engine, rl_spsc_t *ring) { engine->request_ring = ring; }

static void rl_engine_answer(rl_engine_t *engine, const rl_event_t *event, int32_t result);

/* A request on the request ring that its requester withdrew: skipped,
 * answered -ETIMEDOUT and counted. Otherwise it is taken, and applies. */
static bool rl_engine_request_withdrawn(rl_engine_t *engine, const rl_event_t *event) {
    uint8_t type = event->type;
    if ((event->order_id & RL_REQUEST_ID_BIT) == 0 ||
        (type != RL_EVENT_CONTROL && type != RL_EVENT_MARK_PRICE && type != RL_EVENT_POSITION_ADJUST &&
         type != RL_EVENT_VOLATILITY)) {
        return false;
    }
    uint64_t expected = event->order_id;
    /* acq_rel: pairs with the requester's release store of the id and its
     * withdrawing CAS (rl_engine_withdraw_request): exactly one wins. */
    if (atomic_compare_exchange_strong_explicit(&engine->request_claim, &expected,
                                                event->order_id | RL_REQUEST_TAKEN_BIT, memory_order_acq_rel,
                                                memory_order_acquire)) {
        return false;
    }
    rl_engine_answer(engine, event, -ETIMEDOUT);
    RL_SINGLE_WRITER_ADD(&engine->requests_withdrawn, 1); /* the risk side is the only writer */
    return true;
}

void rl_engine_attach_journal_writer(rl_engine_t *engine, rl_journal_t *writer) {
    engine->journal_writer = writer;
    engine->journal_stalled = 0;
    engine->journal = writer != NULL ? rl_journal_hot_ring(writer) : NULL;
}

/* Whether the journal cannot take what the step applies: the writer's
 * -errno, or -EIO once anything went unrecorded (a hole until restart). */
static int32_t rl_engine_journal_broken(const rl_engine_t *engine) {
    int32_t error = engine->journal_writer != NULL ? rl_journal_error(engine->journal_writer) : 0;
    if (error == 0 && rl_engine_journal_unrecorded(engine) != 0) error = -EIO;
    return error;
}

/* Broken, or its commit stalled (-ETIMEDOUT): either halts trading and
 * refuses an unfreeze. A stall alone keeps backpressure (the step below):
 * the writer may yet come back, and a record dropped meanwhile would hold
 * trading halted until a restart. */
static int32_t rl_engine_journal_failure(const rl_engine_t *engine) {
    int32_t error = rl_engine_journal_broken(engine);
    return error != 0 ? error : engine->journal_stalled;
}

/* Look whether the writer's commit has stalled (a device that stopped
 * completing reports no errno): every RL_ENGINE_STALL_LOOK_STEPS steps, or
 * now. Risk side. */
static void rl_engine_look_for_stall(rl_engine_t *engine, bool now) {
    if (engine->journal_writer == NULL) return;
    if (!now && engine->stall_look_countdown-- != 0) return;
    engine->stall_look_countdown = RL_ENGINE_STALL_LOOK_STEPS;
    engine->journal_stalled = rl_journal_stalled(engine->journal_writer);
}

/* ---- The risk side's share of the total ----------------------------------- */

/* Every refund the risk side owes the total waits until the end of its step:
 * one CAS on the contended book word per batch instead of per event. While it
 * waits the total over-counts, never under (I3 holds a fortiori), and a charge
 * is first taken out of what is owed. Decisions use the total less what is
 * owed, which is what the total will be. */
static void rl_engine_charge(rl_engine_t *engine, int64_t amount) {
    if (engine->owed >= amount) {
        engine->owed -= amount;
        return;
    }
    rl_position_table_add_total(engine->table, amount - engine->owed);
    engine->owed = 0;
}

static void rl_engine_refund(rl_engine_t *engine, int64_t amount) { engine->owed += amount; }

static void rl_engine_flush(rl_engine_t *engine) {
    if (engine->owed == 0) return;
    rl_position_table_add_total(engine->table, -engine->owed);
    engine->owed = 0;
}

static int64_t rl_engine_total(const rl_engine_t *engine) {
    return rl_position_table_total(engine->table) - engine->owed;
}

/* Grant the overlap credit back (rl_position_table_refresh_credit, with the
 * refund deferred). Returns the symbol's exposure as read. */
static int64_t rl_engine_refresh_credit(rl_engine_t *engine, uint32_t symbol) {
    rl_position_table_t *table = engine->table;
    int64_t buy = rl_position_table_side_exposure(table, symbol, RL_SIDE_BUY);
    int64_t sell = rl_position_table_side_exposure(table, symbol, RL_SIDE_SELL);
    int64_t overlap = buy < sell ? buy : sell;
    rl_position_risk_t *risk = &table->risk[symbol];
    /* relaxed: the risk side is the only writer of credit. */
    int64_t credit = atomic_load_explicit(&risk->credit, memory_order_relaxed);
    if (overlap > credit) {
        /* relaxed: the total it gives back follows in program order; readers are monitors. */
        atomic_store_explicit(&risk->credit, overlap, memory_order_relaxed);
        rl_engine_refund(engine, overlap - credit);
    }
    return buy > sell ? buy : sell;
}

/* ---- The controller: the only writer of the freeze word ------------------ */

static uint64_t rl_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* vDSO: no syscall */
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Feed one input to the machine; publish what it decides. `symbol`, `qty`
 * and `value` describe the cause (see RL_EVENT_STATE_CHANGE). */
static bool rl_engine_control(rl_engine_t *engine, rl_trading_input_t input, uint32_t symbol, int64_t qty,
                              int64_t value);
static bool rl_engine_take_in_halt(rl_engine_t *engine, bool shown);
static void rl_engine_pnl_moved(rl_engine_t *engine, int64_t delta);

uint64_t rl_engine_now_ns(const rl_engine_t *engine) {
    const rl_rules_clock_t *clock = &engine->table->clock;
    if (clock->manual) return rl_rules_clock_now(clock);
    return (uint64_t)((double)rl_clock_cycles() / engine->cycles_per_ns);
}

/* After a published change: a new transient halt trips the breaker; any
 * other state (a persistent halt, trading again) leaves nothing to lift. */
static void rl_engine_breaker_follow(rl_engine_t *engine, rl_freeze_reason_t halted_for, rl_trading_input_t input,
                                     rl_freeze_reason_t lifted) {
    /* An operator who lifts a halt has looked: the next trip starts a new
     * streak, and a drawdown or a day's loss is measured from here on. */
    if (input == RL_TRADING_UNFREEZE) {
        engine->breaker.streak = 0, engine->breaker.last_trip_ns = 0;
        if (lifted == RL_FREEZE_REASON_DRAWDOWN || lifted == RL_FREEZE_REASON_DAILY_LOSS) {
            /* The operator accepted that loss: measure from here. */
            engine->book_pnl.peak = engine->book_pnl.equity;
            engine->book_pnl.day_start = engine->book_pnl.equity;
        }
        /* A loss past a limit during another halt is reported now. */
        engine->book_pnl.drawn = engine->book_pnl.lost = false;
        rl_engine_pnl_moved(engine, 0);
    }
    if (rl_freeze_reason_class(halted_for) != RL_REASON_CLASS_TRANSIENT || input == RL_TRADING_BREAKER_ESCALATE) {
        rl_breaker_cancel(&engine->breaker);
        /* relaxed: a monitoring value with a single writer. */
        atomic_store_explicit(&engine->breaker_cooldown_ns, 0, memory_order_relaxed);
        return;
    }
    RL_SINGLE_WRITER_ADD(&engine->breaker_trips[halted_for & 31], 1); /* the risk side is the only writer */
    rl_breaker_action_t action = rl_breaker_trip(&engine->breaker, rl_engine_now_ns(engine));
    /* relaxed: as above. */
    atomic_store_explicit(&engine->breaker_cooldown_ns,
                          action == RL_BREAKER_COOLDOWN ? engine->breaker.cooldown_ns : 0, memory_order_relaxed);
    if (action == RL_BREAKER_ESCALATE) {
        rl_engine_control(engine, RL_TRADING_BREAKER_ESCALATE, RL_SYMBOL_NONE, (int64_t)engine->breaker.streak,
                          (int64_t)halted_for);
        /* Counted once made: a halt from outside that landed first (the
         * kill switch) was taken in instead, and nothing escalated. */
        if (engine->trading.reason == RL_FREEZE_REASON_BREAKER_ESCALATED) {
            RL_SINGLE_WRITER_ADD(&engine->breaker_escalations, 1); /* the risk side is the only writer */
        }
    }
}

/* The engine's wall clock (the day's start): CLOCK_REALTIME, or the manual clock. */
static uint64_t rl_engine_wall_ns(const rl_engine_t *engine) {
    const rl_rules_clock_t *clock = &engine->table->clock;
    return clock->manual ? rl_rules_clock_now(clock) : rl_realtime_ns();
}

/* A new day (at day_begins_ns after midnight UTC) starts the day's loss over. */
static void rl_engine_new_day(rl_engine_t *engine) {
    uint64_t wall = rl_engine_wall_ns(engine), begins = (uint64_t)engine->day_begins_ns;
    uint64_t day = (wall >= begins ? wall - begins : 0) / 86400000000000ull + 1;
    /* Only forwards: a wall clock stepped back never starts the day over. */
    if (day > engine->book_pnl.day) {
        engine->book_pnl.day = day;
        engine->book_pnl.day_start = engine->book_pnl.equity;
        engine->book_pnl.lost = false;
    }
}

/* ---- The per-strategy dead-man (rl_engine.h) ------------------------------ */

/* Set or clear strategy `id`'s halt bit. */
static void rl_engine_set_strategy_halt(rl_engine_t *engine, uint16_t id, bool halted) {
    _Atomic(uint64_t) *word = &engine->strategy_halts[id >> 6];
    uint64_t bit = 1ull << (id & 63);
    /* relaxed: the risk side is the only writer of the halt bits. */
    uint64_t cur = atomic_load_explicit(word, memory_order_relaxed);
    uint64_t next = halted ? cur | bit : cur & ~bit;
    if (next == cur) return;
    if (halted) {
        /* Every halt is a new epoch, before its bit: the router answers each.
         * relaxed load, release store: the risk side is the only writer; pairs
         * with rl_engine_strategy_halt_epoch's acquire. */
        atomic_store_explicit(&engine->strategy_halt_epoch[id],
                              atomic_load_explicit(&engine->strategy_halt_epoch[id], memory_order_relaxed) + 1,
                              memory_order_release);
    }
    /* release: pairs with rl_strategy_halted's acquire load in each router's check. */
    atomic_store_explicit(word, next, memory_order_release);
    /* relaxed: a monitoring count with a single writer. */
    uint32_t count = atomic_load_explicit(&engine->strategies_halted, memory_order_relaxed);
    atomic_store_explicit(&engine->strategies_halted, halted ? count + 1 : count - 1, memory_order_relaxed);
}

/* Whether `since` (engine clock; 0: never) is more than `bound` before `now`.
 * A clock behind `since` is not. The one test of every dead-man and guard. */
static bool rl_engine_older_than(uint64_t since, uint64_t now, uint64_t bound) {
    return since != 0 && now > since && now - since > bound;
}

/* Whether the journal's ring is 3/4 full: the journal is behind. */
static bool rl_engine_journal_behind(const rl_engine_t *engine) {
    return rl_spsc_depth(engine->journal) * 4 >= rl_spsc_capacity(engine->journal) * 3;
}

/* Whether the journal ring has room for one more record (the clock's work
 * waits a step otherwise: a record that did not fit would be a hole). */
static bool rl_engine_journal_room(const rl_engine_t *engine) {
    return engine->journal == NULL ||
           rl_spsc_writable(engine->journal, RL_JOURNAL_ROOM_PER_EVENT) >= RL_JOURNAL_ROOM_PER_EVENT;
}

/* Record one step of a strategy's own halt, for the orchestrator and the journal. */
static void rl_engine_strategy_record(rl_engine_t *engine, uint16_t id, rl_strategy_halt_action_t action, int64_t qty,
                                      int64_t price) {
    if (engine->replaying) return;
    rl_event_t record = {0};
    record.type = RL_EVENT_STRATEGY_HALT;
    record.side = (uint8_t)action;
    record.strategy = id;
    record.symbol = RL_SYMBOL_NONE;
    record.order_id = rl_freeze_load(&engine->freeze);
    record.qty = qty;
    record.price = price;
    record.value = RL_FREEZE_REASON_HEARTBEAT_LOST;
    record.timestamp_ns = rl_realtime_ns();
    if (rl_spsc_push(engine->states, &record) != RL_OK) RL_SINGLE_WRITER_ADD(&engine->state_records_dropped, 1);
    if (engine->journal != NULL && rl_spsc_push(engine->journal, &record) != RL_OK) {
        RL_SINGLE_WRITER_ADD(&engine->journal_unrecorded, 1);
    }
}

static rl_strategy_watch_t *rl_engine_find_watch(rl_engine_t *engine, uint16_t id) {
    for (uint32_t i = 0; i < engine->watch_count; i++) {
        rl_strategy_watch_t *w = &engine->watches[i];
        if (w->state != RL_WATCH_FREE && w->strategy == id) return w;
    }
    return NULL;
}

/* A HEARTBEAT from strategy `id` (not 0) at `now`. */
static void rl_engine_strategy_heartbeat(rl_engine_t *engine, uint16_t id, uint64_t now) {
    /* Its router closed: a heartbeat it left in its ring arms nothing. */
    if (engine->strategy_closed[id >> 6] & (1ull << (id & 63))) return;
    rl_strategy_watch_t *w = rl_engine_find_watch(engine, id);
    if (w == NULL) {
        for (uint32_t i = 0; i < RL_STRATEGY_WATCHES && w == NULL; i++) {
            if (engine->watches[i].state == RL_WATCH_FREE) w = &engine->watches[i];
        }
        if (w == NULL) {
            /* No watch left: a strategy no dead-man watches does not trade (fail
             * closed). An operator's release clears it once a watch is free. */
            if (!rl_engine_strategy_halted(engine, id)) {
                rl_engine_set_strategy_halt(engine, id, true);
                rl_engine_strategy_record(engine, id, RL_STRATEGY_ESCALATED, 0, 0);
            }
            return;
        }
        uint32_t index = (uint32_t)(w - engine->watches);
        if (index >= engine->watch_count) engine->watch_count = index + 1;
        *w = (rl_strategy_watch_t){0};
        w->strategy = id;
        w->state = RL_WATCH_LIVE;
    }
    w->breaker.config = engine->breaker.config;
    w->last_heartbeat_ns = now | 1;
}

/* Strategy watches on the engine's clock: halt the silent, lift the halts
 * whose cooldown ran once their heartbeat is back. Stops where the journal
 * has no room for a record (the rest waits a step). */
static void rl_engine_tick_strategies(rl_engine_t *engine, uint64_t now, uint64_t timeout) {
    for (uint32_t i = 0; i < engine->watch_count && rl_engine_journal_room(engine); i++) {
        rl_strategy_watch_t *w = &engine->watches[i];
        if (w->state == RL_WATCH_LIVE) {
            if (timeout == 0 || !rl_engine_older_than(w->last_heartbeat_ns, now, timeout)) continue;
            w->breaker.config = engine->breaker.config;
            w->state = RL_WATCH_HALTED;
            w->halted_at_ns = now;
            w->canceled = 0;
            rl_engine_set_strategy_halt(engine, w->strategy, true);
            rl_engine_strategy_record(engine, w->strategy, RL_STRATEGY_HALTED, (int64_t)timeout,
                                      (int64_t)(now - w->last_heartbeat_ns));
            rl_breaker_action_t action = rl_breaker_trip(&w->breaker, now);
            if (action == RL_BREAKER_ESCALATE || action == RL_BREAKER_NOTHING) {
                /* Repeated past the breaker's count, or the breaker is off: an operator must look. */
                w->state = RL_WATCH_ESCALATED;
                if (rl_engine_journal_room(engine)) {
                    /* price 1: the breaker is off, so no lift was ever due. */
                    rl_engine_strategy_record(engine, w->strategy, RL_STRATEGY_ESCALATED, (int64_t)w->breaker.streak,
                                              action == RL_BREAKER_NOTHING);
                }
            }
        } else if (w->state == RL_WATCH_HALTED && w->canceled && w->last_heartbeat_ns > w->halted_at_ns &&
                   (timeout == 0 || !rl_engine_older_than(w->last_heartbeat_ns, now, timeout)) &&
                   rl_breaker_tick(&w->breaker, now) == RL_BREAKER_LIFT) {
            /* The cooldown ran and the strategy is alive again: a heartbeat
             * since the halt, and within the timeout (one beat and silence
             * again is not back). */
            w->state = RL_WATCH_LIVE;
            rl_engine_set_strategy_halt(engine, w->strategy, false);
            rl_engine_strategy_record(engine, w->strategy, RL_STRATEGY_RESUMED, (int64_t)w->breaker.cooldown_ns, 0);
        }
    }
}

/* An operator lifts strategy `id`'s own halt. */
static int rl_engine_release_strategy(rl_engine_t *engine, uint32_t id, uint64_t request_id) {
    if (id > UINT16_MAX) return -EINVAL;
    if (!rl_engine_strategy_halted(engine, (uint16_t)id)) return -ENOENT;
    rl_strategy_watch_t *w = rl_engine_find_watch(engine, (uint16_t)id);
    if (w != NULL) {
        /* An operator has looked: a new streak, and a full timeout from now. */
        w->state = RL_WATCH_LIVE;
        w->last_heartbeat_ns = rl_engine_now_ns(engine) | 1;
        w->breaker.streak = 0, w->breaker.last_trip_ns = 0;
        rl_breaker_cancel(&w->breaker);
    }
    rl_engine_set_strategy_halt(engine, (uint16_t)id, false);
    rl_engine_strategy_record(engine, (uint16_t)id, RL_STRATEGY_RELEASED, (int64_t)request_id, 0);
    return 0;
}

/* The router of the strategy whose event this is canceled its orders after its halt. */
static int rl_engine_strategy_canceled(rl_engine_t *engine, int64_t epoch) {
    uint16_t id = engine->applying_strategy;
    rl_strategy_watch_t *w = id != 0 ? rl_engine_find_watch(engine, id) : NULL;
    /* Only for the halt in force: an answer to an earlier one (a new halt
     * overtook it in the ring), or from a strategy no longer watched, lifts
     * nothing and is no error. relaxed: this risk side wrote the epoch. */
    if (w != NULL && (uint32_t)epoch == atomic_load_explicit(&engine->strategy_halt_epoch[id], memory_order_relaxed)) {
        w->canceled = 1;
    }
    return 0;
}

/* Strategy `id` is gone: no watch, no halt. */
static int rl_engine_forget_strategy(rl_engine_t *engine, uint32_t id) {
    if (id > UINT16_MAX) return -EINVAL;
    rl_strategy_watch_t *w = rl_engine_find_watch(engine, (uint16_t)id);
    if (w != NULL) w->state = RL_WATCH_FREE;
    engine->strategy_closed[id >> 6] |= 1ull << (id & 63);
    while (engine->watch_count > 0 && engine->watches[engine->watch_count - 1].state == RL_WATCH_FREE) {
        engine->watch_count--;
    }
    rl_engine_set_strategy_halt(engine, (uint16_t)id, false);
    return 0;
}

/* Whether the cause of the transient halt in force is still there. */
static bool rl_engine_cause_persists(const rl_engine_t *engine, uint64_t now, uint64_t timeout, uint64_t stale,
                                     uint64_t backpressure) {
    if (engine->trading.state != RL_STATE_HALTED) return false;
    switch ((rl_freeze_reason_t)engine->trading.reason) {
    case RL_FREEZE_REASON_HEARTBEAT_LOST: {
        /* relaxed: written by this same risk side. */
        uint64_t last = atomic_load_explicit((_Atomic(uint64_t) *)&engine->last_heartbeat_ns, memory_order_relaxed);
        return timeout != 0 && (last == 0 || rl_engine_older_than(last, now, timeout));
    }
    case RL_FREEZE_REASON_STALE_DATA:
        return stale != 0 && rl_engine_older_than(engine->last_mark_ns, now, stale);
    case RL_FREEZE_REASON_JOURNAL_BACKPRESSURE:
        return backpressure != 0 && rl_engine_journal_behind(engine);
    default:
        return false;
    }
}

/* Every freeze request seen so far is acted on, its record (if any) in the
 * state ring: say so to whoever pulled it (rl_engine_freeze_requests_recorded). */
static void rl_engine_freeze_requests_acted_on(rl_engine_t *engine) {
    /* release: pairs with rl_engine_freeze_requests_recorded's acquire; the record's push comes first. */
    atomic_store_explicit(&engine->freeze_requests_recorded, engine->freeze_requests_seen, memory_order_release);
}

void rl_engine_tick(rl_engine_t *engine) {
    /* A halt made outside the controller (rl_engine_halt_now), taken in first. */
    if (RL_UNLIKELY(rl_engine_take_in_halt(engine, false)) && !rl_engine_journal_room(engine)) return;
    /* acquire: pairs with rl_engine_request_freeze's release add. */
    uint64_t requests = atomic_load_explicit(&engine->freeze_requests, memory_order_acquire);
    if (RL_UNLIKELY(requests != engine->freeze_requests_seen) && !engine->replaying) {
        /* A pull's word can show before its halt_requests add has counted
         * (one stored over an unfreeze's mark while the machine was HALTED
         * already, so the control below publishes nothing that would meet
         * it): the word itself is looked at first, so that its record is in
         * the ring before the pull is said to be acted on (helper-42). */
        (void)rl_engine_take_in_halt(engine, true);
        if (requests > engine->freeze_requests_seen) engine->freeze_requests_seen = requests;
        /* value 0: no request id; the orchestrator's record says where it came from. */
        rl_engine_control(engine, RL_TRADING_MANUAL_FREEZE, RL_SYMBOL_NONE, (int64_t)requests, 0);
        rl_engine_freeze_requests_acted_on(engine);
        if (!rl_engine_journal_room(engine)) return;
    }
    /* relaxed: a count (rl_engine_heartbeat); the stamp is this side's own clock. */
    uint64_t beats = atomic_load_explicit(&engine->heartbeats, memory_order_relaxed);
    if (RL_UNLIKELY(beats != engine->heartbeats_seen) && !engine->replaying) {
        engine->heartbeats_seen = beats;
        /* relaxed: monitoring value, single writer (as for a HEARTBEAT event). */
        atomic_store_explicit(&engine->last_heartbeat_ns, rl_engine_now_ns(engine) | 1, memory_order_relaxed);
    }
    if (!engine->replaying && engine->daily_loss_limit > 0) rl_engine_new_day(engine);
    /* relaxed: configuration written by this same risk side. */
    uint64_t timeout = atomic_load_explicit(&engine->heartbeat_timeout_ns, memory_order_relaxed);
    if (engine->replaying) return;
    bool strategies = engine->watch_count != 0 && (timeout != 0 || rl_engine_strategies_halted(engine) != 0);
    /* relaxed, both: configuration written by this same risk side. */
    uint64_t stale = atomic_load_explicit(&engine->stale_data_ns, memory_order_relaxed);
    uint64_t backpressure = engine->journal != NULL ? atomic_load_explicit(&engine->backpressure_ns, memory_order_relaxed) : 0;
    if (timeout == 0 && engine->breaker.lift_at_ns == 0 && !strategies && stale == 0 && backpressure == 0) return;
    uint64_t now = rl_engine_now_ns(engine);
    /* The feed and the journal, engine-wide transient halts (the breaker lifts them). */
    if (stale != 0 && rl_engine_older_than(engine->last_mark_ns, now, stale) && engine->trading.state != RL_STATE_HALTED) {
        rl_engine_control(engine, RL_TRADING_STALE_DATA, RL_SYMBOL_NONE, (int64_t)stale, (int64_t)(now - engine->last_mark_ns));
    }
    if (backpressure != 0) {
        if (!rl_engine_journal_behind(engine)) {
            engine->backlog_since_ns = 0;
        } else if (engine->backlog_since_ns == 0) {
            engine->backlog_since_ns = now | 1;
        } else if (rl_engine_older_than(engine->backlog_since_ns, now, backpressure) &&
                   engine->trading.state != RL_STATE_HALTED && rl_engine_journal_room(engine)) {
            rl_engine_control(engine, RL_TRADING_JOURNAL_BACKPRESSURE, RL_SYMBOL_NONE, (int64_t)backpressure,
                              (int64_t)rl_spsc_depth(engine->journal));
        }
    }
    if (strategies) rl_engine_tick_strategies(engine, now, timeout);
    if (!rl_engine_journal_room(engine)) return;
    /* The breaker lifts a transient halt once its cooldown ran and its cause
     * is gone: a feed still stale, a journal still behind, an engine
     * heartbeat still missing keep it (and the lift waits for them). */
    if (engine->breaker.lift_at_ns != 0 && now >= engine->breaker.lift_at_ns &&
        !rl_engine_cause_persists(engine, now, timeout, stale, backpressure) &&
        rl_breaker_tick(&engine->breaker, now) == RL_BREAKER_LIFT) {
        /* relaxed: as in rl_engine_breaker_follow. */
        atomic_store_explicit(&engine->breaker_cooldown_ns, 0, memory_order_relaxed);
        rl_engine_control(engine, RL_TRADING_CIRCUIT_BREAKER, RL_SYMBOL_NONE, (int64_t)engine->breaker.cooldown_ns, 0);
    }
    /* relaxed: written by this same risk side. */
    uint64_t last = atomic_load_explicit(&engine->last_heartbeat_ns, memory_order_relaxed);
    if (timeout != 0 && rl_engine_older_than(last, now, timeout) && engine->trading.state != RL_STATE_HALTED) {
        rl_engine_control(engine, RL_TRADING_HEARTBEAT_LOST, RL_SYMBOL_NONE, (int64_t)timeout, (int64_t)(now - last));
    }
}

int rl_engine_set_strategy_limits(rl_engine_t *engine, const rl_strategy_limits_t *limits) {
    if (rl_strategy_limits_validate(limits) != 0) return -EINVAL;
    rl_position_table_publish_strategy_limits(engine->table, limits, engine->cycles_per_ns);
    engine->strategy_limits = *limits;
    return 0;
}

int rl_engine_set_breaker(rl_engine_t *engine, const rl_breaker_config_t *config) {
    if (rl_breaker_config_check(config) != 0) return -EINVAL;
    engine->breaker.config = *config;
    /* Turned off: a lift already scheduled does not happen either. */
    if (config->cooldown_ns == 0) {
        rl_breaker_cancel(&engine->breaker);
        /* relaxed: a monitoring value with a single writer. */
        atomic_store_explicit(&engine->breaker_cooldown_ns, 0, memory_order_relaxed);
    }
    return 0;
}

/* A published change, for the orchestrator's history and the journal. */
static void rl_engine_record_change(rl_engine_t *engine, rl_trading_input_t input, uint32_t symbol, int64_t qty,
                                    int64_t value, uint64_t before, uint64_t word, uint16_t strategy) {
    engine->published = word;
    RL_SINGLE_WRITER_ADD(&engine->state_changes, 1);
    rl_event_t record = {0};
    record.type = RL_EVENT_STATE_CHANGE;
    record.side = (uint8_t)input;
    record.symbol = symbol;
    record.order_id = word;
    record.price = (int64_t)before;
    record.qty = qty;
    record.value = value;
    record.timestamp_ns = rl_realtime_ns();
    record.strategy = strategy;
    if (rl_spsc_push(engine->states, &record) != RL_OK) RL_SINGLE_WRITER_ADD(&engine->state_records_dropped, 1);
    /* The step made room for it (RL_JOURNAL_ROOM_PER_EVENT), unless the journal is failing. */
    if (engine->journal != NULL && rl_spsc_push(engine->journal, &record) != RL_OK) {
        RL_SINGLE_WRITER_ADD(&engine->journal_unrecorded, 1);
    }
}

/* Make `next` visible: the book word first (what a raising check decides in,
 * in the same CAS that accepts it), then the freeze word routers poll, by
 * CAS from the last word the controller made visible. The CAS fails only
 * when a halt from outside (rl_engine_halt_now) is showing: returns 0, and
 * nothing is stored over it. Otherwise returns the new word. */
static uint64_t rl_engine_show(rl_engine_t *engine, rl_trading_t next) {
    RL_HOOK("show:begin");
    rl_position_table_advance(engine->table, (rl_trading_state_t)next.state);
    RL_HOOK("book:advanced");
    uint64_t expected = engine->published;
    uint64_t word = rl_freeze_pack(next.state, next.reason, rl_freeze_word_epoch(expected) + 1);
    /* release: pairs with rl_freeze_load's acquire in routers and checkers;
     * relaxed on failure: the caller reloads the word it takes in. */
    bool shown = atomic_compare_exchange_strong_explicit(&engine->freeze.word, &expected, word, memory_order_release,
                                                         memory_order_relaxed);
    RL_HOOK("show:end");
    if (!shown) return 0;
    /* relaxed: a measurement; written here and by rl_engine_halt_now. */
    atomic_store_explicit(&engine->state_published_cycles, rl_clock_cycles(), memory_order_relaxed);
    return word;
}

/* The cause of the outside halt whose word shows: the winner writes it,
 * tagged with its word, right after its CAS; wait for it a moment (the
 * winner is a few instructions away). The tag read before and after the
 * value: a pair. A winner descheduled between its CAS and its tag leaves
 * the word's reason alone, with no strategy and no value: the last
 * request's cause may be a loser's, and the record never names one. */
static uint64_t rl_engine_shown_cause(rl_engine_t *engine, uint64_t word, int64_t *qty, int64_t *value) {
    for (int spins = 0; spins < 1024; spins++) {
        /* acquire: pairs with the winner's release store of the tag, after its value and quantity. */
        uint64_t first = atomic_load_explicit(&engine->halt_detail_tag, memory_order_acquire);
        if (rl_halt_tag_names(first, word)) {
            /* relaxed, both: ordered by the acquire above; the fence orders them before the second look. */
            int64_t v = atomic_load_explicit(&engine->halt_detail_value, memory_order_relaxed);
            int64_t q = atomic_load_explicit(&engine->halt_detail_qty, memory_order_relaxed);
            atomic_thread_fence(memory_order_acquire);
            /* relaxed: the fence above orders it after the value and quantity. */
            if (atomic_load_explicit(&engine->halt_detail_tag, memory_order_relaxed) == first) {
                *value = v;
                *qty = q;
                return rl_halt_tag_cause(first);
            }
        }
        rl_cpu_relax();
    }
    RL_SINGLE_WRITER_ADD(&engine->halt_causes_unattributed, 1); /* the risk side is the only writer */
    *value = 0;
    *qty = 0;
    return rl_halt_cause_pack(rl_freeze_word_reason(word), 0);
}

/* Whether an unfreeze's lifting mark was last made at `word`'s epoch. */
static bool rl_engine_marked_at(const rl_engine_t *engine, uint64_t word) {
    return engine->marked_word != 0 && rl_freeze_word_epoch(engine->marked_word) == rl_freeze_word_epoch(word);
}

/* A record's word before: the halt, not an unfreeze's lifting mark of it
 * (rl_engine_mark_lifting renames only its reason): the word the mark
 * renamed, which the previous record ended at. Its reason may not be the
 * machine's: an edge collapse adopted over a mark of the kill switch shows
 * its own reason while the machine keeps the kill switch's. */
static uint64_t rl_engine_unmarked(const rl_engine_t *engine, uint64_t word, uint8_t halted_for) {
    if (rl_freeze_word_reason(word) != RL_FREEZE_REASON_LIFTING) return word;
    if (rl_engine_marked_at(engine, word)) return engine->marked_word;
    return rl_freeze_pack(RL_STATE_HALTED, halted_for, rl_freeze_word_epoch(word));
}

/* Take in a halt made outside the controller (rl_engine_halt_now): its
 * book request, its freeze word, or both. The machine goes HALTED as if the
 * edge collapse (manual freeze, unrecordable fill) had arrived here; a word already showing
 * is adopted as it is (routers already acted on its epoch), else one is
 * published; the change is recorded like any other. Only then is the book's
 * request cleared: from there the state bits hold the halt. */
static bool rl_engine_take_in_halt(rl_engine_t *engine, bool shown_now) {
    if (engine->replaying) return false;
    /* The common case, nothing from outside, reads no line a halter writes:
     * a halter knocks after its count, so the count is looked at only after
     * a knock (taken by the runtime, or still set), or `shown_now` (a CAS of
     * ours just failed over a word). Loaded at every tick, the count's line
     * was in this core's cache at each halt, and the halter's stores before
     * its word waited to take it back. Every RL_ENGINE_HALT_LOOK_TICKS calls
     * (ticks, and controls that take in first) it is looked at regardless:
     * C11 does not promise that a knock stored over another thread's knock
     * carries the first one's count (x86-64 and arm64 do). The book's line,
     * which every raising check takes, and the freeze word's, only when a
     * halt has come. A halt whose count has not moved yet is taken in at the
     * tick that sees it move: until then its request is in the book, where
     * every check sees it, and our word CAS cannot hide its word. */
    /* acquire: pairs with rl_engine_knock's release store; a knock seen here
     * carries the count the halter added before it (a plain load on x86-64). */
    if (!shown_now && !engine->knock_taken &&
        atomic_load_explicit(&engine->lane_doorbell, memory_order_acquire) == 0 &&
        ++engine->ticks_since_halt_look < RL_ENGINE_HALT_LOOK_TICKS) {
        return false;
    }
    engine->knock_taken = false;
    engine->ticks_since_halt_look = 0;
    /* acquire: pairs with rl_engine_halt_now's release add, after its book request and word. */
    uint64_t halts = atomic_load_explicit(&engine->halt_requests, memory_order_acquire);
    if (RL_LIKELY(halts == engine->halt_requests_seen) && !shown_now) return false;
    engine->halt_requests_seen = halts;
    for (;;) {
        rl_pair_value_t book = rl_pair_load(&engine->table->book);
        uint64_t word = rl_freeze_load(&engine->freeze);
        bool requested = (book.hi & RL_BOOK_HALT_REQUESTED) != 0, shown = word != engine->published;
        if (!requested && !shown) return false;
        int64_t value, qty;
        uint64_t cause;
        if (shown) {
            cause = rl_engine_shown_cause(engine, word, &qty, &value);
        } else {
            /* relaxed, all three: published by the book request's OR in rl_engine_halt_now:
             * a request taken in before its word shows records this cause. */
            cause = atomic_load_explicit(&engine->halt_cause, memory_order_relaxed);
            value = atomic_load_explicit(&engine->halt_value, memory_order_relaxed);
            qty = atomic_load_explicit(&engine->halt_qty, memory_order_relaxed);
        }
        rl_freeze_reason_t reason = shown ? rl_freeze_word_reason(word) : rl_halt_cause_reason(cause);
        bool manual = reason == RL_FREEZE_REASON_MANUAL, unknown = reason == RL_FREEZE_REASON_UNRECORDABLE;
        /* An unrecordable fill's request over another persistent halt takes
         * it over (rl_trading_next), as its ring event would: published here. */
        rl_trading_input_t input = manual    ? RL_TRADING_MANUAL_FREEZE
                                   : unknown ? RL_TRADING_UNRECORDABLE
                                             : RL_TRADING_EDGE_COLLAPSE;
        rl_trading_t before = engine->trading;
        rl_trading_transition_t t = rl_trading_next(before, input);
        uint64_t visible = engine->published;
        /* Over an unfreeze's lifting mark (rl_engine_mark_lifting) a halt is
         * published even when the machine is HALTED already: its word shows
         * over the mark, or one is published over it, so that the halter's
         * CAS from the mark fails and the lift's fails too. Clearing its
         * request with the mark still showing would let the lift's book step
         * pass raising checks while the halter's word is yet to land (helper-41). */
        bool publish = t.publish || rl_freeze_word_reason(engine->published) == RL_FREEZE_REASON_LIFTING;
        /* Nor is a request cleared at an epoch an unfreeze has marked (and
         * unmarked): a halter that read that mark may still CAS from it, and
         * a later mark of the same epoch is the same word, so its CAS would
         * land with its request gone and the lift's book step would let a
         * raising check through (ABA; halt.pml, BOUNDED_UNFREEZE, found it).
         * A new word here makes that CAS fail. */
        if (requested && !shown && rl_engine_marked_at(engine, engine->published)) publish = true;
        if (publish) {
            if (shown) {
                /* Its word shows HALTED for this reason (the machine was not
                 * HALTED, or HALTED for a transient reason, which an outside
                 * halt stores over, or the mark): adopt it. */
                rl_position_table_advance(engine->table, RL_STATE_HALTED);
                visible = word;
            } else if ((visible = rl_engine_show(engine, t.next)) == 0) {
                continue; /* its word landed meanwhile: adopt it */
            }
        } else if (shown) {
            visible = word; /* cannot happen (an outside halt never stores over a persistent halt); keep it */
            engine->published = word;
        }
        engine->trading = t.next;
        if (manual) {
            /* acquire: pairs with rl_engine_request_freeze's release add; it is taken in here. */
            engine->freeze_requests_seen = atomic_load_explicit(&engine->freeze_requests, memory_order_acquire);
        }
        if (publish) {
            rl_engine_record_change(engine, input, RL_SYMBOL_NONE,
                                    manual    ? (int64_t)engine->freeze_requests_seen
                                    : unknown ? qty
                                              : rl_engine_edge_threshold(engine),
                                    manual ? 0 : value, rl_engine_unmarked(engine, engine->published, before.reason), visible,
                                    rl_halt_cause_strategy(cause));
        }
        if (manual) rl_engine_freeze_requests_acted_on(engine);
        rl_position_table_clear_halt_request(engine->table);
        /* An outside halt adopted over an unfreeze's mark of a book no longer
         * known shows its own reason (an edge collapse, a pull), while the
         * machine keeps unrecordable_fill, which takes over any halt: that
         * word would hide it from the operator who lifts it, and from a
         * restart, which restores the last record's word. It is shown again
         * over it, with its record (helper-42). */
        if (shown && t.next.state == RL_STATE_HALTED && t.next.reason == RL_FREEZE_REASON_UNRECORDABLE &&
            rl_freeze_word_reason(visible) != RL_FREEZE_REASON_UNRECORDABLE) {
            uint64_t again = rl_engine_show(engine, t.next);
            if (again != 0) rl_engine_record_change(engine, RL_TRADING_UNRECORDABLE, RL_SYMBOL_NONE, 0, 0, visible, again, 0);
        }
        if (t.publish) rl_engine_breaker_follow(engine, (rl_freeze_reason_t)t.next.reason, input,
                                                (rl_freeze_reason_t)before.reason);
        return true;
    }
}

/* Feed `input` to the trading-state machine and publish what it decides.
 * False only for a lift that met a halt landing while it was published: the
 * halt stands, and the lift's caller is told so. */
static bool rl_engine_control(rl_engine_t *engine, rl_trading_input_t input, uint32_t symbol, int64_t qty,
                              int64_t value) {
    /* A halt from outside goes first: the machine decides from what routers
     * see. Before a lift, look at the book itself: a request whose count has
     * not moved yet must not be lifted with the halt it stands on. */
    bool lift = input == RL_TRADING_UNFREEZE || input == RL_TRADING_CIRCUIT_BREAKER;
    bool book_unknown_before = engine->trading.state == RL_STATE_HALTED &&
                               engine->trading.reason == RL_FREEZE_REASON_UNRECORDABLE;
    uint64_t published_before = engine->published;
    (void)rl_engine_take_in_halt(engine, lift);
    if (lift && rl_freeze_word_reason(published_before) == RL_FREEZE_REASON_LIFTING &&
        engine->published != published_before) {
        /* A kill switch pulled while this unfreeze was decided, over its
         * mark (rl_engine_mark_lifting): taken in, it stands. */
        return false;
    }
    if (lift && !book_unknown_before && engine->trading.state == RL_STATE_HALTED &&
        engine->trading.reason == RL_FREEZE_REASON_UNRECORDABLE) {
        /* The take-in brought a book no longer known in (an unrecordable
         * fill's halt, or its request over the halt being lifted): the lift
         * meant another halt. It stops, as over a halt that lands while it
         * is published: an operator lifts this one knowingly. */
        return false;
    }
    for (;;) {
        rl_trading_t before = engine->trading;
        rl_trading_transition_t t = rl_trading_next(before, input);
        engine->trading = t.next;
        if (!t.publish || engine->replaying) return true;
        uint64_t published = engine->published, word = rl_engine_show(engine, t.next);
        published = rl_engine_unmarked(engine, published, before.reason);
        if (word == 0) {
            /* A halt from outside landed since: it goes first, then this input
             * again, from the halted machine. Its word is HALTED, so no other
             * outside halt can land before the retry. Not a lift: the halt
             * that landed while it was being published is newer than the
             * unfreeze (or the breaker's lift) and stands; an operator who
             * still means it unfreezes again. */
            engine->trading = before;
            (void)rl_engine_take_in_halt(engine, true);
            if (lift) return false;
            continue;
        }
        rl_engine_record_change(engine, input, symbol, qty, value, published, word, engine->applying_strategy);
        rl_engine_breaker_follow(engine,
                                 t.next.state == RL_STATE_HALTED ? (rl_freeze_reason_t)t.next.reason : RL_FREEZE_REASON_NONE,
                                 input, (rl_freeze_reason_t)before.reason);
        return true;
    }
}

/* A symbol's flag "over its limit": set above the limit, cleared only under
 * the resume share of it (hysteresis). Reports a breach to the controller. */
static void rl_engine_evaluate_symbol(rl_engine_t *engine, uint32_t symbol, int64_t exposure) {
    int64_t limit = rl_position_table_limit(engine->table, symbol);
    if (exposure > limit) {
        if (!engine->over[symbol]) {
            engine->over[symbol] = 1;
            engine->over_count++;
        }
        rl_engine_control(engine, RL_TRADING_LIMIT_BREACH, symbol, limit, exposure);
        return;
    }
    if (engine->over[symbol]) {
        int64_t resume;
        if (!rl_fp_notional_ceil(limit, rl_engine_resume_share(engine), &resume)) resume = limit;
        if (exposure <= resume) {
            engine->over[symbol] = 0;
            engine->over_count--;
        }
    }
}

/* After each batch: leave REDUCING once every symbol and the book are under
 * the resume share of their limits. The total over-counts, never under. */
static void rl_engine_evaluate_cleared(rl_engine_t *engine) {
    if (!engine->trading.breached || engine->over_count != 0) return;
    int64_t max_total = rl_position_table_max_total(engine->table), resume;
    if (!rl_fp_notional_ceil(max_total, rl_engine_resume_share(engine), &resume)) resume = max_total;
    int64_t total = rl_engine_total(engine);
    if (total <= resume) rl_engine_control(engine, RL_TRADING_LIMITS_CLEARED, RL_SYMBOL_NONE, max_total, total);
}

/* ---- Risk-side moves of a side word -------------------------------------- */

/* Replace side `side` of `symbol` from `cur` (as read) to `next`, keeping the
 * total and the credit as rl_position_table.h requires. A raise caused by the
 * risk side (a market move, a venue over-fill) that would breach a limit
 * enters REDUCING before it is published. Returns false if the side moved
 * since `cur` was read (*cur then holds its value): recompute and retry. */
static bool rl_engine_replace_side(rl_engine_t *engine, uint32_t symbol, rl_side_t side, rl_pair_value_t *cur,
                                   rl_pair_value_t next) {
    rl_position_table_t *table = engine->table;
    rl_pair_t *word = &table->slots[symbol].sides[side];
    int64_t before = rl_side_exposure(cur->lo, cur->hi);
    int64_t after = rl_side_exposure(next.lo, next.hi);
    RL_HOOK("risk:before_side");
    if (after > before) {
        /* Charge first: the total is never behind the sides. Then, before the
         * raise is published, REDUCING if it breaches a limit: the side's, or
         * the book's as the total now stands, which includes every raise a
         * checker has been accepted for (so none can slip in after it). */
        rl_engine_charge(engine, after - before);
        int64_t limit = rl_position_table_limit(table, symbol);
        /* The overlap this raise creates with the other side is granted back
         * as credit when the symbol settles; judge the book as it will stand
         * then. Only the risk side lowers a side, so the overlap cannot shrink
         * before that. The other side is read BEFORE the total: an order that
         * does not raise its side (no limit check: it never raises the book's
         * true exposure) charges the total before it publishes its side, so a
         * total read after the side holds the charge of every overlap the
         * side shows. Read the other way round, an overlap such an order
         * published between the two reads was subtracted without its charge,
         * and a raise past the book's limit was judged within it
         * (interleavings.c, case 8). */
        /* acquire (rl_pair_load): pairs with the full barrier of the other
         * side's CAS, which follows its order's charge of the total. */
        int64_t other = rl_position_table_side_exposure(table, symbol, (rl_side_t)(side ^ 1));
        RL_HOOK("risk:judge");
        int64_t total = rl_engine_total(engine), max_total = rl_position_table_max_total(table);
        int64_t overlap = after < other ? after : other;
        /* relaxed: the risk side is the only writer of credit. */
        int64_t credit = atomic_load_explicit(&table->risk[symbol].credit, memory_order_relaxed);
        if (overlap > credit) total -= overlap - credit;
        if (after > limit) {
            rl_engine_control(engine, RL_TRADING_LIMIT_BREACH, symbol, limit, after);
        } else if (total > max_total) {
            rl_engine_control(engine, RL_TRADING_LIMIT_BREACH, RL_SYMBOL_NONE, max_total, total);
        }
        if (rl_pair_cas(word, cur, next)) return true;
        rl_engine_refund(engine, after - before);
        return false;
    }
    /* Lower the credit to what this side will still have (charging first),
     * then the side, then give back what it lost. */
    rl_position_risk_t *risk = &table->risk[symbol];
    /* relaxed: the risk side is the only writer of credit. */
    int64_t credit = atomic_load_explicit(&risk->credit, memory_order_relaxed);
    if (credit > after) {
        rl_engine_charge(engine, credit - after);
        /* relaxed: after the charge in program order; readers are monitors. */
        atomic_store_explicit(&risk->credit, after, memory_order_relaxed);
    }
    if (!rl_pair_cas(word, cur, next)) return false;
    if (after < before) rl_engine_refund(engine, before - after);
    return true;
}

/* Move a side's extent by `delta` and value it at `price` (0: keep; < 0 for a
 * provisional price, which only rises). False if the extent would overflow. */
static bool rl_engine_move_side(rl_engine_t *engine, uint32_t symbol, rl_side_t side, int64_t delta, int64_t price) {
    rl_pair_value_t cur = rl_pair_load(&engine->table->slots[symbol].sides[side]);
    for (;;) {
        rl_pair_value_t next = cur;
        if (__builtin_add_overflow(cur.lo, delta, &next.lo) || next.lo >= RL_FP_EXPOSURE_CAP ||
            next.lo <= -RL_FP_EXPOSURE_CAP) {
            return false;
        }
        if (price > 0) next.hi = price;
        if (price < 0 && cur.hi <= 0 && price < cur.hi) next.hi = price;
        if (rl_engine_replace_side(engine, symbol, side, &cur, next)) return true;
    }
}

/* The working quantity on `side`, from its extent and the position. */
static int64_t rl_engine_working(int64_t extent, int64_t position, rl_side_t side) {
    return side == RL_SIDE_BUY ? extent - position : extent + position;
}

/* Release up to `qty` of working quantity on `side`, never below zero.
 * Returns what was released. */
static int64_t rl_engine_release(rl_engine_t *engine, uint32_t symbol, rl_side_t side, int64_t qty) {
    rl_position_slot_t *slot = &engine->table->slots[symbol];
    int64_t position = rl_position_table_position(engine->table, symbol);
    rl_pair_value_t cur = rl_pair_load(&slot->sides[side]);
    for (;;) {
        int64_t working = rl_engine_working(cur.lo, position, side);
        int64_t released = qty < working ? qty : (working > 0 ? working : 0);
        if (released == 0) return 0;
        if (rl_engine_replace_side(engine, symbol, side, &cur, (rl_pair_value_t){cur.lo - released, cur.hi})) {
            return released;
        }
    }
}

/* The book's P&L moved by `delta`: publish it, raise the peak, and report a
 * drawdown or a day's loss past its limit (persistent halts). */
static void rl_engine_pnl_moved(rl_engine_t *engine, int64_t delta) {
    rl_pnl_book_t *b = &engine->book_pnl;
    b->equity = rl_pnl_clamp((__int128)b->equity + delta);
    if (b->equity > b->peak) b->peak = b->equity;
    /* relaxed: monitoring values with a single writer. */
    atomic_store_explicit(&engine->pnl_published[RL_PNL_EQUITY], b->equity, memory_order_relaxed);
    atomic_store_explicit(&engine->pnl_published[RL_PNL_PEAK], b->peak, memory_order_relaxed);
    /* Recovery rebuilds the P&L, it does not decide: rl_engine_evaluate_limits
     * judges the result once the journal is replayed. */
    if (engine->replaying) return;
    int64_t drawdown = b->peak - b->equity, day_loss = b->day_start - b->equity;
    if (engine->max_drawdown > 0) {
        if (drawdown > engine->max_drawdown && !b->drawn) {
            b->drawn = true;
            rl_engine_control(engine, RL_TRADING_DRAWDOWN, RL_SYMBOL_NONE, engine->max_drawdown, drawdown);
        } else if (drawdown <= engine->max_drawdown) {
            b->drawn = false;
        }
    }
    if (engine->daily_loss_limit > 0 && day_loss > engine->daily_loss_limit && !b->lost) {
        b->lost = true;
        rl_engine_control(engine, RL_TRADING_DAILY_LOSS, RL_SYMBOL_NONE, engine->daily_loss_limit, day_loss);
    }
}

static void rl_engine_set_position(rl_engine_t *engine, uint32_t symbol, int64_t position, int64_t mark) {
    int64_t before = rl_position_table_position(engine->table, symbol);
    rl_position_table_set_position(engine->table, symbol, position, mark);
    if (mark <= 0) return;
    rl_pnl_symbol_t *p = &engine->pnl[symbol];
    int64_t realized = p->realized, unrealized = p->unrealized;
    int64_t delta = rl_pnl_trade(p, before, position, mark, mark);
    /* relaxed: monitoring values with a single writer (the risk side). */
    atomic_store_explicit(&engine->pnl_published[RL_PNL_REALIZED],
                          atomic_load_explicit(&engine->pnl_published[RL_PNL_REALIZED], memory_order_relaxed) +
                              (p->realized - realized), memory_order_relaxed);
    atomic_store_explicit(&engine->pnl_published[RL_PNL_UNREALIZED],
                          atomic_load_explicit(&engine->pnl_published[RL_PNL_UNREALIZED], memory_order_relaxed) +
                              (p->unrealized - unrealized), memory_order_relaxed);
    /* relaxed, both: monitoring values with a single writer (the risk side). */
    atomic_store_explicit(&engine->table->risk[symbol].realized, p->realized, memory_order_relaxed);
    atomic_store_explicit(&engine->table->risk[symbol].unrealized, p->unrealized, memory_order_relaxed);
    if (delta != 0) rl_engine_pnl_moved(engine, delta);
}

int rl_engine_restore_position(rl_engine_t *engine, uint32_t symbol, const rl_position_view_t *state) {
    int rc = rl_position_table_restore(engine->table, symbol, state);
    if (rc != 0) return rc;
    /* The snapshot has the position at its mark, not its history: P&L starts there. */
    engine->pnl[symbol] = (rl_pnl_symbol_t){state->position != 0 ? state->mark : 0, 0, 0};
    /* relaxed, both: as in rl_engine_set_position. */
    atomic_store_explicit(&engine->table->risk[symbol].realized, 0, memory_order_relaxed);
    atomic_store_explicit(&engine->table->risk[symbol].unrealized, 0, memory_order_relaxed);
    return 0;
}

/* The symbol's mark is fresh now, by the engine's clock: called once both
 * side words carry it, never before, so no check sees a stale price stamped
 * fresh. A replayed mark is history, not a price seen now: it stays stale
 * until a fresh one. */
static void rl_engine_stamp_mark(rl_engine_t *engine, uint32_t symbol) {
    if (engine->replaying) return;
    rl_position_table_stamp_mark(engine->table, symbol);
    /* The feed's freshness (stale_data), only when a guard watches it: the clock read costs. */
    /* relaxed: configuration written by this same risk side. */
    if (atomic_load_explicit(&engine->stale_data_ns, memory_order_relaxed) != 0) {
        engine->last_mark_ns = rl_engine_now_ns(engine) | 1;
    }
}

/* `qty` of working orders on `side` filled at `price`. The position moves by
 * all of it; what exceeds the working quantity is an anomaly, added to the
 * side as an unreserved position change. `price` becomes the mark. Returns
 * the excess, or -1 if the position would overflow (nothing changed). */
static int64_t rl_engine_fill(rl_engine_t *engine, uint32_t symbol, rl_side_t side, int64_t qty, int64_t price) {
    rl_position_table_t *table = engine->table;
    int64_t position = rl_position_table_position(table, symbol);
    int64_t signed_qty = side == RL_SIDE_BUY ? qty : -qty, next_position;
    if (__builtin_add_overflow(position, signed_qty, &next_position) || rl_fp_abs(next_position) >= RL_FP_EXPOSURE_CAP ||
        qty >= RL_FP_EXPOSURE_CAP) {
        return -1;
    }
    /* The own side: its extent stays (working turns into position), except for
     * an excess over what was working, computed from the exact value the CAS
     * replaces. Checkers may only raise it meanwhile. */
    rl_pair_t *own = &table->slots[symbol].sides[side];
    rl_pair_value_t cur = rl_pair_load(own);
    int64_t excess;
    for (;;) {
        int64_t working = rl_engine_working(cur.lo, position, side);
        excess = qty > working ? qty - (working > 0 ? working : 0) : 0;
        if (cur.lo + excess >= RL_FP_EXPOSURE_CAP) return -1;
        if (rl_engine_replace_side(engine, symbol, side, &cur, (rl_pair_value_t){cur.lo + excess, price})) break;
    }
    rl_engine_set_position(engine, symbol, next_position, price);
    /* The other side's extent drops by qty (a buy fill: working sells - position). */
    rl_engine_move_side(engine, symbol, (rl_side_t)(side ^ 1), -qty, price);
    rl_engine_stamp_mark(engine, symbol);
    return excess;
}

/* Would both sides, moved by these deltas and valued at `price`, stay under
 * the saturation cap? A valuation at the cap saturates the book total, which
 * then stays saturated (fail closed) even after the price is corrected, so
 * marks and adjustments that would reach it are refused instead. */
static bool rl_engine_valuable(const rl_engine_t *engine, uint32_t symbol, int64_t buy_delta, int64_t sell_delta,
                               int64_t price) {
    rl_position_slot_t *slot = &engine->table->slots[symbol];
    rl_pair_value_t buy = rl_pair_load(&slot->sides[RL_SIDE_BUY]);
    rl_pair_value_t sell = rl_pair_load(&slot->sides[RL_SIDE_SELL]);
    return rl_side_exposure(buy.lo + buy_delta, price) < RL_FP_EXPOSURE_CAP &&
           rl_side_exposure(sell.lo + sell_delta, price) < RL_FP_EXPOSURE_CAP;
}

/* A signed position change with no reservation behind it, marked at `price`. */
static bool rl_engine_adjust(rl_engine_t *engine, uint32_t symbol, int64_t signed_qty, int64_t price, bool venue) {
    rl_position_table_t *table = engine->table;
    int64_t position = rl_position_table_position(table, symbol), next_position;
    if (signed_qty == INT64_MIN || rl_fp_abs(signed_qty) >= RL_FP_EXPOSURE_CAP ||
        __builtin_add_overflow(position, signed_qty, &next_position) || rl_fp_abs(next_position) >= RL_FP_EXPOSURE_CAP) {
        return false;
    }
    /* Lower first, raise second: the total and credit stay exact either way.
     * The raise can only fail on overflow; the lower cannot. */
    rl_side_t down = signed_qty >= 0 ? RL_SIDE_SELL : RL_SIDE_BUY;
    int64_t magnitude = rl_fp_abs(signed_qty);
    /* An operator's adjustment that would saturate is refused; a venue fill is
     * the truth and is recorded (the total saturates: fail closed). */
    if (!venue && !rl_engine_valuable(engine, symbol, down == RL_SIDE_SELL ? magnitude : 0,
                                      down == RL_SIDE_BUY ? magnitude : 0, price)) {
        return false;
    }
    rl_pair_value_t up = rl_pair_load(&table->slots[symbol].sides[down ^ 1]);
    if (up.lo + magnitude >= RL_FP_EXPOSURE_CAP) return false;
    rl_engine_move_side(engine, symbol, down, -magnitude, price);
    if (!rl_engine_move_side(engine, symbol, (rl_side_t)(down ^ 1), magnitude, price)) {
        rl_engine_move_side(engine, symbol, down, magnitude, 0); /* a checker raced it to the cap: undo */
        return false;
    }
    rl_engine_set_position(engine, symbol, next_position, price);
    rl_engine_stamp_mark(engine, symbol);
    return true;
}

/* A new reference price: both sides are valued at it. False (nothing
 * changed) if that valuation would saturate. */
static bool rl_engine_mark(rl_engine_t *engine, uint32_t symbol, int64_t price) {
    if (!rl_engine_valuable(engine, symbol, 0, 0, price)) return false;
    rl_engine_set_position(engine, symbol, rl_position_table_position(engine->table, symbol), price);
    /* A falling price first lowers, a rising one raises: order does not matter for the invariants. */
    rl_engine_move_side(engine, symbol, RL_SIDE_BUY, 0, price);
    rl_engine_move_side(engine, symbol, RL_SIDE_SELL, 0, price);
    rl_engine_stamp_mark(engine, symbol);
    return true;
}

/* After the risk side touched a symbol: grant back the overlap, re-evaluate its flag. */
static void rl_engine_settle(rl_engine_t *engine, uint32_t symbol) {
    int64_t exposure = rl_engine_refresh_credit(engine, symbol);
    if (!engine->replaying) rl_engine_evaluate_symbol(engine, symbol, exposure);
}

/* ---- Operator requests ---------------------------------------------------- */

/* Put `limit` (valid, within the book's limit in force) in force for `symbol`. */
static void rl_engine_put_symbol_limit(rl_engine_t *engine, uint32_t symbol, int64_t limit) {
    int64_t exposure = rl_position_table_exposure(engine->table, symbol);
    /* A limit lowered under the exposure is a breach: REDUCING before it is in force. */
    if (exposure > limit) rl_engine_control(engine, RL_TRADING_LIMIT_BREACH, symbol, limit, exposure);
    rl_position_table_set_limit(engine->table, symbol, limit);
    rl_engine_evaluate_symbol(engine, symbol, rl_position_table_exposure(engine->table, symbol));
}

/* Put `max_total` in force for the book (every symbol limit in force is at most it). */
static void rl_engine_put_max_total(rl_engine_t *engine, int64_t max_total) {
    rl_position_table_t *table = engine->table;
    rl_engine_flush(engine);
    /* The new limit goes into the next generation's buffer; then one CAS on the
     * book word moves the generation and, judged on the exact total it
     * replaces (which holds every order accepted under the old limit), goes
     * REDUCING in the same step if that total is over the new limit. */
    int64_t hi = atomic_load_explicit(&table->book.hi, memory_order_relaxed); /* relaxed: generation and state, the controller's alone (a halter ORs bit 7) */
    uint64_t next = (RL_BOOK_GENERATION(hi) + 1) & 1;
    /* relaxed: published by the full barrier of the book CAS below. */
    atomic_store_explicit(&table->max_total[next], max_total, memory_order_relaxed);
    rl_pair_value_t book = rl_pair_load(&table->book);
    bool over;
    for (;;) {
        over = book.lo > max_total;
        rl_trading_state_t state = RL_BOOK_STATE(book.hi);
        rl_trading_state_t next_state = state == RL_STATE_ACTIVE && over ? RL_STATE_REDUCING : state;
        if (rl_pair_cas(&table->book, &book,
                        (rl_pair_value_t){book.lo, RL_BOOK_HI(RL_BOOK_GENERATION(book.hi) + 1, next_state) |
                                                       (book.hi & RL_BOOK_HALT_REQUESTED)})) {
            break;
        }
    }
    /* relaxed: only checkers of the old generation read it, and their CAS fails. */
    atomic_store_explicit(&table->max_total[next ^ 1], max_total, memory_order_relaxed);
    /* The machine, the freeze word and the record follow. */
    if (over) rl_engine_control(engine, RL_TRADING_LIMIT_BREACH, RL_SYMBOL_NONE, max_total, book.lo);
}

/* Every limit in force again from the bases and the scales: the book's
 * first when it rises, last when it falls, so a symbol's limit is never
 * above the book's in force. */
static void rl_engine_rescale(rl_engine_t *engine) {
    int64_t max_total = rl_engine_scale(engine->base_max_total, engine->schedule_scale);
    int64_t before = rl_position_table_max_total(engine->table);
    bool rises = max_total >= before;
    if (rises && max_total != before) rl_engine_put_max_total(engine, max_total);
    uint32_t count = rl_position_table_count(engine->table);
    for (uint32_t id = 0; id < count; id++) {
        int64_t limit = rl_engine_scaled_limit(engine, id, max_total);
        if (limit != rl_position_table_limit(engine->table, id)) rl_engine_put_symbol_limit(engine, id, limit);
    }
    if (!rises) rl_engine_put_max_total(engine, max_total);
}

/* A time-of-day schedule's scale on every limit (RL_CONTROL_SET_LIMIT_SCALE). */
static int rl_engine_set_limit_scale(rl_engine_t *engine, int64_t scale) {
    if (scale <= 0 || scale > RL_FP_SCALE) return -EINVAL;
    engine->schedule_scale = scale;
    rl_engine_rescale(engine);
    return 0;
}

/* An operator's maxInventoryUSD for `symbol`: at most the book's as set. */
static int rl_engine_set_symbol_limit(rl_engine_t *engine, uint32_t symbol, int64_t limit) {
    if (symbol >= rl_position_table_count(engine->table)) return -ENOENT;
    if (rl_limits_check(limit, engine->base_max_total, rl_engine_edge_threshold(engine),
                        rl_engine_resume_share(engine)) != RL_LIMITS_OK) {
        return -EINVAL;
    }
    engine->base_limit[symbol] = limit;
    rl_engine_put_symbol_limit(engine, symbol, rl_engine_scaled_limit(engine, symbol, rl_position_table_max_total(engine->table)));
    return 0;
}

/* An operator's maxTotalNotional: at least every symbol's as set. */
static int rl_engine_set_max_total(rl_engine_t *engine, int64_t max_total) {
    if (max_total <= 0 || max_total > RL_FP_MAX_LIMIT) return -EINVAL;
    uint32_t count = rl_position_table_count(engine->table);
    for (uint32_t id = 0; id < count; id++) {
        if (engine->base_limit[id] > max_total) return -EINVAL; /* symbol limit above the book's */
    }
    engine->base_max_total = max_total;
    rl_engine_rescale(engine);
    return 0;
}

/* A collar of `base` under `symbol`'s volatility scale: divided by it, so a
 * volatile market widens the band around the mark. */
static int64_t rl_engine_scaled_collar(const rl_engine_t *engine, uint32_t symbol, int64_t base) {
    if (base <= 0) return base;
    __int128 collar = (__int128)base * RL_FP_SCALE / rl_engine_collar_vol_scale(engine, symbol);
    return collar > RL_RULES_MAX_COLLAR_BPS ? RL_RULES_MAX_COLLAR_BPS : collar < 1 ? 1 : (int64_t)collar;
}

/* `symbol`'s collar in force after a new estimate, in place (as a mark's bounds). */
static void rl_engine_scale_collar(rl_engine_t *engine, uint32_t symbol) {
    int64_t base = engine->rules_in_force[symbol].collar_bps;
    if (base > 0) rl_position_table_set_collar(engine->table, symbol, rl_engine_scaled_collar(engine, symbol, base));
}

/* The scale a volatility estimate gives: reference / volatility, within [floor, cap]. */
static int64_t rl_engine_vol_scale_of(const rl_engine_t *engine, int64_t volatility) {
    __int128 scale = (__int128)engine->vol_reference * RL_FP_SCALE / volatility;
    return (int64_t)(scale < engine->vol_floor ? engine->vol_floor : scale > engine->vol_cap ? engine->vol_cap : scale);
}

/* A volatility estimate for `symbol`: its scale, and the limit and collar in force. */
static bool rl_engine_volatility(rl_engine_t *engine, uint32_t symbol, int64_t volatility) {
    if (symbol >= rl_position_table_count(engine->table) || volatility <= 0) return false;
    bool first = engine->vol_last[symbol] == 0;
    engine->vol_last[symbol] = volatility;
    if (engine->vol_reference <= 0) return true;
    int64_t scale = rl_engine_vol_scale_of(engine, volatility);
    if (!first && scale == engine->vol_scale[symbol]) return true;
    engine->vol_scale[symbol] = scale;
    rl_engine_put_symbol_limit(engine, symbol, rl_engine_scaled_limit(engine, symbol, rl_position_table_max_total(engine->table)));
    rl_engine_scale_collar(engine, symbol);
    return true;
}

/* Volatility scaling's settings: every symbol's scale again from its last estimate. */
static int rl_engine_set_volatility_scaling(rl_engine_t *engine, int64_t reference, int64_t floor, int64_t cap) {
    if (reference < 0 || (reference > 0 && (floor <= 0 || floor > cap || cap > 10 * RL_FP_SCALE))) return -EINVAL;
    engine->vol_reference = reference;
    engine->vol_floor = floor;
    engine->vol_cap = cap;
    uint32_t count = rl_position_table_count(engine->table);
    for (uint32_t id = 0; id < count; id++) {
        /* No estimate yet: rl_engine_*_vol_scale take the fail-closed end. */
        engine->vol_scale[id] = reference > 0 && engine->vol_last[id] > 0 ? rl_engine_vol_scale_of(engine, engine->vol_last[id])
                                                                           : RL_FP_SCALE;
    }
    rl_engine_rescale(engine);
    for (uint32_t id = 0; id < count; id++) rl_engine_scale_collar(engine, id);
    return 0;
}

/* The index of `symbol`'s rules (RL_SYMBOL_NONE: the defaults, at capacity), or -1. */
static int64_t rl_engine_rules_index(const rl_engine_t *engine, uint32_t symbol) {
    if (symbol == RL_SYMBOL_NONE) return engine->table->capacity;
    return symbol < rl_position_table_count(engine->table) ? (int64_t)symbol : -1;
}

static int rl_engine_stage_rule(rl_engine_t *engine, uint32_t symbol, int64_t field, int64_t value) {
    int64_t index = rl_engine_rules_index(engine, symbol);
    if (index < 0) return -ENOENT;
    rl_order_rules_t *rules = &engine->rules_staged[index];
    switch (field) {
    case RL_RULE_FIELD_MAX_ORDER_QTY: rules->max_order_qty = value; return 0;
    case RL_RULE_FIELD_MAX_ORDER_NOTIONAL: rules->max_order_notional = value; return 0;
    case RL_RULE_FIELD_COLLAR_BPS: rules->collar_bps = value; return 0;
    case RL_RULE_FIELD_STALE_AFTER_NS: rules->stale_after_ns = value; return 0;
    case RL_RULE_FIELD_FLAGS:
        if (value < 0 || value > UINT32_MAX) return -EINVAL;
        rules->flags = (uint32_t)value;
        return 0;
    case RL_RULE_FIELD_MAX_WORKING_ORDERS:
        if (value < 0 || value > UINT32_MAX) return -EINVAL;
        rules->max_working_orders = (uint32_t)value;
        return 0;
    }
    return -EINVAL;
}

/* Every staged rule in force in one move of the generation, or none. */
static int rl_engine_publish_rules(rl_engine_t *engine) {
    uint32_t count = rl_position_table_count(engine->table), capacity = engine->table->capacity;
    size_t bytes = ((size_t)capacity + 1) * sizeof(rl_order_rules_t);
    for (uint32_t i = 0; i <= capacity; i++) {
        if ((i < count || i == capacity) && rl_order_rules_validate(&engine->rules_staged[i]) != RL_RULES_OK) {
            memcpy(engine->rules_staged, engine->rules_in_force, bytes);
            return -EINVAL;
        }
    }
    /* Symbols registered since the defaults were staged take them. */
    for (uint32_t i = count; i < capacity; i++) engine->rules_staged[i] = engine->rules_staged[capacity];
    /* A symbol registered during this publish has the count after it: a second pass gives it its rules. */
    for (;;) {
        /* What goes in force: the rules as staged, each collar under its
         * symbol's volatility scale, so no check ever sees it unscaled. */
        memcpy(engine->rules_publishing, engine->rules_staged, bytes);
        for (uint32_t i = 0; i < count; i++) {
            engine->rules_publishing[i].collar_bps = rl_engine_scaled_collar(engine, i, engine->rules_staged[i].collar_bps);
        }
        rl_position_table_publish_rules(engine->table, engine->rules_publishing, engine->cycles_per_ns);
        uint32_t now_count = rl_position_table_count(engine->table);
        if (now_count == count) break;
        for (uint32_t i = count; i < now_count; i++) engine->rules_staged[i] = engine->rules_staged[capacity];
        count = now_count;
    }
    memcpy(engine->rules_in_force, engine->rules_staged, bytes);
    bool any = false;
    for (uint32_t i = 0; i <= capacity && !any; i++) {
        const rl_order_rules_t *r = &engine->rules_staged[i];
        any = r->max_order_qty || r->max_order_notional || r->collar_bps || r->stale_after_ns || r->flags ||
              r->max_working_orders;
    }
    /* relaxed: a hint for registration (see rl_engine_add_symbol). */
    atomic_store_explicit(&engine->rules_in_use, any, memory_order_relaxed);
    return 0;
}

int rl_engine_set_order_rules(rl_engine_t *engine, uint32_t symbol, const rl_order_rules_t *rules) {
    int64_t index = rl_engine_rules_index(engine, symbol);
    if (index < 0) return -ENOENT;
    if (rl_order_rules_validate(rules) != RL_RULES_OK) return -EINVAL;
    engine->rules_staged[index] = *rules;
    return rl_engine_publish_rules(engine);
}

int rl_engine_order_rules(const rl_engine_t *engine, uint32_t symbol, rl_order_rules_t *out) {
    int64_t index = rl_engine_rules_index(engine, symbol);
    if (index < 0) return -ENOENT;
    *out = engine->rules_in_force[index];
    return 0;
}

int rl_engine_set_clock(rl_engine_t *engine, uint64_t now_ns) {
    if (!engine->table->clock.manual) return -EINVAL;
    rl_position_table_set_clock(engine->table, now_ns);
    return 0;
}

/* Mark the shown HALTED word as one an unfreeze is deciding to lift
 * (RL_FREEZE_REASON_LIFTING, same epoch: routers act on new epochs only). A
 * kill switch pulled from here stores its halt over the mark (the reason is
 * transient), so the lift's CAS fails and the halt stands. Returns the mark,
 * 0 when none was made (not HALTED; or a halt from outside showing, which
 * the lift takes in first). Risk side. */
static uint64_t rl_engine_mark_lifting(rl_engine_t *engine) {
    uint64_t shown = engine->published;
    if (rl_freeze_word_state(shown) != RL_STATE_HALTED) return 0;
    uint64_t mark = rl_freeze_pack(RL_STATE_HALTED, RL_FREEZE_REASON_LIFTING, rl_freeze_word_epoch(shown));
    /* seq_cst: the store half of this side's store-load pair (the pull count
     * read next; rl_engine_request_freeze_counted has the other). */
    if (!atomic_compare_exchange_strong_explicit(&engine->freeze.word, &shown, mark, memory_order_seq_cst,
                                                 memory_order_relaxed)) {
        return 0;
    }
    engine->published = mark;
    engine->marked_word = shown;
    return mark;
}

/* The lift did not publish over its mark: show the halted word it renamed
 * (marked_word) again. Unless a halt from outside was stored over the
 * mark: then the controller's last word stays the mark, so that the next
 * take-in publishes over it and records the halt (a halt over a halt). With
 * `halted` as its last word, it would adopt the new word as one that cannot
 * happen, unrecorded (halt.pml, BOUNDED_UNFREEZE, found it). */
static void rl_engine_unmark_lifting(rl_engine_t *engine, uint64_t mark) {
    if (mark == 0 || engine->published != mark) return;
    uint64_t expected = mark;
    /* release: as rl_engine_show's store (pairs with rl_freeze_load's acquire). */
    if (atomic_compare_exchange_strong_explicit(&engine->freeze.word, &expected, engine->marked_word,
                                                memory_order_release, memory_order_relaxed)) {
        engine->published = engine->marked_word;
    }
}

static int rl_engine_control_request(rl_engine_t *engine, rl_control_t control, uint32_t symbol, int64_t value,
                                     int64_t field, int64_t price, uint64_t request_id);

int rl_engine_apply_control(rl_engine_t *engine, rl_control_t control, uint32_t symbol, int64_t value,
                            uint64_t request_id) {
    /* A staged rule needs its field, which only an event carries: rl_engine_set_order_rules does it whole. */
    if (control == RL_CONTROL_STAGE_ORDER_RULE) return -EINVAL;
    int rc = rl_engine_control_request(engine, control, symbol, value, 0, 0, request_id);
    /* A raised limit may clear REDUCING now, not at the next event. */
    if (rc == 0) rl_engine_evaluate_cleared(engine);
    rl_engine_flush(engine);
    return rc;
}

static int rl_engine_control_request(rl_engine_t *engine, rl_control_t control, uint32_t symbol, int64_t value,
                                     int64_t field, int64_t price, uint64_t request_id) {
    int64_t request = (int64_t)request_id;
    switch (control) {
    case RL_CONTROL_MANUAL_FREEZE:
        rl_engine_control(engine, RL_TRADING_MANUAL_FREEZE, RL_SYMBOL_NONE, 0, request);
        return 0;
    case RL_CONTROL_UNFREEZE: {
        /* A kill switch pulled after the requester looked stands: the lift
         * is for the halts it knew of (value: the pulls it had seen + 1;
         * 0: no bound). A replayed lift was decided by its own process.
         * The word is marked first, then the count read: a pull that the
         * count misses finds the mark and stores its halt over it, so the
         * lift below fails (over a persistent halt a pull stores nothing,
         * and the lift's CAS would succeed over it: helper-40). */
        bool bounded = value > 0 && !engine->replaying;
        uint64_t mark = 0;
        if (bounded) {
            /* A halt from outside already showing is taken in first, so that
             * the word marked is the one the lift would lift; otherwise a
             * pull after the look, over that persistent word, stored nothing
             * and the lift went through (helper-41). */
            do {
                (void)rl_engine_take_in_halt(engine, true);
                mark = rl_engine_mark_lifting(engine);
                if (mark != 0) RL_HOOK("unfreeze:marked");
            } while (mark == 0 && engine->trading.state == RL_STATE_HALTED &&
                     rl_freeze_word_state(engine->published) == RL_STATE_HALTED);
        }
        /* seq_cst: the load half of the store-load pair with the pull's add
         * and word read (rl_engine_request_freeze_counted). */
        if (bounded && atomic_load_explicit(&engine->freeze_requests, memory_order_seq_cst) >= (uint64_t)value) {
            rl_engine_unmark_lifting(engine, mark);
            return -ECANCELED;
        }
        /* Nothing to lift at the look: a halt that lands from here (a pull
         * after it) is not this unfreeze's to lift. */
        if (bounded && mark == 0) return 0;
        /* Nothing that needs the journal resumes while it cannot take it,
         * nor while its commit is stuck in the kernel. */
        rl_engine_look_for_stall(engine, true);
        int32_t failure = rl_engine_journal_failure(engine);
        if (failure != 0) {
            rl_engine_unmark_lifting(engine, mark);
            return failure;
        }
        bool lifted = rl_engine_control(engine, RL_TRADING_UNFREEZE, RL_SYMBOL_NONE, 0, request);
        rl_engine_unmark_lifting(engine, mark);
        return lifted ? 0 : -ECANCELED;
    }
    case RL_CONTROL_CIRCUIT_BREAKER:
        return rl_engine_control(engine, RL_TRADING_CIRCUIT_BREAKER, RL_SYMBOL_NONE, 0, request) ? 0 : -ECANCELED;
    case RL_CONTROL_RECONCILE_PENDING:
        rl_engine_control(engine, RL_TRADING_RECONCILE_PENDING, RL_SYMBOL_NONE, value, request);
        return 0;
    case RL_CONTROL_RECONCILED:
        rl_engine_control(engine, RL_TRADING_RECONCILED, RL_SYMBOL_NONE, value, request);
        return 0;
    case RL_CONTROL_STAGE_ORDER_RULE:
        return rl_engine_stage_rule(engine, symbol, field, value);
    case RL_CONTROL_SET_STRATEGY_LIMITS: {
        rl_strategy_limits_t limits = {
            (uint32_t)value, (uint32_t)((uint64_t)value >> 32), (uint32_t)field, (uint32_t)((uint64_t)field >> 32),
            (uint32_t)price, (uint32_t)((uint64_t)price >> 32), symbol, 0};
        return rl_engine_set_strategy_limits(engine, &limits);
    }
    case RL_CONTROL_SET_PNL_LIMITS:
        if (value < 0 || field < 0 || price < 0 || price >= 86400000000000ll || value > RL_FP_MAX_LIMIT ||
            field > RL_FP_MAX_LIMIT) {
            return -EINVAL;
        }
        engine->max_drawdown = value;
        engine->daily_loss_limit = field;
        /* A new start time names today by it; the day's start stays (a change forgives no loss). */
        engine->day_begins_ns = price;
        if (field > 0 && !engine->replaying) rl_engine_new_day(engine);
        /* A limit lowered under the loss already there trips now, not at the next price. */
        engine->book_pnl.drawn = engine->book_pnl.lost = false;
        rl_engine_pnl_moved(engine, 0);
        return 0;
    case RL_CONTROL_RATE_EXCEEDED:
        rl_engine_control(engine, RL_TRADING_RATE_EXCEEDED, RL_SYMBOL_NONE, value, request);
        return 0;
    case RL_CONTROL_SET_HEARTBEAT_TIMEOUT:
        if (value < 0) return -EINVAL;
        /* relaxed: read by this same risk side. */
        atomic_store_explicit(&engine->heartbeat_timeout_ns, (uint64_t)value, memory_order_relaxed);
        return 0;
    case RL_CONTROL_SET_BREAKER: {
        if (value < 0 || field < 0 || price < 0) return -EINVAL;
        rl_breaker_config_t config = {(uint64_t)value, (uint64_t)field, (uint64_t)price, symbol, 0};
        return rl_engine_set_breaker(engine, &config);
    }
    case RL_CONTROL_PUBLISH_ORDER_RULES:
        return rl_engine_publish_rules(engine);
    case RL_CONTROL_RELEASE_STRATEGY:
        return rl_engine_release_strategy(engine, symbol, request_id);
    case RL_CONTROL_FORGET_STRATEGY:
        return rl_engine_forget_strategy(engine, symbol);
    case RL_CONTROL_STRATEGY_CANCELED:
        return rl_engine_strategy_canceled(engine, value);
    case RL_CONTROL_STRATEGY_OPENED:
        /* A router takes `symbol` as its strategy id: whatever an earlier
         * router of that id left (after 65,535 routers the ids come round) is gone. */
        if (symbol > UINT16_MAX) return -EINVAL;
        engine->strategy_closed[symbol >> 6] &= ~(1ull << (symbol & 63));
        return 0;
    case RL_CONTROL_UNRECORDABLE_FILL:
        /* As a fill past what the position can hold: what the book holds is
         * no longer known. `field` is the event's qty. */
        rl_engine_control(engine, RL_TRADING_UNRECORDABLE, RL_SYMBOL_NONE, field, price);
        return 0;
    case RL_CONTROL_SET_LIMIT_SCALE:
        return rl_engine_set_limit_scale(engine, value);
    case RL_CONTROL_SET_VOLATILITY_SCALING:
        return rl_engine_set_volatility_scaling(engine, value, field, price);
    case RL_CONTROL_SET_FEED_GUARDS:
        if (value < 0 || field < 0) return -EINVAL;
        /* relaxed, both: read by this same risk side. A feed guard starts from now, not from an old mark. */
        if (value != 0 && atomic_load_explicit(&engine->stale_data_ns, memory_order_relaxed) == 0) engine->last_mark_ns = 0;
        atomic_store_explicit(&engine->stale_data_ns, (uint64_t)value, memory_order_relaxed);
        atomic_store_explicit(&engine->backpressure_ns, (uint64_t)field, memory_order_relaxed);
        if (field == 0) engine->backlog_since_ns = 0;
        return 0;
    case RL_CONTROL_SET_SYMBOL_LIMIT:
        return rl_engine_set_symbol_limit(engine, symbol, value);
    case RL_CONTROL_SET_MAX_TOTAL:
        return rl_engine_set_max_total(engine, value);
    case RL_CONTROL_SET_EDGE_THRESHOLD:
        if (value < -RL_FP_MAX_LIMIT || value > RL_FP_MAX_LIMIT) return -EINVAL;
        /* relaxed: read by this same risk side on the next edge event. */
        atomic_store_explicit(&engine->edge_freeze_threshold_bps, value, memory_order_relaxed);
        return 0;
    case RL_CONTROL_SET_RESUME_SHARE:
        if (value <= 0 || value > RL_FP_SCALE) return -EINVAL;
        /* relaxed: read by this same risk side. */
        atomic_store_explicit(&engine->resume_share, value, memory_order_relaxed);
        return 0;
    }
    return -EINVAL;
}

/* ---- The step -------------------------------------------------------------- */

static bool rl_engine_valid_order_event(const rl_engine_t *engine, const rl_event_t *event) {
    return event->symbol < rl_position_table_count(engine->table) &&
           (event->side == RL_SIDE_BUY || event->side == RL_SIDE_SELL) && event->qty > 0;
}

static void rl_engine_count_anomaly(rl_engine_t *engine, uint8_t type) {
    rl_anomaly_t kind = type == RL_EVENT_FILL ? RL_ANOMALY_FILL
                        : type == RL_EVENT_CANCEL_ACK ? RL_ANOMALY_CANCEL
                        : type == RL_EVENT_REJECT ? RL_ANOMALY_REJECT : RL_ANOMALY_EXPIRE;
    RL_SINGLE_WRITER_ADD(&engine->anomalies[kind], 1); /* the risk side is the only writer */
}

/* The venue filled more than the position can hold: what the book holds is
 * no longer known, so trading halts until an operator looks. */
static void rl_engine_unrecordable(rl_engine_t *engine, const rl_event_t *event) {
    rl_engine_control(engine, RL_TRADING_UNRECORDABLE, event->symbol, event->qty, event->price);
}

static void rl_engine_answer(rl_engine_t *engine, const rl_event_t *event, int32_t result) {
    /* A replayed record carries the request id of the process that wrote it:
     * no one waits for it, and a new request of this process may have the same. */
    if (event->order_id == 0 || engine->replaying) return;
    /* relaxed: published by the release store of the id just below. */
    atomic_store_explicit(&engine->last_request_result, result, memory_order_relaxed);
    /* release: pairs with rl_engine_last_request_id's acquire. */
    atomic_store_explicit(&engine->last_request_id, event->order_id, memory_order_release);
}

static bool rl_engine_apply_event(rl_engine_t *engine, const rl_event_t *event);

/* Apply one event, its state changes attributed to its strategy. Returns
 * false if it was invalid and skipped. */
static bool rl_engine_apply(rl_engine_t *engine, const rl_event_t *event) {
    engine->applying_strategy = event->strategy;
    bool applied = rl_engine_apply_event(engine, event);
    engine->applying_strategy = 0;
    return applied;
}

static bool rl_engine_apply_event(rl_engine_t *engine, const rl_event_t *event) {
    switch ((rl_event_type_t)event->type) {
    case RL_EVENT_ORDER_ACCEPTED:
        /* The check made the reservation; this is the risk side's first sight of it. */
        if (!rl_engine_valid_order_event(engine, event)) return false;
        rl_engine_settle(engine, event->symbol);
        return true;
    case RL_EVENT_ORDER_ADOPTED:
        /* Reserved as the risk side's own move: no check can refuse what the
         * venue already holds, and a breach goes REDUCING before it is published. */
        if (!rl_engine_valid_order_event(engine, event) || event->price <= 0 ||
            !rl_engine_move_side(engine, event->symbol, (rl_side_t)event->side, event->qty, -event->price)) {
            return false;
        }
        rl_engine_settle(engine, event->symbol);
        return true;
    case RL_EVENT_FILL: {
        if (!rl_engine_valid_order_event(engine, event) || event->price <= 0) return false;
        int64_t excess = rl_engine_fill(engine, event->symbol, (rl_side_t)event->side, event->qty, event->price);
        if (excess < 0) {
            rl_engine_unrecordable(engine, event);
            return false;
        }
        if (excess > 0) rl_engine_count_anomaly(engine, event->type);
        rl_engine_settle(engine, event->symbol);
        return true;
    }
    case RL_EVENT_CANCEL_ACK:
    case RL_EVENT_REJECT:
    case RL_EVENT_EXPIRE:
        if (!rl_engine_valid_order_event(engine, event)) return false;
        if (rl_engine_release(engine, event->symbol, (rl_side_t)event->side, event->qty) < event->qty) {
            rl_engine_count_anomaly(engine, event->type);
        }
        rl_engine_settle(engine, event->symbol);
        return true;
    case RL_EVENT_EXCESS_FILL: {
        if (!rl_engine_valid_order_event(engine, event) || event->price <= 0) return false;
        rl_engine_count_anomaly(engine, RL_EVENT_FILL);
        int64_t signed_qty = event->side == RL_SIDE_BUY ? event->qty : -event->qty;
        if (!rl_engine_adjust(engine, event->symbol, signed_qty, event->price, true)) {
            rl_engine_unrecordable(engine, event);
            return false;
        }
        rl_engine_settle(engine, event->symbol);
        return true;
    }
    case RL_EVENT_POSITION_ADJUST: {
        bool ok = event->symbol < rl_position_table_count(engine->table) && event->price > 0 &&
                  rl_engine_adjust(engine, event->symbol, event->qty, event->price, false);
        rl_engine_answer(engine, event, ok ? 0 : -RL_REJECT_OVERFLOW);
        if (ok) rl_engine_settle(engine, event->symbol);
        return ok;
    }
    case RL_EVENT_MARK_PRICE:
    {
        bool ok = event->symbol < rl_position_table_count(engine->table) && event->price > 0 &&
                  rl_engine_mark(engine, event->symbol, event->price);
        rl_engine_answer(engine, event, ok ? 0 : -RL_REJECT_OVERFLOW);
        if (ok) rl_engine_settle(engine, event->symbol);
        return ok;
    }
    case RL_EVENT_VOLATILITY: {
        bool ok = rl_engine_volatility(engine, event->symbol, event->value);
        rl_engine_answer(engine, event, ok ? 0 : -EINVAL);
        return ok;
    }
    case RL_EVENT_EDGE_UPDATE:
        /* relaxed: monitoring value, single writer. */
        atomic_store_explicit(&engine->last_edge_bps, event->value, memory_order_relaxed);
        if (event->side == RL_EDGE_HALTED) {
            /* Its reporter says it halted already, with the word in order_id:
             * that halt is taken in (if it was not yet), and the report then
             * decides nothing (deciding again would halt anew after an
             * operator who saw the halt lifted it). Trusted only if the word
             * is such a halt and the controller has taken it in: anything
             * else decides as any report does (fail closed). */
            (void)rl_engine_take_in_halt(engine, true);
            uint64_t made = event->order_id;
            if (rl_freeze_word_state(made) == RL_STATE_HALTED &&
                rl_freeze_word_reason(made) == RL_FREEZE_REASON_EDGE_COLLAPSE && rl_freeze_word_epoch(made) != 0 &&
                rl_freeze_word_epoch(made) <= rl_freeze_word_epoch(engine->published)) {
                return true;
            }
        }
        if (event->value < rl_engine_edge_threshold(engine)) {
            rl_engine_control(engine, RL_TRADING_EDGE_COLLAPSE, RL_SYMBOL_NONE, rl_engine_edge_threshold(engine),
                              event->value);
        }
        return true;
    case RL_EVENT_HEARTBEAT:
        /* A strategy's heartbeat arms its own dead-man; one with no strategy, the engine's. */
        if (event->strategy != 0) {
            rl_engine_strategy_heartbeat(engine, event->strategy, rl_engine_now_ns(engine));
            return true;
        }
        /* relaxed: monitoring value, single writer. */
        atomic_store_explicit(&engine->last_heartbeat_ns, rl_engine_now_ns(engine) | 1, memory_order_relaxed);
        return true;
    case RL_EVENT_CONTROL: {
        int rc = rl_engine_control_request(engine, (rl_control_t)event->side, event->symbol, event->value,
                                           event->qty, event->price, event->order_id);
        rl_engine_answer(engine, event, rc);
        return rc == 0 || rc == -ECANCELED; /* a lift a newer halt overtook: valid, not applied */
    }
    default:
        return false;
    }
}

static bool rl_engine_is_journaled(uint8_t type) {
    return type == RL_EVENT_ORDER_ACCEPTED || type == RL_EVENT_FILL || type == RL_EVENT_CANCEL_ACK ||
           type == RL_EVENT_REJECT || type == RL_EVENT_EXPIRE || type == RL_EVENT_POSITION_ADJUST ||
           type == RL_EVENT_MARK_PRICE || type == RL_EVENT_EXCESS_FILL || type == RL_EVENT_ORDER_ADOPTED ||
           type == RL_EVENT_VOLATILITY;
}

bool rl_engine_replay_event(rl_engine_t *engine, const rl_event_t *event) {
    bool was = engine->replaying;
    engine->replaying = true;
    bool ok;
    if (event->type == RL_EVENT_ORDER_ACCEPTED) {
        ok = rl_engine_valid_order_event(engine, event) && event->price > 0 &&
             rl_engine_move_side(engine, event->symbol, (rl_side_t)event->side, event->qty, -event->price);
        if (ok) rl_engine_settle(engine, event->symbol);
    } else {
        ok = rl_engine_is_journaled(event->type) && rl_engine_apply(engine, event);
    }
    rl_engine_flush(engine);
    engine->replaying = was;
    return ok;
}

bool rl_engine_restore_trading(rl_engine_t *engine, uint64_t word) {
    uint64_t current = rl_freeze_load(&engine->freeze);
    if (rl_freeze_word_epoch(word) < rl_freeze_word_epoch(current)) return false;
    rl_trading_state_t state = rl_freeze_word_state(word);
    rl_freeze_reason_t reason = rl_freeze_word_reason(word);
    /* A snapshot read while an unfreeze marked its halt: the halt's own
     * reason is not in the word; restored as the kill switch (persistent:
     * an operator lifts it), never as the transient mark a breaker would
     * lift (helper-41). */
    if (state == RL_STATE_HALTED && reason == RL_FREEZE_REASON_LIFTING) {
        reason = RL_FREEZE_REASON_MANUAL;
        word = rl_freeze_pack(state, reason, rl_freeze_word_epoch(word));
    }
    bool reconciling = state == RL_STATE_REDUCING && reason == RL_FREEZE_REASON_RECONCILING;
    engine->trading = (rl_trading_t){(uint8_t)state, (uint8_t)reason, state == RL_STATE_REDUCING && !reconciling,
                                     reconciling};
    rl_position_table_advance(engine->table, state);
    RL_HOOK("restore:store");
    /* A CAS, not a store: a halt from outside (rl_engine_halt_now, the kill
     * switch from any thread) may land even while no risk side runs. Its
     * word stands, with its book request, and the next step takes it in.
     * release: pairs with rl_freeze_load's acquire in routers and checkers;
     * relaxed on failure: nothing is read from it. */
    if (!atomic_compare_exchange_strong_explicit(&engine->freeze.word, &current, word, memory_order_release,
                                                 memory_order_relaxed)) {
        return false;
    }
    engine->published = word;
    return true;
}

void rl_engine_evaluate_limits(rl_engine_t *engine) {
    /* The P&L the journal rebuilt: the day starts at the restart (its earlier
     * part is not in the journal), the peak is the replayed one. */
    if (engine->daily_loss_limit > 0) {
        engine->book_pnl.day = 0;
        rl_engine_new_day(engine);
    }
    engine->book_pnl.drawn = engine->book_pnl.lost = false;
    rl_engine_pnl_moved(engine, 0);
    uint32_t count = rl_position_table_count(engine->table);
    for (uint32_t id = 0; id < count; id++) rl_engine_settle(engine, id);
    rl_engine_flush(engine);
    int64_t total = rl_engine_total(engine), max_total = rl_position_table_max_total(engine->table);
    if (total > max_total) rl_engine_control(engine, RL_TRADING_LIMIT_BREACH, RL_SYMBOL_NONE, max_total, total);
    rl_engine_evaluate_cleared(engine);
}

static inline __attribute__((always_inline)) uint64_t rl_engine_step_impl(rl_engine_t *engine, rl_spsc_t *ring,
                                                                           uint64_t max, bool yielding,
                                                                           rl_step_result_t *out) {
    memset(out, 0, sizeof(*out));
    uint64_t n = rl_spsc_readable(ring, max);
    rl_spsc_t *journal = engine->journal;
    uint64_t changes_before = rl_engine_state_change_count(engine);
    const bool requests = ring == engine->request_ring;
    /* A stalled commit halts first, while the room backpressure kept is
     * there: the clock's work below (strategies' lost heartbeats, a
     * backpressure halt) may take it, and with the writer stuck nothing gives
     * it back (helper-36). Its record needs one place. */
    rl_engine_look_for_stall(engine, false);
    if (RL_UNLIKELY(engine->journal_stalled != 0) && journal != NULL && rl_engine_journal_broken(engine) == 0 &&
        rl_spsc_writable(journal, 1) >= 1) {
        rl_engine_control(engine, RL_TRADING_JOURNAL_FAILURE, RL_SYMBOL_NONE, 0, -engine->journal_stalled);
    }
    /* The clock's work (a breaker's lift, a lost heartbeat) may record a
     * change: only with room for it, as an event needs (it waits a step). */
    if (rl_engine_journal_room(engine)) rl_engine_tick(engine);
    /* A failing journal halts trading before anything else in this step. */
    int32_t journal_broken = journal != NULL ? rl_engine_journal_broken(engine) : 0;
    if (RL_UNLIKELY(journal_broken != 0)) {
        rl_engine_control(engine, RL_TRADING_JOURNAL_FAILURE, RL_SYMBOL_NONE,
                          (int64_t)rl_engine_journal_unrecorded(engine), -journal_broken);
    }
    uint64_t i = 0;
    for (; i < n; i++) {
        /* After the first event: every step makes progress, however often
         * producers knock. */
        if (yielding && i > 0 && rl_engine_knocked(engine)) {
            out->yielded = 1;
            break;
        }
        const rl_event_t *event = rl_spsc_peek(ring, i);
        /* Backpressure, never loss: stop here while the journal has no room
         * for what this event may produce (its record, state changes). While
         * the journal is failing, go on (HALTED: only cancels and venue
         * events arrive) and count what does not fit; while its commit is
         * only stalled, wait like any backpressure (nothing is lost if it
         * comes back). An event leaves room for the clock's work too, so
         * that a halt for backpressure (or a stall) always has room for its record. */
        if (journal != NULL && journal_broken == 0 &&
            rl_spsc_writable(journal, 2 * RL_JOURNAL_ROOM_PER_EVENT) < 2 * RL_JOURNAL_ROOM_PER_EVENT) {
            break;
        }
        if (RL_UNLIKELY(requests) && rl_engine_request_withdrawn(engine, event)) continue;
        if (rl_engine_apply(engine, event)) {
            RL_SINGLE_WRITER_ADD(&engine->applied[event->type], 1); /* the risk side is the only writer */
            if (journal != NULL && rl_engine_is_journaled(event->type) && rl_spsc_push(journal, event) != RL_OK) {
                RL_SINGLE_WRITER_ADD(&engine->journal_unrecorded, 1);
            }
        } else {
            out->invalid++;
            RL_SINGLE_WRITER_ADD(&engine->invalid_events, 1);
        }
    }
    if (i > 0) {
        rl_spsc_release(ring, i);
        rl_engine_flush(engine);
        rl_engine_evaluate_cleared(engine);
    }
    out->applied = i;
    out->state_changes = rl_engine_state_change_count(engine) - changes_before;
    out->last_word = engine->published; /* not the shared word: see rl_step_result_t */
    return i;
}

uint64_t rl_engine_step(rl_engine_t *engine, rl_spsc_t *ring, uint64_t max, rl_step_result_t *out) {
    return rl_engine_step_impl(engine, ring, max, false, out);
}

uint64_t rl_engine_step_yielding(rl_engine_t *engine, rl_spsc_t *ring, uint64_t max, rl_step_result_t *out) {
    return rl_engine_step_impl(engine, ring, max, true, out);
}
