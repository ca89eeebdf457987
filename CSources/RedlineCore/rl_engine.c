#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_SET, sched_getcpu */
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "rl_engine.h"
#include "rl_numa.h"

int rl_engine_create(const rl_engine_config_t *config, rl_engine_t **out) {
    return rl_engine_create_on_node(config, -1, out);
}

int rl_engine_create_on_node(const rl_engine_config_t *config, int node, rl_engine_t **out) {
    uint32_t capacity = config->symbol_capacity ? config->symbol_capacity : RL_SYMBOLS_DEFAULT_CAPACITY;
    if (config->default_symbol_limit <= 0 || config->max_total <= 0 || config->edge_freeze_threshold_bps < 0) {
        return -EINVAL;
    }
    rl_engine_t *engine = rl_numa_alloc(sizeof(rl_engine_t), node); /* zeroed */
    if (engine == NULL) return -ENOMEM;
    int rc = rl_symbols_create(capacity, &engine->symbols);
    if (rc == 0) rc = rl_position_table_create(capacity, config->max_total, node, &engine->table);
    if (rc != 0) {
        rl_engine_destroy(engine);
        return rc;
    }
    rl_freeze_init(&engine->freeze);
    engine->default_symbol_limit = config->default_symbol_limit;
    /* relaxed: the engine is not shared until create returns. */
    atomic_store_explicit(&engine->edge_freeze_threshold_bps, config->edge_freeze_threshold_bps,
                          memory_order_relaxed);
    *out = engine;
    return 0;
}

void rl_engine_destroy(rl_engine_t *engine) {
    if (engine == NULL) return;
    rl_symbols_destroy(engine->symbols);
    rl_position_table_destroy(engine->table);
    rl_numa_free(engine);
}

int64_t rl_engine_add_symbol(rl_engine_t *engine, const char *name, int64_t limit) {
    if (limit < 0) return -EINVAL;
    int64_t id = rl_symbols_register(engine->symbols, name);
    if (id < 0) return id;
    /* Registry and table share capacity, so activation cannot run out of room. */
    int rc = rl_position_table_activate(engine->table, (uint32_t)id, limit ? limit : engine->default_symbol_limit);
    return rc < 0 ? rc : id;
}

int64_t rl_engine_symbol_id(const rl_engine_t *engine, const char *name) {
    return rl_symbols_lookup(engine->symbols, name);
}

const char *rl_engine_symbol_name(const rl_engine_t *engine, uint32_t id) {
    return rl_symbols_name(engine->symbols, id);
}

uint32_t rl_engine_symbol_count(const rl_engine_t *engine) { return rl_symbols_count(engine->symbols); }

int rl_engine_set_symbol_limit(rl_engine_t *engine, uint32_t id, int64_t limit) {
    if (limit <= 0) return -EINVAL;
    if (id >= rl_position_table_count(engine->table)) return -ENOENT;
    rl_position_table_set_limit(engine->table, id, limit);
    return 0;
}

int rl_engine_set_max_total(rl_engine_t *engine, int64_t max_total) {
    if (max_total <= 0) return -EINVAL;
    rl_position_table_set_max_total(engine->table, max_total);
    return 0;
}

int rl_engine_set_edge_threshold(rl_engine_t *engine, int64_t threshold_bps) {
    if (threshold_bps < 0) return -EINVAL;
    /* relaxed: self-contained value read by the risk thread on the next edge event. */
    atomic_store_explicit(&engine->edge_freeze_threshold_bps, threshold_bps, memory_order_relaxed);
    return 0;
}

static bool rl_engine_valid_order_event(const rl_engine_t *engine, const rl_event_t *event) {
    return event->symbol < rl_position_table_count(engine->table) &&
           (event->side == RL_SIDE_BUY || event->side == RL_SIDE_SELL) && event->qty > 0;
}

