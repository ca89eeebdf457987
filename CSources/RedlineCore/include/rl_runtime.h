/*
 * rl_runtime.h - the risk thread: a dedicated pthread, pinned to one CPU,
 * running rl_engine_step over every producer's ring in a loop.
 *
 *   producers (strategies, gateways) --SPSC rings--> risk thread --> table, freeze word
 *
 * The risk thread is the rings' only consumer and the only writer of
 * positions. Rings are registered before start. Stop is graceful: the thread
 * sees the stop request, then keeps stepping until one full pass over every
 * ring finds nothing, so every event pushed before rl_runtime_stop() was
 * called is applied before it returns.
 *
 * Lanes: a producer's freeze-critical events (an edge report, an operator's
 * request) travel on a small ring of their own, a lane, which the risk
 * thread serves before the data rings. The producer then knocks
 * (rl_engine_knock): a data ring's step in progress sees the doorbell move
 * at its next event, stops, and the lanes are served before it goes on. A
 * freeze therefore overtakes a backlog of orders: it waits for the event
 * being applied, not for the batch. Watching the doorbell costs one load of
 * a line written only on a knock.
 */
#ifndef RL_RUNTIME_H
#define RL_RUNTIME_H

#include "rl_platform.h"
#include "rl_engine.h"
#include "rl_spsc.h"

RL_EXTERN_C_BEGIN

#define RL_RUNTIME_MAX_RINGS 64
#define RL_RUNTIME_MAX_LANES 64

typedef enum rl_idle_strategy {
    RL_IDLE_BUSY_SPIN = 0,   /* never give up the core: lowest latency, burns a core */
    RL_IDLE_SPIN_YIELD = 1,  /* spin RL_IDLE_SPINS empty loops, then sched_yield() each time */
    RL_IDLE_BACKOFF = 2,     /* spin, then yield, then sleep with doubling pauses up to 1 ms */
} rl_idle_strategy_t;

#define RL_IDLE_SPINS 1000

typedef struct rl_runtime_config {
    int32_t cpu;                 /* pin here; -1: do not pin */
    rl_idle_strategy_t idle;
    uint32_t batch;              /* most events per ring per step; 0 means 256 */
} rl_runtime_config_t;

/* Loop statistics, copied out for metrics. */
typedef struct rl_runtime_stats {
    uint64_t loops;          /* passes over all rings */
    uint64_t idle_loops;     /* passes that found nothing */
    uint64_t events;         /* events consumed */
    uint64_t freezes;        /* trading-state changes this thread's controller published */
    int32_t cpu;             /* where the thread last ran (sched_getcpu) */
    bool running;
} rl_runtime_stats_t;

typedef struct rl_runtime rl_runtime_t;

/* Returns 0, -EINVAL / -EPERM (rl_cpu_check of config->cpu), or -ENOMEM. */
int rl_runtime_create(rl_engine_t *engine, const rl_runtime_config_t *config, rl_runtime_t **out);
/* Stops the thread if it runs. Does not destroy the engine or rings. */
void rl_runtime_destroy(rl_runtime_t *runtime);

/* Before start only. Returns 0, -EBUSY (running) or -ENOSPC. */
int rl_runtime_add_ring(rl_runtime_t *runtime, rl_spsc_t *ring);
/* A lane (see above), served before the data rings. Before start only:
 * 0, -EBUSY (running) or -ENOSPC (RL_RUNTIME_MAX_LANES already). */
int rl_runtime_add_lane(rl_runtime_t *runtime, rl_spsc_t *lane);

/* Start the risk thread. Returns 0, -EBUSY (already running) or -errno from
 * pthread_create / pinning. */
int rl_runtime_start(rl_runtime_t *runtime);

/* Graceful stop: drain every ring, then join. Returns 0 or -EINVAL (not running). */
int rl_runtime_stop(rl_runtime_t *runtime);

bool rl_runtime_is_running(const rl_runtime_t *runtime);

/* Before start: the risk thread calls `probe` once per pass and publishes what
 * it returns, e.g. its own thread's allocation count, so that a load test can
 * prove the risk thread allocates nothing. NULL: no probe. */
void rl_runtime_set_probe(rl_runtime_t *runtime, uint64_t (*probe)(void));
/* The probe's latest value (0 before the first pass). Any thread. */
uint64_t rl_runtime_probe_value(const rl_runtime_t *runtime);
void rl_runtime_read_stats(const rl_runtime_t *runtime, rl_runtime_stats_t *out);

RL_EXTERN_C_END

#endif /* RL_RUNTIME_H */
