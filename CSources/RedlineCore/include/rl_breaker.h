/*
 * rl_breaker.h - freeze reason classes and the circuit breaker with backoff.
 *
 * Every reason a trading halt can have belongs to a class:
 *
 *   transient   the cause can pass by itself: a lost heartbeat, a strategy
 *               past its rate limits again and again, a stale market-data
 *               feed, a journal that fell behind.
 *               The circuit breaker lifts the halt after a cooldown.
 *   persistent  only an operator lifts it: edge collapse, manual, journal
 *               failure, an unrecordable fill, a breaker that escalated, a
 *               drawdown, the daily loss.
 *
 * The breaker (risk side only, pure: the caller passes the engine's clock):
 *
 *   trip      a transient halt was published. A trip within `window_ns` of the
 *             previous one is a repeat: the cooldown doubles from
 *             `cooldown_ns`, up to `max_cooldown_ns`. The `escalate_after`-th
 *             trip in a row of repeats escalates instead: the halt becomes
 *             persistent (RL_FREEZE_REASON_BREAKER_ESCALATED).
 *   tick      once the cooldown has run, the breaker lifts the halt
 *             (RL_TRADING_CIRCUIT_BREAKER) unless something else changed it.
 *   cancel    an operator unfroze, or a persistent reason replaced the
 *             transient one: nothing is left to lift.
 */
#ifndef RL_BREAKER_H
#define RL_BREAKER_H

#include <errno.h>
#include "rl_platform.h"
#include "rl_freeze.h"

RL_EXTERN_C_BEGIN

typedef enum rl_reason_class {
    RL_REASON_CLASS_NONE = 0,       /* not a halt's reason (REDUCING, a return to trading) */
    RL_REASON_CLASS_TRANSIENT = 1,
    RL_REASON_CLASS_PERSISTENT = 2,
} rl_reason_class_t;

RL_INLINE rl_reason_class_t rl_freeze_reason_class(rl_freeze_reason_t reason) {
    switch (reason) {
    case RL_FREEZE_REASON_HEARTBEAT_LOST:
    case RL_FREEZE_REASON_RATE_EXCEEDED:
    case RL_FREEZE_REASON_STALE_DATA:
    case RL_FREEZE_REASON_JOURNAL_BACKPRESSURE:
    case RL_FREEZE_REASON_LIFTING: /* a pull stores over it: rl_engine_halt_now */
        return RL_REASON_CLASS_TRANSIENT;
    case RL_FREEZE_REASON_EDGE_COLLAPSE:
    case RL_FREEZE_REASON_MANUAL:
    case RL_FREEZE_REASON_UNRECORDABLE:
    case RL_FREEZE_REASON_JOURNAL_FAILURE:
    case RL_FREEZE_REASON_BREAKER_ESCALATED:
    case RL_FREEZE_REASON_DRAWDOWN:
    case RL_FREEZE_REASON_DAILY_LOSS:
        return RL_REASON_CLASS_PERSISTENT;
    default:
        return RL_REASON_CLASS_NONE;
    }
}

typedef struct rl_breaker_config {
    uint64_t cooldown_ns;      /* the first cooldown; 0: the breaker never lifts (every halt waits for an operator) */
    uint64_t max_cooldown_ns;  /* the doubling stops here (>= cooldown_ns) */
    uint64_t window_ns;        /* a trip within this of the previous one is a repeat */
    uint32_t escalate_after;   /* this many trips in a row of repeats escalate (>= 1; 1: the first trip escalates) */
    uint32_t reserved;         /* 0 */
} rl_breaker_config_t;

#define RL_BREAKER_DEFAULT_COOLDOWN_NS 1000000000ull      /* 1 s */
#define RL_BREAKER_DEFAULT_MAX_COOLDOWN_NS 60000000000ull /* 1 min */
#define RL_BREAKER_DEFAULT_WINDOW_NS 300000000000ull      /* 5 min */
#define RL_BREAKER_DEFAULT_ESCALATE_AFTER 5

/* The cooldown before the `trip`-th trip in a row's lift (1: the first). */
RL_INLINE uint64_t rl_breaker_cooldown_for(const rl_breaker_config_t *config, uint32_t trip) {
    uint64_t cooldown = config->cooldown_ns, max = config->max_cooldown_ns;
    for (uint32_t i = 1; i < trip && cooldown < max; i++) cooldown = cooldown > max / 2 ? max : cooldown * 2;
    return cooldown < max ? cooldown : max;
}

/* 0, or -EINVAL for a config rl_breaker_trip cannot follow: a maximum under
 * the first cooldown, no escalation count, or a window so short that a trip
 * after a cooldown could never be a repeat, so the breaker would never
 * escalate (trips are at least one cooldown apart). */
RL_INLINE int rl_breaker_config_check(const rl_breaker_config_t *config) {
    if (config->max_cooldown_ns < config->cooldown_ns || config->escalate_after == 0 || config->reserved != 0) return -EINVAL;
    if (config->cooldown_ns != 0 && config->escalate_after > 1 &&
        rl_breaker_cooldown_for(config, config->escalate_after - 1) > config->window_ns) {
        return -EINVAL;
    }
    return 0;
}

typedef struct rl_breaker {
    rl_breaker_config_t config;
    uint64_t last_trip_ns;     /* engine clock of the last trip; 0: none */
    uint64_t lift_at_ns;       /* engine clock at which to lift; 0: nothing to lift */
    uint64_t cooldown_ns;      /* the cooldown of the last trip */
    uint32_t streak;           /* trips in a row, each a repeat of the one before */
    uint32_t reserved;
} rl_breaker_t;

typedef enum rl_breaker_action {
    RL_BREAKER_NOTHING = 0,
    RL_BREAKER_COOLDOWN = 1,   /* a lift is set for now + the breaker's cooldown_ns */
    RL_BREAKER_ESCALATE = 2,   /* make the halt persistent */
    RL_BREAKER_LIFT = 3,       /* lift the halt now */
} rl_breaker_action_t;

/* A transient halt was published at `now`. */
RL_INLINE rl_breaker_action_t rl_breaker_trip(rl_breaker_t *b, uint64_t now) {
    /* A clock that went back counts as a repeat: fail closed, towards escalation. */
    bool repeat = b->last_trip_ns != 0 && (now < b->last_trip_ns || now - b->last_trip_ns <= b->config.window_ns);
    b->streak = repeat ? b->streak + 1 : 1;
    b->last_trip_ns = now;
    if (b->config.cooldown_ns == 0 || b->streak >= b->config.escalate_after) {
        b->lift_at_ns = 0;
        return b->config.cooldown_ns == 0 ? RL_BREAKER_NOTHING : RL_BREAKER_ESCALATE;
    }
    b->cooldown_ns = rl_breaker_cooldown_for(&b->config, b->streak);
    /* Saturating: a lift that far away is never. */
    b->lift_at_ns = now > UINT64_MAX - b->cooldown_ns ? UINT64_MAX : now + b->cooldown_ns;
    return RL_BREAKER_COOLDOWN;
}

/* The engine's clock moved to `now`. */
RL_INLINE rl_breaker_action_t rl_breaker_tick(rl_breaker_t *b, uint64_t now) {
    if (b->lift_at_ns == 0 || now < b->lift_at_ns) return RL_BREAKER_NOTHING;
    b->lift_at_ns = 0;
    return RL_BREAKER_LIFT;
}

/* Nothing is left to lift. */
RL_INLINE void rl_breaker_cancel(rl_breaker_t *b) { b->lift_at_ns = 0; }

RL_EXTERN_C_END

#endif /* RL_BREAKER_H */
