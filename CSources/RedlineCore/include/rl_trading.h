/*
 * rl_trading.h - the trading-state machine: ACTIVE, REDUCING, HALTED.
 *
 * Pure: rl_trading_next takes the current state and one input and returns
 * the next state and whether it must be published. It does no I/O and
 * touches nothing shared. The engine's controller (rl_engine.c) is its only
 * caller on a live engine: it publishes a transition by bumping the book's
 * version (so no decision taken in the old state gets through), then the
 * freeze word (by CAS: a halt made from another thread, rl_engine_halt_now,
 * is taken in first, never stored over), and records the change for the
 * orchestrator and the journal.
 *
 *   state      input                 next                         published
 *   ACTIVE     edge collapse         HALTED   (edge_collapse)     yes
 *   ACTIVE     manual freeze         HALTED   (manual)            yes
 *   ACTIVE     limit breach          REDUCING (limit_violation)   yes
 *   REDUCING   edge collapse         HALTED   (edge_collapse)     yes
 *   REDUCING   manual freeze         HALTED   (manual)            yes
 *   REDUCING   limits cleared        ACTIVE   (limits_cleared)    yes
 *   not HALTED unrecordable fill     HALTED   (unrecordable)      yes
 *   not HALTED journal failure       HALTED   (journal_failure)   yes
 *   ACTIVE     reconcile pending     REDUCING (reconciling)       yes
 *   REDUCING   reconciled            ACTIVE   (reconciled) unless a limit is breached   yes
 *   any        reconcile pending/reconciled  remembers it (a halt resumes into REDUCING)  no
 *   not HALTED heartbeat lost        HALTED   (heartbeat_lost, transient)  yes
 *   not HALTED rate exceeded         HALTED   (rate_exceeded, transient)   yes
 *   not HALTED stale data            HALTED   (stale_data, transient)      yes
 *   not HALTED journal backpressure  HALTED   (journal_backpressure, transient)  yes
 *   not HALTED drawdown / daily loss HALTED   (drawdown / daily_loss)      yes
 *   HALTED for a transient reason, a persistent trigger   HALTED with that reason     yes
 *   HALTED for a transient reason, breaker escalates      HALTED (breaker_escalated)  yes
 *   HALTED     unfreeze (operator)   ACTIVE, or REDUCING if a limit is still breached   yes
 *   HALTED     circuit breaker       the same, only when halted for a transient reason  yes
 *   any        limit breach/cleared  remembers it (HALTED resumes into REDUCING)        no
 *   anything else                    unchanged                                           no
 *
 * An operator unfreeze does not end REDUCING: that happens by itself once
 * exposure is back under the resume share of every limit, or when limits
 * are raised, and only once no order is in doubt (reconciled).
 */
#ifndef RL_TRADING_H
#define RL_TRADING_H

#include "rl_platform.h"
#include "rl_freeze.h"
#include "rl_breaker.h"

RL_EXTERN_C_BEGIN

typedef enum rl_trading_input {
    RL_TRADING_EDGE_COLLAPSE = 1,   /* the strategy's edge fell below the threshold */
    RL_TRADING_MANUAL_FREEZE = 2,   /* an operator's kill switch */
    RL_TRADING_UNFREEZE = 3,        /* an operator lifts a halt */
    RL_TRADING_CIRCUIT_BREAKER = 4, /* a circuit breaker lifts a transient (edge-collapse) halt */
    RL_TRADING_LIMIT_BREACH = 5,    /* a market move or a limit change put a symbol or the book over its limit */
    RL_TRADING_LIMITS_CLEARED = 6,  /* exposure is back under the resume share of every limit */
    RL_TRADING_UNRECORDABLE = 7,    /* the venue reported a fill the position cannot hold: the book is unknown */
    RL_TRADING_JOURNAL_FAILURE = 8, /* a journal write or sync failed: nothing more can be made durable */
    RL_TRADING_RECONCILE_PENDING = 9, /* recovered orders are in doubt until the venue is asked */
    RL_TRADING_RECONCILED = 10,     /* every order in doubt was settled with the venue */
    RL_TRADING_HEARTBEAT_LOST = 11, /* the strategy missed its heartbeat (a transient reason) */
    RL_TRADING_BREAKER_ESCALATE = 12, /* a transient halt repeated too often: it becomes persistent */
    RL_TRADING_RATE_EXCEEDED = 13,  /* a strategy exceeded its rate limits repeatedly (a transient reason) */
    RL_TRADING_DRAWDOWN = 14,       /* equity fell from its peak past the drawdown limit (persistent) */
    RL_TRADING_DAILY_LOSS = 15,     /* equity fell since the day began past the daily loss limit (persistent) */
    RL_TRADING_STALE_DATA = 16,     /* no reference price for any symbol for too long (transient) */
    RL_TRADING_JOURNAL_BACKPRESSURE = 17, /* the journal's ring stayed 3/4 full for too long (transient) */
} rl_trading_input_t;

typedef struct rl_trading {
    uint8_t state;    /* rl_trading_state_t */
    uint8_t reason;   /* rl_freeze_reason_t of the last published change */
    bool breached;    /* a limit is breached now */
    bool reconciling; /* recovered orders are in doubt */
} rl_trading_t;

typedef struct rl_trading_transition {
    rl_trading_t next;
    bool publish;     /* state or reason changed: store the word, bump the version, record it */
} rl_trading_transition_t;

