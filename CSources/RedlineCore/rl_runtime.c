#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_attr_setaffinity_np, CPU_SET */
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "rl_numa.h"
#include "rl_runtime.h"

struct rl_runtime {
    /* Written by the controlling thread. */
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(uint32_t) stop_requested;
    _Atomic(uint32_t) running;
    /* Written by the risk thread only. */
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(uint64_t) loops;
    _Atomic(uint64_t) idle_loops;
    _Atomic(uint64_t) events;
    _Atomic(uint64_t) freezes;
    _Atomic(int32_t) cpu_seen;
    _Atomic(uint64_t) probe_value;
    /* Set before start, read-only while running. */
    RL_ALIGNAS(RL_CACHE_LINE) rl_engine_t *engine;
    rl_runtime_config_t config;
    uint64_t (*probe)(void);
    uint32_t ring_count;
    uint32_t lane_count;
    pthread_t thread;
    rl_spsc_t *rings[RL_RUNTIME_MAX_RINGS];
    rl_spsc_t *lanes[RL_RUNTIME_MAX_LANES];
};

RL_STATIC_ASSERT(offsetof(struct rl_runtime, loops) - offsetof(struct rl_runtime, stop_requested) >= RL_CACHE_LINE,
                 "controller and risk-thread fields never share a line");
RL_STATIC_ASSERT(offsetof(struct rl_runtime, engine) - offsetof(struct rl_runtime, loops) >= RL_CACHE_LINE,
                 "risk-thread stats are apart from the read-only group");

int rl_runtime_create(rl_engine_t *engine, const rl_runtime_config_t *config, rl_runtime_t **out) {
    if (config->cpu >= 0) {
        int rc = rl_cpu_check(config->cpu);
        if (rc != 0) return rc;
    }
    if (config->idle > RL_IDLE_BACKOFF) return -EINVAL;
    rl_runtime_t *runtime = rl_numa_alloc(sizeof(*runtime), config->cpu >= 0 ? rl_numa_node_of_cpu(config->cpu) : -1);
    if (runtime == NULL) return -ENOMEM;
    runtime->engine = engine;
    runtime->config = *config;
    if (runtime->config.batch == 0) runtime->config.batch = 256;
    /* relaxed: not shared yet. */
    atomic_store_explicit(&runtime->cpu_seen, -1, memory_order_relaxed);
    *out = runtime;
    return 0;
}

void rl_runtime_destroy(rl_runtime_t *runtime) {
    if (runtime == NULL) return;
    if (rl_runtime_is_running(runtime)) rl_runtime_stop(runtime);
    rl_numa_free(runtime);
}

bool rl_runtime_is_running(const rl_runtime_t *runtime) {
    /* acquire: pairs with the release stores in start/stop. */
    return atomic_load_explicit((_Atomic(uint32_t) *)&runtime->running, memory_order_acquire) != 0;
}

int rl_runtime_add_ring(rl_runtime_t *runtime, rl_spsc_t *ring) {
    if (rl_runtime_is_running(runtime)) return -EBUSY;
    if (runtime->ring_count == RL_RUNTIME_MAX_RINGS) return -ENOSPC;
    runtime->rings[runtime->ring_count++] = ring;
    return 0;
}

int rl_runtime_add_lane(rl_runtime_t *runtime, rl_spsc_t *lane) {
    if (rl_runtime_is_running(runtime)) return -EBUSY;
    if (runtime->lane_count == RL_RUNTIME_MAX_LANES) return -ENOSPC;
    runtime->lanes[runtime->lane_count++] = lane;
    return 0;
}

/* The risk thread is the only writer of its statistics. */
#define rl_runtime_bump(counter, n) RL_SINGLE_WRITER_ADD(counter, n)

/* Every event waiting on every lane. Takes the knock first, so that a knock
 * after this point makes the next yielding step stop. */
static uint64_t rl_runtime_serve_lanes(rl_runtime_t *runtime) {
    rl_engine_take_knock(runtime->engine);

    uint64_t consumed = 0;
    rl_step_result_t step;
    for (uint32_t i = 0; i < runtime->lane_count; i++) {
        rl_spsc_t *lane = runtime->lanes[i];
        if (rl_spsc_readable(lane, 1) == 0) continue; /* the common case: one load */
        consumed += rl_engine_step(runtime->engine, lane, runtime->config.batch, &step);
        if (step.state_changes) rl_runtime_bump(&runtime->freezes, step.state_changes);
    }
    return consumed;
}

/* One pass over every ring: the lanes first, and again whenever a knock
 * stops a data ring's step (within one event of it). Returns the events consumed. */
static uint64_t rl_runtime_pass(rl_runtime_t *runtime) {
    uint64_t consumed = rl_runtime_serve_lanes(runtime);
    rl_step_result_t step;
    for (uint32_t i = 0; i < runtime->ring_count; i++) {
        uint64_t left = runtime->config.batch;
        for (;;) {
            uint64_t got = rl_engine_step_yielding(runtime->engine, runtime->rings[i], left, &step);
            if (step.state_changes) rl_runtime_bump(&runtime->freezes, step.state_changes);
            consumed += got;
            left -= got;
            if (!step.yielded) break;
            consumed += rl_runtime_serve_lanes(runtime);
            if (left == 0) break;
        }
    }
    return consumed;
}

