/*
 * rl_spsc.h - single-producer single-consumer ring of rl_event_t.
 *
 * Positions only grow (uint64), and map to slots with `& mask`, so capacity
 * is a power of two and full/empty never need a spare slot.
 *
 * Each side keeps a cached copy of the other's position and re-reads the
 * shared one only when the cache says full (producer) or empty (consumer);
 * that keeps coherency traffic to one line transfer per batch rather than
 * per event. As in rigtorp's SPSCQueue, the four indices sit on four lines:
 * a shared index (tail, head) is read by the other side, and must not drag
 * the owner's private cache (head_cache, tail_cache) into a shared line state
 * with it; the slots are padded by a line at each end.
 *
 * Ordering recipe: load your own position relaxed; load the other side's with
 * acquire; publish yours with release.
 *
 * A full ring returns RL_FULL and writes nothing: the caller decides whether to
 * spin, drain or fail. Nothing is ever dropped silently.
 */
#ifndef RL_SPSC_H
#define RL_SPSC_H

#include "rl_platform.h"
#include "rl_result.h"
#include "rl_events.h"

RL_EXTERN_C_BEGIN

typedef struct rl_spsc {
    /* Producer writes, consumer reads when its cache runs dry. */
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(uint64_t) tail;  /* next position to write */
    /* Producer only. */
    RL_ALIGNAS(RL_CACHE_LINE) uint64_t head_cache;     /* producer's last view of head */
    _Atomic(uint64_t) full_count;                     /* pushes refused with RL_FULL (monitors read it) */
    /* Consumer writes, producer reads when its cache says full. */
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(uint64_t) head;  /* next position to read */
    /* Consumer only. */
    RL_ALIGNAS(RL_CACHE_LINE) uint64_t tail_cache;     /* consumer's last view of tail */
    /* Read-only after rl_spsc_create: shared by both without contention. */
    RL_ALIGNAS(RL_CACHE_LINE) uint64_t capacity;
    uint64_t mask;
    rl_event_t *slots;
} rl_spsc_t;

RL_STATIC_ASSERT(offsetof(rl_spsc_t, tail) % RL_CACHE_LINE == 0, "tail starts a line");
RL_STATIC_ASSERT(offsetof(rl_spsc_t, head_cache) - offsetof(rl_spsc_t, tail) >= RL_CACHE_LINE, "the producer's cache is apart from tail");
RL_STATIC_ASSERT(offsetof(rl_spsc_t, head) - offsetof(rl_spsc_t, head_cache) >= RL_CACHE_LINE, "producer and consumer never share a line");
RL_STATIC_ASSERT(offsetof(rl_spsc_t, tail_cache) - offsetof(rl_spsc_t, head) >= RL_CACHE_LINE, "the consumer's cache is apart from head");
RL_STATIC_ASSERT(offsetof(rl_spsc_t, capacity) - offsetof(rl_spsc_t, tail_cache) >= RL_CACHE_LINE, "read-only group is apart from the consumer");

/* Create a ring of `capacity` events (a power of two, >= 2).
 * Returns 0, -EINVAL for a bad capacity, or -ENOMEM. */
int rl_spsc_create(uint64_t capacity, rl_spsc_t **out);
/* As rl_spsc_create, with the ring's memory on NUMA `node` (< 0: any). */
int rl_spsc_create_on_node(uint64_t capacity, int node, rl_spsc_t **out);
void rl_spsc_destroy(rl_spsc_t *ring);

