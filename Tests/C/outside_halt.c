/*
 * Description: halts from any thread (rl_engine_halt_now) racing raising
 * checks and the controller's own changes, on real threads.
 *
 *   - Halters halt at random moments, as a strategy whose edge collapses;
 *     with "mixed", every second halter as a router given a fill no
 *     position can take (rl_engine_halt_unrecordable_fill), whose halt
 *     takes the others over.
 *   - A driver sends the controller a random mix of unfreezes (half of them
 *     bounded by the kill-switch pulls seen, which mark the word first), its own
 *     halts (manual freeze) and limit changes that move it in and out of
 *     REDUCING, through the risk side's ring.
 *   - The risk thread steps that ring: its tick takes the outside halts in.
 *     Before every second step it takes the knock, as the runtime does
 *     before serving its lanes, so both of the tick's ways to look for a
 *     halt (the knock still set, the knock taken) race the halters.
 *   - Checkers reserve raising orders without pause.
 *
 * Checked:
 *   1. No raising order is accepted while the freeze word shows HALTED: a
 *      check that began and ended with the same HALTED word, with no
 *      controller publish anywhere in between (RL_HOOK "show:begin" and
 *      "show:end"), must have been refused.
 *   2. The controller's history has no gap: each recorded change starts from
 *      the word the previous one left, one epoch on.
 *   3. Every halt that showed is in that history (as many edge-collapse
 *      and unrecordable-fill records from a word not HALTED, or over a
 *      lifting mark, as halts that returned true, at least).
 *   4. At the end, once the risk side has stepped again: no halt request is
 *      left in the book, and the machine, the book and the word agree.
 *
 * Built and run by scripts/test.sh, also under ThreadSanitizer:
 *   outside_halt [halters] [checkers] [milliseconds] [mixed]
 * Exit: 0 pass, 1 fail.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "RedlineCore.h"

#define S RL_FP_SCALE

void (*rl_test_hook)(const char *point);

static rl_engine_t *engine;
static rl_spsc_t *ring;
static _Atomic(int) stop_load, stop_risk;
/* Controller publishes begun and ended (odd while one is in progress). */
static _Atomic(uint64_t) shows;
static _Atomic(uint64_t) accepted, accepted_while_halted, refused, halts_shown, halts_tried;
/* Checkers that have had an order accepted, while the run goes on. */
static _Atomic(uint64_t) accepted_seen;
/* Refusals by result code, printed when the race was not run. */
static _Atomic(uint64_t) refused_by[64];
/* "mixed": odd halters halt for an unrecordable fill. Set before the threads start. */
static int mixed;

static void hook(const char *point) {
    if (point[0] == 's' && point[1] == 'h') {
        /* seq_cst: ordered with the checkers' loads of it and of the word. */
        atomic_fetch_add(&shows, 1);
    }
}

static uint64_t xorshift(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

static void *checker(void *arg) {
    (void)arg;
    uint64_t ok = 0, while_halted = 0, no = 0;
    /* relaxed: a stop flag. */
    while (!atomic_load_explicit(&stop_load, memory_order_relaxed)) {
        uint64_t s1 = atomic_load(&shows);
        uint64_t w1 = rl_freeze_load(rl_engine_freeze(engine));
        rl_result_t r = rl_engine_reserve(engine, 0, RL_SIDE_BUY, S / 1000, S);
        uint64_t w2 = rl_freeze_load(rl_engine_freeze(engine));
        uint64_t s2 = atomic_load(&shows);
        if (r == RL_OK) {
            /* relaxed: the main thread only needs to see that one was accepted. */
            if (ok++ == 0) atomic_fetch_add_explicit(&accepted_seen, 1, memory_order_relaxed);
            if (rl_freeze_word_state(w1) == RL_STATE_HALTED && w1 == w2 && s1 == s2 && (s1 & 1) == 0) while_halted++;
        } else {
            no++;
            /* relaxed: a counter read after the joins. */
            atomic_fetch_add_explicit(&refused_by[(unsigned)r & 63], 1, memory_order_relaxed);
        }
    }
    atomic_fetch_add(&accepted, ok);
    atomic_fetch_add(&accepted_while_halted, while_halted);
    atomic_fetch_add(&refused, no);
    return NULL;
}

/* A halter halts in bursts with pauses between: halters that never paused
 * could leave no moment without one on 2 cores, and then no raising order
 * would ever be accepted and the race this test is for would not run (seen in
 * CI: 2 halters, 0 of 310 million orders accepted). */
static void *halter(void *arg) {
    uint64_t seed = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1), shown = 0, tried = 0;
    /* relaxed: a stop flag. */
    while (!atomic_load_explicit(&stop_load, memory_order_relaxed)) {
        for (uint64_t burst = 1 + xorshift(&seed) % 64; burst > 0; burst--) {
            for (uint64_t spin = xorshift(&seed) % 20000; spin > 0; spin--) __asm__ __volatile__("" ::: "memory");
            tried++;
            uint16_t strategy = (uint16_t)((uintptr_t)arg + 1);
            uint64_t made = mixed && ((uintptr_t)arg & 1)
                                ? rl_engine_halt_unrecordable_fill(engine, strategy, S / 1000, 50 * S)
                                : rl_engine_halt_now(engine, RL_FREEZE_REASON_EDGE_COLLAPSE, strategy, 50 * S);
            if (made) {
                shown++;
                /* relaxed: a counter the main thread reads to know the race ran. */
                atomic_fetch_add_explicit(&halts_shown, 1, memory_order_relaxed);
            }
        }
        struct timespec pause = {0, (long)(20000 + xorshift(&seed) % 500000)};
        nanosleep(&pause, NULL);
    }
    (void)shown;
    atomic_fetch_add(&halts_tried, tried);
    return NULL;
}

