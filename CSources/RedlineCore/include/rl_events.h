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
    RL_EVENT_ORDER_ACCEPTED = 1, /* a reservation was made (sent before the order goes out): symbol, side, qty, price */
    RL_EVENT_FILL = 2,           /* qty filled at price; moves qty from working to position */
    RL_EVENT_CANCEL_ACK = 3,     /* qty (the unfilled remainder) released */
    RL_EVENT_REJECT = 4,         /* qty released: the venue or the router refused the order */
    RL_EVENT_EXPIRE = 5,         /* qty released: the order's time in force ran out */
    RL_EVENT_EDGE_UPDATE = 6,    /* value = strategy edge in bps, fixed point (RL_FP_SCALE) */
    RL_EVENT_HEARTBEAT = 7,      /* timestamp_ns only */
    RL_EVENT_POSITION_ADJUST = 8,/* qty is a signed position change at price, with no reservation */
} rl_event_type_t;

#define RL_EVENT_TYPE_COUNT 9

typedef struct rl_event {
    uint8_t type;          /* rl_event_type_t */
    uint8_t side;          /* rl_side_t, where the type has one */
    uint16_t reserved;
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
