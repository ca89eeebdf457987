/*
 * Description: lanes overtake a backlog. An edge collapse on a lane must
 * freeze trading while a data ring still holds a backlog of events, where on
 * the data ring itself it would wait behind all of them.
 *   1. rl_engine_step_yielding stops after one event when someone has
 *      knocked (one, so that knocks never starve a ring), and goes on once
 *      the knock is taken (rl_engine_take_knock).
 *   2. A runtime started with 60,000 marks on a data ring and a collapse on
 *      a lane freezes before it applies a single mark (lanes come first).
 *   3. With the risk thread inside a batch of 65,536 marks, a collapse pushed
 *      onto the lane, and a knock, freezes long before that batch would end.
 *   4. The same collapse on the data ring, behind the backlog, freezes only
 *      after every mark: what the lane is for.
 * Built and run by scripts/test.sh. Exit: 0 pass, 1 fail.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "RedlineCore.h"

#define S RL_FP_SCALE
static int failures;
#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            failures++;                                                         \
            fprintf(stderr, "lanes: FAILED %s:%d: ", __FILE__, __LINE__);       \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)

static rl_engine_t *engine_new(void) {
    rl_engine_config_t c = {0};
    c.symbol_capacity = 4;
    c.default_symbol_limit = 1000000 * S;
    c.max_total = 4000000 * S;
    c.edge_freeze_threshold_bps = 100 * S;
    rl_engine_t *e = NULL;
    if (rl_engine_create(&c, &e) != 0 || rl_engine_add_symbol(e, "BTC", 0) != 0) return NULL;
    return e;
}

static void push_marks(rl_spsc_t *ring, int n) {
    rl_event_t ev = {0};
    ev.type = RL_EVENT_MARK_PRICE;
    ev.symbol = 0;
    for (int i = 0; i < n; i++) {
        ev.price = (100 + (i & 7)) * S;
        while (rl_spsc_push(ring, &ev) != RL_OK) {}
    }
}

static void push_collapse(rl_spsc_t *ring) {
    rl_event_t ev = {0};
    ev.type = RL_EVENT_EDGE_UPDATE;
    ev.value = 50 * S;
    while (rl_spsc_push(ring, &ev) != RL_OK) {}
}

static bool halted(rl_engine_t *e) { return rl_freeze_word_state(rl_freeze_load(rl_engine_freeze(e))) == RL_STATE_HALTED; }

/* Wait for HALTED (10 s at most). */
static bool wait_halted(rl_engine_t *e) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!halted(e)) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 10) return false;
    }
    return true;
}

/* The engine hands the journal every mark and the freeze in the order it
 * applied them: the marks it applied before the freeze, read off that ring. */
static uint64_t marks_before_freeze(rl_spsc_t *journal) {
    uint64_t marks = 0, n = rl_spsc_readable(journal, UINT64_MAX);
    for (uint64_t i = 0; i < n; i++) {
        const rl_event_t *ev = rl_spsc_peek(journal, i);
        if (ev->type == RL_EVENT_STATE_CHANGE) return marks;
        if (ev->type == RL_EVENT_MARK_PRICE) marks++;
    }
    return UINT64_MAX;
}

int main(void) {
    /* 1. The yielding step. */
    rl_engine_t *e = engine_new();
    rl_spsc_t *data = NULL, *lane = NULL;
    CHECK(e != NULL && rl_spsc_create(1 << 18, &data) == 0 && rl_spsc_create(64, &lane) == 0, "setup");
    push_marks(data, 100);
    rl_step_result_t step;
    rl_engine_knock(e);
    CHECK(rl_engine_step_yielding(e, data, 256, &step) == 1 && step.yielded == 1,
          "a knock stops the step after its first event (%llu applied)", (unsigned long long)step.applied);
    CHECK(rl_engine_step_yielding(e, data, 256, &step) == 1 && step.yielded == 1,
          "a knock not taken stops every step, each still applying one event: no starvation");
    rl_engine_take_knock(e);
    CHECK(!rl_engine_knocked(e), "the knock is taken");
    CHECK(rl_engine_step_yielding(e, data, 256, &step) == 98 && step.yielded == 0, "then the step goes on");
    rl_engine_destroy(e);
    rl_spsc_destroy(data);
    rl_spsc_destroy(lane);

    /* 2, 3, 4: a runtime. */
    for (int scenario = 2; scenario <= 4; scenario++) {
        e = engine_new();
        rl_spsc_t *journal = NULL;
        rl_spsc_create(1 << 18, &data);
        rl_spsc_create(64, &lane);
        rl_spsc_create(1 << 19, &journal);
        rl_engine_attach_journal(e, journal);
        /* Scenario 3 steps in batches of 65,536: without the knock, the
         * collapse would wait for the batch in progress to end. */
        rl_runtime_config_t config = {.cpu = -1, .idle = RL_IDLE_BUSY_SPIN, .batch = scenario == 3 ? 65536 : 256};
        rl_runtime_t *runtime = NULL;
        CHECK(rl_runtime_create(e, &config, &runtime) == 0 && rl_runtime_add_ring(runtime, data) == 0 &&
                  rl_runtime_add_lane(runtime, lane) == 0, "runtime setup");
        int backlog = scenario == 2 ? 60000 : 200000;
        uint64_t knocked_at = 0;
        push_marks(data, backlog);
        if (scenario == 2) push_collapse(lane);
        if (scenario == 4) push_collapse(data); /* behind the backlog */
        CHECK(rl_runtime_start(runtime) == 0, "start");
        if (scenario == 3) {
            /* The risk thread is inside its first batch. */
            while (rl_engine_applied_count(e, RL_EVENT_MARK_PRICE) == 0) {}
            push_collapse(lane);
            rl_engine_knock(e);
            /* Where the risk thread is as the knock lands (read after it: at
             * worst a little late, never early). */
            knocked_at = rl_engine_applied_count(e, RL_EVENT_MARK_PRICE);
        }
        CHECK(wait_halted(e), "scenario %d: never halted", scenario);
        rl_runtime_stop(runtime);
        CHECK(rl_spsc_consumed(data) == (uint64_t)backlog + (uint64_t)(scenario == 4), "the stop drains everything");
        uint64_t before = marks_before_freeze(journal);
        CHECK(before != UINT64_MAX, "scenario %d: no freeze in the journal's order", scenario);
        switch (scenario) {
        case 2: CHECK(before == 0, "lanes first: %llu marks applied before the freeze", (unsigned long long)before); break;
        case 3:
            /* Within a few events of the knock, not at the end of the batch. */
            CHECK(before < knocked_at + 1000,
                  "the knock stopped the batch: the freeze after %llu marks, the knock at %llu (a batch is 65,536)",
                  (unsigned long long)before, (unsigned long long)knocked_at);
            break;
        case 4:
            CHECK(before == (uint64_t)backlog, "on the data ring the collapse waits for the backlog: %llu of %d",
                  (unsigned long long)before, backlog);
            break;
        }
        printf("lanes: scenario %d: %llu of %d queued marks applied before the freeze%s\n", scenario,
               (unsigned long long)before, backlog, scenario == 3 ? " (see the knock below)" : "");
        if (scenario == 3) printf("lanes: scenario 3: the knock landed after %llu marks\n", (unsigned long long)knocked_at);
        rl_runtime_destroy(runtime);
        rl_engine_destroy(e);
        rl_spsc_destroy(data);
        rl_spsc_destroy(lane);
        rl_spsc_destroy(journal);
    }
    if (failures) return 1;
    printf("lanes: ok\n");
    return 0;
}
