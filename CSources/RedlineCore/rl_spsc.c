#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_SET, sched_getcpu */
#endif
#include <errno.h>
#include "rl_spsc.h"
#include "rl_numa.h"

int rl_spsc_create(uint64_t capacity, rl_spsc_t **out) { return rl_spsc_create_on_node(capacity, -1, out); }

int rl_spsc_create_on_node(uint64_t capacity, int node, rl_spsc_t **out) {
    if (capacity < 2 || (capacity & (capacity - 1)) != 0 || capacity > (1ULL << 32)) {
        return -EINVAL;
    }
    rl_spsc_t *ring = rl_numa_alloc(sizeof(rl_spsc_t), node);
    if (ring == NULL) return -ENOMEM;
    /* Slots are padded by a cache line at each end so neighbours of the
     * allocation never share a line with the first or last slot. */
    size_t bytes = (size_t)capacity * sizeof(rl_event_t) + 2 * RL_CACHE_LINE;
    uint8_t *storage = rl_numa_alloc(bytes, node);
    if (storage == NULL) {
        rl_numa_free(ring);
        return -ENOMEM;
    }
    ring->slots = (rl_event_t *)(storage + RL_CACHE_LINE);
    ring->capacity = capacity;
    ring->mask = capacity - 1;
    /* relaxed: the ring is not shared until create returns. */
    atomic_store_explicit(&ring->tail, 0, memory_order_relaxed);
    atomic_store_explicit(&ring->head, 0, memory_order_relaxed);
    atomic_store_explicit(&ring->full_count, 0, memory_order_relaxed);
    *out = ring;
    return 0;
}

void rl_spsc_destroy(rl_spsc_t *ring) {
    if (ring == NULL) return;
    rl_numa_free((uint8_t *)ring->slots - RL_CACHE_LINE);
    rl_numa_free(ring);
}