/* Apply one event. Returns false if it was invalid and skipped. */
static bool rl_engine_apply(rl_engine_t *engine, const rl_event_t *event, rl_step_result_t *out) {
    rl_position_table_t *table = engine->table;
    switch ((rl_event_type_t)event->type) {
    case RL_EVENT_ORDER_ACCEPTED:
        /* The reservation was made by the check; this records that the order went out. */
        return rl_engine_valid_order_event(engine, event);
    case RL_EVENT_FILL:
        if (!rl_engine_valid_order_event(engine, event) || event->price <= 0) return false;
        return rl_position_table_apply_fill(table, event->symbol, (rl_side_t)event->side, event->qty,
                                            event->price) == RL_OK;
    case RL_EVENT_CANCEL_ACK:
    case RL_EVENT_REJECT:
    case RL_EVENT_EXPIRE:
        if (!rl_engine_valid_order_event(engine, event)) return false;
        rl_position_table_release(table, event->symbol, (rl_side_t)event->side, event->qty);
        rl_position_table_remark(table, event->symbol);
        return true;
    case RL_EVENT_POSITION_ADJUST:
        if (event->symbol >= rl_position_table_count(table) || event->price <= 0) return false;
        return rl_position_table_adjust(table, event->symbol, event->qty, event->price) == RL_OK;
    case RL_EVENT_EDGE_UPDATE: {
        /* relaxed: monitoring value, single writer. */
        atomic_store_explicit(&engine->last_edge_bps, event->value, memory_order_relaxed);
        if (event->value < rl_engine_edge_threshold(engine)) {
            uint64_t word;
            /* relaxed: published by the release CAS of the freeze just below. */
            atomic_store_explicit(&engine->freeze_edge_bps, event->value, memory_order_relaxed);
            atomic_store_explicit(&engine->freeze_event_timestamp, event->timestamp_ns, memory_order_relaxed);
            /* Idempotent: a second collapse while halted changes nothing. */
            if (rl_freeze_halt(&engine->freeze, RL_FREEZE_REASON_EDGE_COLLAPSE, &word)) {
                out->froze = true;
                out->freeze_word = word;
                out->freeze_edge_bps = event->value;
            }
        }
        return true;
    }
    case RL_EVENT_HEARTBEAT:
        /* relaxed: monitoring value, single writer. */
        atomic_store_explicit(&engine->last_heartbeat_ns, event->timestamp_ns, memory_order_relaxed);
        return true;
    default:
        return false;
    }
}

void rl_engine_attach_journal(rl_engine_t *engine, rl_spsc_t *journal_ring) { engine->journal = journal_ring; }

static bool rl_engine_is_journaled(uint8_t type) {
    return type == RL_EVENT_ORDER_ACCEPTED || type == RL_EVENT_FILL || type == RL_EVENT_CANCEL_ACK ||
           type == RL_EVENT_REJECT || type == RL_EVENT_EXPIRE || type == RL_EVENT_POSITION_ADJUST;
}

bool rl_engine_replay_event(rl_engine_t *engine, const rl_event_t *event) {
    if (event->type == RL_EVENT_ORDER_ACCEPTED) {
        if (!rl_engine_valid_order_event(engine, event) || event->price <= 0) return false;
        rl_position_table_force_reserve(engine->table, event->symbol, (rl_side_t)event->side, event->qty, event->price);
        return true;
    }
    if (!rl_engine_is_journaled(event->type)) return false;
    rl_step_result_t ignored;
    memset(&ignored, 0, sizeof(ignored));
    return rl_engine_apply(engine, event, &ignored);
}

uint64_t rl_engine_step(rl_engine_t *engine, rl_spsc_t *ring, uint64_t max, rl_step_result_t *out) {
    memset(out, 0, sizeof(*out));
    uint64_t n = rl_spsc_readable(ring, max);
    rl_spsc_t *journal = engine->journal;
    uint64_t i = 0;
    for (; i < n; i++) {
        const rl_event_t *event = rl_spsc_peek(ring, i);
        /* Backpressure, never loss: stop here while the journal has no room
         * for what this event may produce (its record, or a freeze record). */
        if (journal != NULL && rl_spsc_writable(journal) < 1) break;
        bool froze_before = out->froze;
        if (rl_engine_apply(engine, event, out)) {
            RL_SINGLE_WRITER_ADD(&engine->applied[event->type], 1); /* the risk thread is the only writer */
            if (journal != NULL && rl_engine_is_journaled(event->type)) {
                rl_spsc_push(journal, event); /* room was checked above; one producer */
            } else if (journal != NULL && out->froze && !froze_before) {
                /* The freeze this edge caused: the writer journals it and syncs at once. */
                rl_event_t mark = *event;
                mark.order_id = out->freeze_word;
                rl_spsc_push(journal, &mark);
            }
        } else {
            out->invalid++;
            RL_SINGLE_WRITER_ADD(&engine->invalid_events, 1);
        }
    }
    if (i > 0) rl_spsc_release(ring, i);
    out->applied = i;
    return i;
}