/* Producer: copy *event into the ring. RL_OK or RL_FULL. */
RL_INLINE rl_result_t rl_spsc_push(rl_spsc_t *ring, const rl_event_t *event) {
    /* relaxed: only this producer writes tail. */
    uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    if (RL_UNLIKELY(tail - ring->head_cache >= ring->capacity)) {
        /* acquire: pairs with the consumer's release store of head, so the slot
         * we are about to overwrite has been fully read. */
        ring->head_cache = atomic_load_explicit(&ring->head, memory_order_acquire);
        if (tail - ring->head_cache >= ring->capacity) {
            /* The producer is the only writer; monitors read it relaxed. */
            RL_SINGLE_WRITER_ADD(&ring->full_count, 1);
            return RL_FULL;
        }
    }
    ring->slots[tail & ring->mask] = *event;
    /* release: pairs with the consumer's acquire load of tail, publishing the slot. */
    atomic_store_explicit(&ring->tail, tail + 1, memory_order_release);
    return RL_OK;
}

/* Producer: copy up to `count` events into the ring and publish them with
 * one store of tail. A burst (a cancel-all's acks) then costs the consumer's
 * polling line one transfer, not one per event. Returns how many were
 * pushed (fewer than `count` only when the ring is full; none is counted as
 * a full push: the caller decides, as for rl_spsc_push). */
RL_INLINE uint64_t rl_spsc_push_batch(rl_spsc_t *ring, const rl_event_t *events, uint64_t count) {
    /* relaxed: only this producer writes tail. */
    uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    uint64_t room = ring->capacity - (tail - ring->head_cache);
    if (room < count) {
        /* acquire: pairs with the consumer's release store of head, so the
         * slots we are about to overwrite have been fully read. */
        ring->head_cache = atomic_load_explicit(&ring->head, memory_order_acquire);
        room = ring->capacity - (tail - ring->head_cache);
    }
    uint64_t n = count < room ? count : room;
    for (uint64_t i = 0; i < n; i++) ring->slots[(tail + i) & ring->mask] = events[i];
    /* release: pairs with the consumer's acquire load of tail, publishing all n slots. */
    if (n > 0) atomic_store_explicit(&ring->tail, tail + n, memory_order_release);
    return n;
}

/* Producer: keep the lines a push touches in this core's cache, for a ring
 * pushed to rarely (a lane) whose push must not wait on cache misses: the
 * read-only line and the producer's lines are read, and the next slot, which
 * the consumer will not read again before that push, is prefetched for
 * writing. tail is only read: the consumer polls it, and taking it exclusive
 * here would cost the consumer a miss on every poll. */
RL_INLINE void rl_spsc_warm(rl_spsc_t *ring) {
    /* relaxed: only this producer writes tail; the value is not used to publish anything. */
    uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    __builtin_prefetch(&ring->slots[tail & ring->mask], 1, 3);
    __builtin_prefetch(&ring->head_cache, 1, 3);
}

/* Consumer: number of events ready to read, up to `want`. The shared tail is
 * re-read only when the cached copy holds fewer than `want`. */
RL_INLINE uint64_t rl_spsc_readable(rl_spsc_t *ring, uint64_t want) {
    /* relaxed: only this consumer writes head. */
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    if (ring->tail_cache - head < want) {
        /* acquire: pairs with the producer's release store of tail, so the
         * slots up to tail are fully written before we read them. */
        ring->tail_cache = atomic_load_explicit(&ring->tail, memory_order_acquire);
    }
    uint64_t ready = ring->tail_cache - head;
    return ready < want ? ready : want;
}

/* Consumer: the i-th readable event (i < rl_spsc_readable(ring, want)), read in place. */
RL_INLINE const rl_event_t *rl_spsc_peek(const rl_spsc_t *ring, uint64_t i) {
    /* relaxed: only this consumer writes head. */
    uint64_t head = atomic_load_explicit((_Atomic(uint64_t) *)&ring->head, memory_order_relaxed);
    return &ring->slots[(head + i) & ring->mask];
}

/* Consumer: give back `count` read slots to the producer in one store. */
RL_INLINE void rl_spsc_release(rl_spsc_t *ring, uint64_t count) {
    /* relaxed: only this consumer writes head. */
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    /* release: pairs with the producer's acquire load of head; our reads of
     * the slots happen before the producer may overwrite them. */
    atomic_store_explicit(&ring->head, head + count, memory_order_release);
}