static void control(rl_control_t what, int64_t value) {
    rl_event_t ev = {0};
    ev.type = RL_EVENT_CONTROL;
    ev.side = (uint8_t)what;
    ev.symbol = RL_SYMBOL_NONE;
    ev.value = value;
    while (rl_spsc_push(ring, &ev) != RL_OK) {}
}

/* The driver: the ring's one producer. */
static void *driver(void *arg) {
    (void)arg;
    uint64_t seed = 12345;
    /* relaxed: a stop flag. */
    while (!atomic_load_explicit(&stop_load, memory_order_relaxed)) {
        for (uint64_t spin = xorshift(&seed) % 40000; spin > 0; spin--) __asm__ __volatile__("" ::: "memory");
        uint64_t pick = xorshift(&seed) % 10;
        if (pick < 3) {
            control(RL_CONTROL_UNFREEZE, 0);
        } else if (pick < 6) {
            /* Bounded by the pulls seen (as the control socket sends it): the
             * lifting mark, which the halters store over. */
            control(RL_CONTROL_UNFREEZE, (int64_t)rl_engine_freeze_requests(engine) + 1);
        } else if (pick < 7) {
            control(RL_CONTROL_MANUAL_FREEZE, 0);
        } else {
            /* Below what checkers have reserved: REDUCING; far above: it clears. */
            int64_t total = rl_position_table_total(rl_engine_table(engine));
            control(RL_CONTROL_SET_MAX_TOTAL, pick < 9 ? (total > 2 * S ? total / 2 : S) : 1000000000 * S);
        }
    }
    return NULL;
}

static uint64_t records, record_gaps, edge_records;
static uint64_t last_word;

static void read_records(void) {
    rl_spsc_t *states = rl_engine_state_ring(engine);
    uint64_t n = rl_spsc_readable(states, UINT64_MAX);
    for (uint64_t i = 0; i < n; i++) {
        const rl_event_t *ev = rl_spsc_peek(states, i);
        if (ev->type != RL_EVENT_STATE_CHANGE) continue;
        uint64_t word = ev->order_id, before = (uint64_t)ev->price;
        if (before != last_word || rl_freeze_word_epoch(word) != rl_freeze_word_epoch(before) + 1) {
            if (record_gaps++ < 5) {
                fprintf(stderr, "outside_halt: record %llu: from %llx to %llx, the previous ended at %llx\n",
                        (unsigned long long)records, (unsigned long long)before, (unsigned long long)word,
                        (unsigned long long)last_word);
            }
        }
        rl_freeze_reason_t reason = rl_freeze_word_reason(word);
        /* A halt shown over a word not HALTED, or over an unfreeze's lifting
         * mark (recorded as a halt over the halt the mark renamed). */
        if (rl_freeze_word_state(word) == RL_STATE_HALTED &&
            (reason == RL_FREEZE_REASON_EDGE_COLLAPSE || reason == RL_FREEZE_REASON_UNRECORDABLE) &&
            (rl_freeze_word_state(before) != RL_STATE_HALTED ||
             ev->side == RL_TRADING_EDGE_COLLAPSE || ev->side == RL_TRADING_UNRECORDABLE)) {
            edge_records++;
        }
        last_word = word;
        records++;
    }
    rl_spsc_release(states, n);
}

static void *risk(void *arg) {
    (void)arg;
    rl_step_result_t out;
    uint64_t steps = 0;
    /* relaxed: a stop flag. */
    while (!atomic_load_explicit(&stop_risk, memory_order_relaxed)) {
        if (++steps & 1) rl_engine_take_knock(engine);
        rl_engine_step(engine, ring, 256, &out);
        read_records();
    }
    return NULL;
}