static void rl_runtime_idle(rl_idle_strategy_t idle, uint64_t empty_passes) {
    if (idle == RL_IDLE_BUSY_SPIN || empty_passes < RL_IDLE_SPINS) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
        return;
    }
    if (idle == RL_IDLE_SPIN_YIELD || empty_passes < 2 * RL_IDLE_SPINS) {
        sched_yield();
        return;
    }
    /* Backoff: 1 us doubling to 1 ms. */
    uint64_t step = empty_passes - 2 * RL_IDLE_SPINS;
    long ns = 1000L << (step < 10 ? step : 10);
    struct timespec pause = {0, ns > 1000000L ? 1000000L : ns};
    nanosleep(&pause, NULL);
}

static void *rl_runtime_main(void *arg) {
    rl_runtime_t *runtime = arg;
    uint64_t empty_passes = 0;
    /* relaxed: statistics. */
    atomic_store_explicit(&runtime->cpu_seen, rl_current_cpu(), memory_order_relaxed);
    /* acquire: pairs with the release store in rl_runtime_stop; everything the
     * controller pushed before asking to stop is visible to the final drain. */
    while (!atomic_load_explicit(&runtime->stop_requested, memory_order_acquire)) {
        uint64_t consumed = rl_runtime_pass(runtime);
        /* relaxed: a statistic read by monitors; the risk thread is its only writer. */
        if (runtime->probe != NULL) atomic_store_explicit(&runtime->probe_value, runtime->probe(), memory_order_relaxed);
        rl_runtime_bump(&runtime->loops, 1);
        if (consumed) {
            rl_runtime_bump(&runtime->events, consumed);
            empty_passes = 0;
        } else {
            rl_runtime_bump(&runtime->idle_loops, 1);
            rl_runtime_idle(runtime->config.idle, ++empty_passes);
        }
    }
    /* Final drain: until every ring is empty. A pass can consume nothing while
     * the journal is full (backpressure), so wait for it rather than stop. */
    for (;;) {
        uint64_t consumed = rl_runtime_pass(runtime);
        if (consumed) {
            rl_runtime_bump(&runtime->events, consumed);
            continue;
        }
        bool empty = true;
        for (uint32_t i = 0; i < runtime->ring_count && empty; i++) empty = rl_spsc_readable(runtime->rings[i], 1) == 0;
        for (uint32_t i = 0; i < runtime->lane_count && empty; i++) empty = rl_spsc_readable(runtime->lanes[i], 1) == 0;
        if (empty) break;
        sched_yield();
    }
    /* relaxed: statistics, as at the start. */
    atomic_store_explicit(&runtime->cpu_seen, rl_current_cpu(), memory_order_relaxed);
    return NULL;
}

int rl_runtime_start(rl_runtime_t *runtime) {
    if (rl_runtime_is_running(runtime)) return -EBUSY;
    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc != 0) return -rc;
    if (runtime->config.cpu >= 0) {
        /* Pinned before it runs a single instruction: the first touch of its
         * stack is already on the right core. */
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(runtime->config.cpu, &set);
        rc = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
    }
    /* relaxed: the thread does not exist yet; pthread_create orders it. */
    atomic_store_explicit(&runtime->stop_requested, 0, memory_order_relaxed);
    if (rc == 0) rc = pthread_create(&runtime->thread, &attr, rl_runtime_main, runtime);
    pthread_attr_destroy(&attr);
    if (rc != 0) return -rc;
    /* release: pairs with the acquire in rl_runtime_is_running. */
    atomic_store_explicit(&runtime->running, 1, memory_order_release);
    return 0;
}

int rl_runtime_stop(rl_runtime_t *runtime) {
    if (!rl_runtime_is_running(runtime)) return -EINVAL;
    /* release: pairs with the risk thread's acquire load of stop_requested. */
    atomic_store_explicit(&runtime->stop_requested, 1, memory_order_release);
    pthread_join(runtime->thread, NULL);
    /* release: pairs with the acquire in rl_runtime_is_running. */
    atomic_store_explicit(&runtime->running, 0, memory_order_release);
    return 0;
}

void rl_runtime_set_probe(rl_runtime_t *runtime, uint64_t (*probe)(void)) { runtime->probe = probe; }

uint64_t rl_runtime_probe_value(const rl_runtime_t *runtime) {
    /* relaxed: a statistic written by the risk thread alone. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&runtime->probe_value, memory_order_relaxed);
}

void rl_runtime_read_stats(const rl_runtime_t *runtime, rl_runtime_stats_t *out) {
    /* relaxed, all: monitoring reads of single-writer counters. */
    out->loops = atomic_load_explicit((_Atomic(uint64_t) *)&runtime->loops, memory_order_relaxed);
    out->idle_loops = atomic_load_explicit((_Atomic(uint64_t) *)&runtime->idle_loops, memory_order_relaxed);
    out->events = atomic_load_explicit((_Atomic(uint64_t) *)&runtime->events, memory_order_relaxed);
    out->freezes = atomic_load_explicit((_Atomic(uint64_t) *)&runtime->freezes, memory_order_relaxed);
    out->cpu = atomic_load_explicit((_Atomic(int32_t) *)&runtime->cpu_seen, memory_order_relaxed);
    out->running = rl_runtime_is_running(runtime);
}