/* Consumer: copy one event out. RL_OK or RL_EMPTY. */
RL_INLINE rl_result_t rl_spsc_pop(rl_spsc_t *ring, rl_event_t *out) {
    /* relaxed: only this consumer writes head. */
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    if (RL_UNLIKELY(head == ring->tail_cache)) {
        /* acquire: pairs with the producer's release store of tail, so the
         * slot is fully written before we read it. */
        ring->tail_cache = atomic_load_explicit(&ring->tail, memory_order_acquire);
        if (head == ring->tail_cache) return RL_EMPTY;
    }
    *out = ring->slots[head & ring->mask];
    /* release: pairs with the producer's acquire load of head; our read of the
     * slot happens before the producer may overwrite it. */
    atomic_store_explicit(&ring->head, head + 1, memory_order_release);
    return RL_OK;
}

/* Consumer: copy up to `max` events out with one release store.
 * Returns how many were copied (0 when empty). */
RL_INLINE uint64_t rl_spsc_pop_batch(rl_spsc_t *ring, rl_event_t *out, uint64_t max) {
    uint64_t n = rl_spsc_readable(ring, max);
    /* relaxed: only this consumer writes head. */
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    for (uint64_t i = 0; i < n; i++) {
        out[i] = ring->slots[(head + i) & ring->mask];
    }
    /* release: as in rl_spsc_pop. */
    if (n > 0) atomic_store_explicit(&ring->head, head + n, memory_order_release);
    return n;
}

/* Either side, for metrics: events in the ring now. Approximate while the
 * other side runs. */
RL_INLINE uint64_t rl_spsc_depth(const rl_spsc_t *ring) {
    /* acquire on both: pairs with each side's release store; a monitoring read. */
    uint64_t head = atomic_load_explicit((_Atomic(uint64_t) *)&ring->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit((_Atomic(uint64_t) *)&ring->tail, memory_order_acquire);
    return tail >= head ? tail - head : 0;
}

/* Events ever pushed (the tail) and ever consumed (the head), from any thread.
 * A producer that pushed its event at position p knows it was applied once
 * rl_spsc_consumed() > p; nothing is lost when, at rest, the two are equal. */
RL_INLINE uint64_t rl_spsc_pushed(const rl_spsc_t *ring) {
    /* acquire: pairs with the producer's release store of tail. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&ring->tail, memory_order_acquire);
}
RL_INLINE uint64_t rl_spsc_consumed(const rl_spsc_t *ring) {
    /* acquire: pairs with the consumer's release store of head, which follows
     * the consumer's work on those events. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&ring->head, memory_order_acquire);
}

/* Producer: free slots now. The cached head is refreshed whenever it shows
 * fewer than `want` free, so a producer that needs room for several events
 * sees the consumer's progress (refreshing only at full would leave it
 * waiting forever on a ring the consumer has long emptied). */
RL_INLINE uint64_t rl_spsc_writable(rl_spsc_t *ring, uint64_t want) {
    /* relaxed: only this producer writes tail. */
    uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    if (ring->capacity - (tail - ring->head_cache) < want) {
        /* acquire: pairs with the consumer's release store of head. */
        ring->head_cache = atomic_load_explicit(&ring->head, memory_order_acquire);
    }
    return ring->capacity - (tail - ring->head_cache);
}

RL_INLINE uint64_t rl_spsc_capacity(const rl_spsc_t *ring) { return ring->capacity; }

/* Pushes refused with RL_FULL since creation; safe from any thread. */
RL_INLINE uint64_t rl_spsc_full_count(const rl_spsc_t *ring) {
    /* relaxed: a monitoring read of a single-writer counter; orders nothing. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&ring->full_count, memory_order_relaxed);
}

RL_EXTERN_C_END

#endif /* RL_SPSC_H */