int main(int argc, char **argv) {
    int halters = argc > 1 ? atoi(argv[1]) : 2, checkers = argc > 2 ? atoi(argv[2]) : 2;
    long ms = argc > 3 ? atol(argv[3]) : 2000;
    mixed = argc > 4 && strcmp(argv[4], "mixed") == 0;
    rl_test_hook = hook;
    rl_engine_config_t c = {0};
    c.symbol_capacity = 4;
    c.default_symbol_limit = 1000000000 * S;
    c.max_total = 1000000000 * S;
    c.edge_freeze_threshold_bps = 100 * S;
    if (rl_engine_create(&c, &engine) != 0 || rl_engine_add_symbol(engine, "BTC", 0) != 0 ||
        rl_spsc_create(4096, &ring) != 0) {
        fprintf(stderr, "outside_halt: setup failed\n");
        return 1;
    }
    last_word = rl_freeze_load(rl_engine_freeze(engine));
    pthread_t r, d, h[8], k[8];
    if (halters > 8) halters = 8;
    if (checkers > 8) checkers = 8;
    pthread_create(&r, NULL, risk, NULL);
    pthread_create(&d, NULL, driver, NULL);
    for (int i = 0; i < halters; i++) pthread_create(&h[i], NULL, halter, (void *)(uintptr_t)i);
    for (int i = 0; i < checkers; i++) pthread_create(&k[i], NULL, checker, NULL);
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&pause, NULL);
    /* Go on, up to ten times as long, until a halt has shown and an order has
     * been accepted: a run without both proves nothing. */
    struct timespec tick = {0, 10 * 1000000};
    long waited = 0;
    for (; waited < 9 * ms; waited += 10) {
        /* relaxed: counters; the joins below order the final reads. */
        if (atomic_load_explicit(&halts_shown, memory_order_relaxed) != 0 &&
            atomic_load_explicit(&accepted_seen, memory_order_relaxed) != 0) break;
        nanosleep(&tick, NULL);
    }
    /* relaxed: stop flags; the joins order everything after. */
    atomic_store_explicit(&stop_load, 1, memory_order_relaxed);
    pthread_join(d, NULL);
    for (int i = 0; i < halters; i++) pthread_join(h[i], NULL);
    for (int i = 0; i < checkers; i++) pthread_join(k[i], NULL);
    /* Let the risk side step again with nothing else running: it takes the last halts in. */
    struct timespec settle = {0, 50 * 1000000};
    nanosleep(&settle, NULL);
    atomic_store_explicit(&stop_risk, 1, memory_order_relaxed);
    pthread_join(r, NULL);
    rl_step_result_t out;
    rl_engine_step(engine, ring, 256, &out);
    read_records();

    int failures = 0;
    uint64_t word = rl_freeze_load(rl_engine_freeze(engine));
    rl_pair_value_t book = rl_pair_load(&rl_engine_table(engine)->book);
    printf("outside_halt: %d halters%s, %d checkers, %ld ms (+%ld): %llu halts tried, %llu shown; %llu orders accepted, "
           "%llu refused; %llu state records; %llu shows\n",
           halters, mixed ? " (mixed)" : "", checkers, ms, waited, (unsigned long long)halts_tried, (unsigned long long)halts_shown,
           (unsigned long long)accepted, (unsigned long long)refused, (unsigned long long)records,
           (unsigned long long)atomic_load(&shows) / 2);
    if (accepted_while_halted != 0) {
        fprintf(stderr, "outside_halt: FAILED: %llu raising orders accepted while the word showed HALTED\n",
                (unsigned long long)accepted_while_halted);
        failures++;
    }
    if (record_gaps != 0) {
        fprintf(stderr, "outside_halt: FAILED: %llu gaps in the controller's history\n", (unsigned long long)record_gaps);
        failures++;
    }
    if (edge_records < halts_shown) {
        fprintf(stderr, "outside_halt: FAILED: %llu halts showed, %llu recorded\n", (unsigned long long)halts_shown,
                (unsigned long long)edge_records);
        failures++;
    }
    if (word != last_word || (book.hi & RL_BOOK_HALT_REQUESTED) != 0 || RL_BOOK_STATE(book.hi) != rl_freeze_word_state(word) ||
        engine->trading.state != rl_freeze_word_state(word)) {
        fprintf(stderr, "outside_halt: FAILED: at the end the word is %llx (last recorded %llx), the book %llx, the machine %u\n",
                (unsigned long long)word, (unsigned long long)last_word, (unsigned long long)book.hi,
                (unsigned)engine->trading.state);
        failures++;
    }
    if (halts_shown == 0 || accepted == 0 || refused == 0) {
        fprintf(stderr, "outside_halt: FAILED: the race was not run (no halt shown, or no order accepted or refused)\n");
        for (int code = 0; code < 64; code++) {
            if (refused_by[code] != 0) fprintf(stderr, "  refused with %d: %llu\n", code, (unsigned long long)refused_by[code]);
        }
        failures++;
    }
    rl_spsc_destroy(ring);
    rl_engine_destroy(engine);
    return failures ? 1 : 0;
}
