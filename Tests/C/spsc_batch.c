/*
 * Description: rl_spsc_push_batch against a consumer on another thread.
 *   1. Single-threaded edges: a batch larger than the room pushes only what
 *      fits, in order, and counts nothing as a full push; a batch of 0 is a
 *      no-op; a ring emptied by the consumer takes a whole batch again.
 *   2. A producer pushes 2,000,000 numbered events in batches of 1 to 40
 *      (mixed with single pushes) into a 64-slot ring, while a consumer pops
 *      them one at a time and in batches: every number arrives exactly once
 *      and in order, so a batch never publishes a slot before it is written
 *      and never overwrites one the consumer has not read.
 * Run under ThreadSanitizer as well. Built and run by scripts/test.sh.
 * Exit: 0 pass, 1 fail.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include "RedlineCore.h"

static int failures;
#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            failures++;                                                         \
            fprintf(stderr, "spsc_batch: FAILED %s:%d: ", __FILE__, __LINE__);  \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)

#define EVENTS 2000000ULL

static void edges(void) {
    rl_spsc_t *ring = NULL;
    CHECK(rl_spsc_create(8, &ring) == 0, "create");
    rl_event_t batch[12];
    for (int i = 0; i < 12; i++) batch[i] = (rl_event_t){.type = RL_EVENT_FILL, .qty = i + 1};
    CHECK(rl_spsc_push_batch(ring, batch, 0) == 0, "an empty batch pushes nothing");
    CHECK(rl_spsc_push_batch(ring, batch, 12) == 8, "only what fits");
    CHECK(rl_spsc_full_count(ring) == 0, "a short batch is not a full push");
    CHECK(rl_spsc_push_batch(ring, batch, 1) == 0, "a full ring takes nothing");
    rl_event_t out;
    for (int i = 0; i < 8; i++) {
        CHECK(rl_spsc_pop(ring, &out) == RL_OK && out.qty == i + 1, "in order: %d", i);
    }
    CHECK(rl_spsc_pop(ring, &out) == RL_EMPTY, "nothing more");
    CHECK(rl_spsc_push_batch(ring, batch + 8, 4) == 4, "room again after the consumer read");
    for (int i = 8; i < 12; i++) CHECK(rl_spsc_pop(ring, &out) == RL_OK && out.qty == i + 1, "in order: %d", i);
    rl_spsc_destroy(ring);
}

static void *consumer(void *arg) {
    rl_spsc_t *ring = arg;
    uint64_t expected = 1;
    rl_event_t out[16];
    while (expected <= EVENTS) {
        uint64_t n;
        if (expected & 1) {
            n = rl_spsc_pop(ring, out) == RL_OK ? 1 : 0;
        } else {
            n = rl_spsc_pop_batch(ring, out, 16);
        }
        if (n == 0) {
            sched_yield();
            continue;
        }
        for (uint64_t i = 0; i < n; i++, expected++) {
            if ((uint64_t)out[i].qty != expected || out[i].order_id != expected * 3) {
                CHECK(0, "expected %llu, got qty %lld id %llu", (unsigned long long)expected,
                      (long long)out[i].qty, (unsigned long long)out[i].order_id);
                return NULL;
            }
        }
    }
    return NULL;
}

static void race(void) {
    rl_spsc_t *ring = NULL;
    CHECK(rl_spsc_create(64, &ring) == 0, "create");
    pthread_t reader;
    pthread_create(&reader, NULL, consumer, ring);
    rl_event_t batch[40];
    uint64_t next = 1, seed = 0x9E3779B97F4A7C15ULL;
    while (next <= EVENTS) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        uint64_t size = 1 + seed % 40;
        if (next + size - 1 > EVENTS) size = EVENTS - next + 1;
        for (uint64_t i = 0; i < size; i++) {
            batch[i] = (rl_event_t){.type = RL_EVENT_FILL, .qty = (int64_t)(next + i), .order_id = (next + i) * 3};
        }
        uint64_t done = 0;
        if (seed & 0x100) {
            while (done < size) {
                uint64_t n = rl_spsc_push_batch(ring, batch + done, size - done);
                if (n == 0) sched_yield();
                done += n;
            }
        } else {
            for (; done < size; done++) {
                while (rl_spsc_push(ring, &batch[done]) == RL_FULL) sched_yield();
            }
        }
        next += size;
    }
    pthread_join(reader, NULL);
    rl_spsc_destroy(ring);
}

int main(void) {
    edges();
    race();
    if (failures) return 1;
    printf("spsc_batch: ok (%llu events in batches of 1-40 through a 64-slot ring, in order)\n",
           (unsigned long long)EVENTS);
    return 0;
}
