/*
 * Description: a request its requester withdrew never applies. The
 * orchestrator's requests (rl_engine_expect_request, then the event on the
 * request ring) race the risk side: the requester waits a random while for
 * the answer, then withdraws (rl_engine_withdraw_request) while the risk
 * thread, pausing at random, may be taking the same request. Exactly one
 * CAS wins each request:
 *   - every request is either applied (its answer 0) or withdrawn, never both;
 *   - the engine's count of requests it skipped as withdrawn is the
 *     requester's count of withdrawals it won;
 *   - both races are reached: withdrawals that won while the request was in
 *     the ring, and withdrawals that lost because the risk side had just
 *     taken it (the requester then waits for its answer).
 * Run plain and under ThreadSanitizer by scripts/test.sh. Exit: 0 pass, 1 fail.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "RedlineCore.h"

#define S RL_FP_SCALE

static rl_engine_t *engine;
static rl_spsc_t *ring;
static _Atomic(bool) stop;

static uint64_t next_random(uint64_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static void pause_for(uint64_t spins) {
    for (volatile uint64_t i = 0; i < spins; i++) {}
}

/* The risk side: steps the request ring, pausing at random so that requests
 * wait in it long enough to be withdrawn. */
static void *risk_thread(void *arg) {
    (void)arg;
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    rl_step_result_t result;
    for (;;) {
        /* acquire: pairs with the main thread's release store once it has pushed everything. */
        bool stopping = atomic_load_explicit(&stop, memory_order_acquire);
        uint64_t applied = rl_engine_step(engine, ring, 1 + next_random(&seed) % 4, &result);
        if (stopping && applied == 0 && rl_spsc_readable(ring, 1) == 0) break;
        pause_for(next_random(&seed) % 3000);
    }
    return NULL;
}

int main(int argc, char **argv) {
    long requests = argc > 1 ? atol(argv[1]) : 200000;
    rl_engine_config_t config = {0};
    config.symbol_capacity = 2;
    config.default_symbol_limit = 1000000 * S;
    config.max_total = 4000000 * S;
    config.edge_freeze_threshold_bps = 100 * S;
    if (rl_engine_create(&config, &engine) != 0 || rl_engine_add_symbol(engine, "BTC", 0) != 0 ||
        rl_spsc_create(64, &ring) != 0) {
        fprintf(stderr, "request_withdraw: setup failed\n");
        return 1;
    }
    rl_engine_set_request_ring(engine, ring);
    pthread_t risk;
    pthread_create(&risk, NULL, risk_thread, NULL);

    uint64_t seed = 0xD1B54A32D192ED03ull;
    long answered = 0, withdrawn = 0, taken_late = 0, refused = 0;
    for (long i = 0; i < requests; i++) {
        uint64_t id = RL_REQUEST_ID_BIT | (uint64_t)(i + 1);
        rl_event_t event = {0};
        event.type = RL_EVENT_MARK_PRICE;
        event.symbol = 0;
        event.price = (100 + (i & 7)) * S;
        event.order_id = id;
        rl_engine_expect_request(engine, id);
        while (rl_spsc_push(ring, &event) != RL_OK) {}
        /* Wait a random while for the answer, then give up. */
        uint64_t patience = next_random(&seed) % 4000;
        bool got = false;
        for (uint64_t t = 0; t < patience && !(got = rl_engine_last_request_id(engine) == id); t++) {}
        if (got) {
            answered++;
        } else if (rl_engine_withdraw_request(engine, id)) {
            withdrawn++;
            continue;
        } else {
            /* Taken meanwhile: its answer follows. */
            while (rl_engine_last_request_id(engine) != id) {}
            taken_late++;
        }
        if (rl_engine_last_request_result(engine) != 0) refused++;
    }
    /* release: pairs with the risk thread's acquire load. */
    atomic_store_explicit(&stop, true, memory_order_release);
    pthread_join(risk, NULL);

    uint64_t applied = rl_engine_applied_count(engine, RL_EVENT_MARK_PRICE);
    uint64_t skipped = rl_engine_requests_withdrawn(engine);
    int failures = 0;
#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            fprintf(stderr, "request_withdraw: FAILED: " __VA_ARGS__);     \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)
    CHECK(answered + withdrawn + taken_late == requests, "%ld answered + %ld withdrawn + %ld taken late != %ld",
          answered, withdrawn, taken_late, requests);
    CHECK(applied == (uint64_t)(answered + taken_late), "%llu applied, but %ld were answered or taken",
          (unsigned long long)applied, answered + taken_late);
    CHECK(skipped == (uint64_t)withdrawn, "the risk side skipped %llu as withdrawn, the requester withdrew %ld",
          (unsigned long long)skipped, withdrawn);
    CHECK(refused == 0, "%ld taken requests were refused", refused);
    CHECK(withdrawn > 0, "no withdrawal won: the race was not reached");
    CHECK(taken_late > 0, "no withdrawal lost to a take: the race was not reached");
    printf("request_withdraw: %ld requests: %ld answered in time, %ld withdrawn (skipped when reached), "
           "%ld withdrawals lost to the risk side's take (applied, answered after)\n",
           requests, answered, withdrawn, taken_late);
    rl_spsc_destroy(ring);
    rl_engine_destroy(engine);
    return failures == 0 ? 0 : 1;
}