RL_INLINE rl_trading_transition_t rl_trading_next(rl_trading_t now, rl_trading_input_t input) {
    rl_trading_transition_t t = {now, false};
    rl_trading_t *n = &t.next;
    switch (input) {
    case RL_TRADING_EDGE_COLLAPSE:
    case RL_TRADING_MANUAL_FREEZE:
    case RL_TRADING_UNRECORDABLE:
    case RL_TRADING_JOURNAL_FAILURE:
    case RL_TRADING_HEARTBEAT_LOST:
    case RL_TRADING_RATE_EXCEEDED:
    case RL_TRADING_DRAWDOWN:
    case RL_TRADING_DAILY_LOSS:
    case RL_TRADING_STALE_DATA:
    case RL_TRADING_JOURNAL_BACKPRESSURE: {
        rl_freeze_reason_t reason = input == RL_TRADING_EDGE_COLLAPSE ? RL_FREEZE_REASON_EDGE_COLLAPSE
                                    : input == RL_TRADING_MANUAL_FREEZE ? RL_FREEZE_REASON_MANUAL
                                    : input == RL_TRADING_UNRECORDABLE ? RL_FREEZE_REASON_UNRECORDABLE
                                    : input == RL_TRADING_JOURNAL_FAILURE ? RL_FREEZE_REASON_JOURNAL_FAILURE
                                    : input == RL_TRADING_RATE_EXCEEDED ? RL_FREEZE_REASON_RATE_EXCEEDED
                                    : input == RL_TRADING_DRAWDOWN ? RL_FREEZE_REASON_DRAWDOWN
                                    : input == RL_TRADING_DAILY_LOSS ? RL_FREEZE_REASON_DAILY_LOSS
                                    : input == RL_TRADING_STALE_DATA ? RL_FREEZE_REASON_STALE_DATA
                                    : input == RL_TRADING_JOURNAL_BACKPRESSURE ? RL_FREEZE_REASON_JOURNAL_BACKPRESSURE
                                                                     : RL_FREEZE_REASON_HEARTBEAT_LOST;
        /* A halt for a transient reason takes a persistent one over: the
         * breaker must not lift what an operator or a failure halted. */
        bool over_transient = now.state == RL_STATE_HALTED &&
                              rl_freeze_reason_class((rl_freeze_reason_t)now.reason) == RL_REASON_CLASS_TRANSIENT &&
                              rl_freeze_reason_class(reason) == RL_REASON_CLASS_PERSISTENT;
        /* A book that is no longer known takes over any other halt, so that
         * it is recorded, and an operator who lifts a kill switch of his
         * own lifts it knowingly, never without seeing it. */
        bool book_unknown = now.state == RL_STATE_HALTED && reason == RL_FREEZE_REASON_UNRECORDABLE &&
                            now.reason != RL_FREEZE_REASON_UNRECORDABLE;
        if (now.state != RL_STATE_HALTED || over_transient || book_unknown) {
            n->state = RL_STATE_HALTED;
            n->reason = reason;
            t.publish = true;
        }
        break;
    }
    case RL_TRADING_BREAKER_ESCALATE:
        if (now.state == RL_STATE_HALTED &&
            rl_freeze_reason_class((rl_freeze_reason_t)now.reason) == RL_REASON_CLASS_TRANSIENT) {
            n->reason = RL_FREEZE_REASON_BREAKER_ESCALATED;
            t.publish = true;
        }
        break;
    case RL_TRADING_UNFREEZE:
    case RL_TRADING_CIRCUIT_BREAKER:
        if (now.state == RL_STATE_HALTED &&
            (input == RL_TRADING_UNFREEZE ||
             rl_freeze_reason_class((rl_freeze_reason_t)now.reason) == RL_REASON_CLASS_TRANSIENT)) {
            bool reduce = now.breached || now.reconciling;
            n->state = reduce ? RL_STATE_REDUCING : RL_STATE_ACTIVE;
            n->reason = now.breached ? RL_FREEZE_REASON_LIMIT_VIOLATION
                        : now.reconciling ? RL_FREEZE_REASON_RECONCILING
                        : input == RL_TRADING_UNFREEZE ? RL_FREEZE_REASON_MANUAL
                                                        : RL_FREEZE_REASON_CIRCUIT_BREAKER;
            t.publish = true;
        }
        break;
    case RL_TRADING_LIMIT_BREACH:
        n->breached = true;
        if (now.state == RL_STATE_ACTIVE) {
            n->state = RL_STATE_REDUCING;
            n->reason = RL_FREEZE_REASON_LIMIT_VIOLATION;
            t.publish = true;
        }
        break;
    case RL_TRADING_LIMITS_CLEARED:
        n->breached = false;
        if (now.state == RL_STATE_REDUCING && !now.reconciling) {
            n->state = RL_STATE_ACTIVE;
            n->reason = RL_FREEZE_REASON_LIMITS_CLEARED;
            t.publish = true;
        }
        break;
    case RL_TRADING_RECONCILE_PENDING:
        n->reconciling = true;
        if (now.state == RL_STATE_ACTIVE) {
            n->state = RL_STATE_REDUCING;
            n->reason = RL_FREEZE_REASON_RECONCILING;
            t.publish = true;
        }
        break;
    case RL_TRADING_RECONCILED:
        n->reconciling = false;
        if (now.state == RL_STATE_REDUCING && !now.breached) {
            n->state = RL_STATE_ACTIVE;
            n->reason = RL_FREEZE_REASON_RECONCILED;
            t.publish = true;
        }
        break;
    }
    return t;
}

RL_EXTERN_C_END

#endif /* RL_TRADING_H */
