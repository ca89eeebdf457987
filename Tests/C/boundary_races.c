/*
 * Description: races at the limits. Checker threads reserve, cancel and fill
 * against a book whose limits are a few dollars, while a risk thread applies
 * the cancels and fills and moves the marks up and down. After every accepted
 * reservation, and after every batch the risk thread applies, a detector
 * takes a consistent snapshot of the table and checks the invariants of
 * rl_position_table.h:
 *
 *   I3  the total is never below the book's true worst-case exposure, and
 *       each credit is within the overlap it stands for;
 *   I1  in ACTIVE, the true exposure is within maxTotalNotional;
 *   I2  in ACTIVE, every side is within its symbol's limit;
 *   I4  the freeze word routers poll, the book word's state checkers decide
 *       in, and the controller's machine agree (nothing here halts from
 *       outside, so the controller is the word's only writer).
 *
 * (Only the risk side's market moves may push exposure over a limit, and the
 * controller goes REDUCING before it publishes such a move, so in ACTIVE the
 * limits hold in every snapshot.) At the end, with every order canceled and
 * every event applied, the total must equal the true exposure exactly.
 *
 * The snapshot: every operation holds a read lock of one rwlock while it
 * runs, the detector takes it for writing. Operations still race each other;
 * the detector only ever sees the table between operations.
 *
 *   boundary_races THREADS SYMBOLS ATTEMPTS [SEED] [nodetect]
 *
 * With `nodetect` the detector is off (the exactness check at rest stays):
 * for ThreadSanitizer, which the detector's lock would otherwise hand
 * happens-before edges between every operation.
 * THREADS counts the checkers; the risk thread is one more. Built by
 * scripts/test.sh (also with -fsanitize=thread) and scripts/soak.sh.
 * Exit: 0 pass, 1 fail.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "RedlineCore.h"

#define S RL_FP_SCALE
#define MAX_THREADS 16
#define OPEN_ORDERS 8

typedef struct order {
    uint32_t symbol;
    rl_side_t side;
    int64_t qty;
    int64_t price;
} order_t;

typedef struct checker {
    pthread_t thread;
    int index;
    rl_spsc_t *ring;
    uint64_t seed;
    order_t open[OPEN_ORDERS];
    int open_count;
    uint64_t attempts, accepted, symbol_limit, total_limit, reduce_only, frozen, fills, cancels;
} checker_t;

static rl_engine_t *engine;
/* Writer-preferring: the detector must not starve behind a stream of operations. */
static pthread_rwlock_t snapshot_lock;
static _Atomic(int) violations;
static _Atomic(int) checkers_done;
static uint32_t symbols;
static uint64_t attempts_per_checker;
static int64_t max_exposure_seen;
static uint64_t snapshots, reducing_seen;
static bool detector_on = true;

static uint64_t next_random(uint64_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* The last state changes the controller recorded, drained by the detector. */
#define HISTORY 16
static rl_event_t history[HISTORY];
static uint64_t history_count;

static void record_history(void) {
    rl_event_t change;
    while (rl_spsc_pop(engine->states, &change) == RL_OK) history[history_count++ % HISTORY] = change;
}

/* The first violation's whole picture, so a rare one can be read afterwards. */
static void dump_state(void) {
    rl_position_table_t *table = rl_engine_table(engine);
    fprintf(stderr, "  at the first violation: word %#lx (published %#lx), machine state %u reason %u breached %u, "
                    "book hi %#lx, total %.2f, owed %.2f, symbols over %u\n",
            (unsigned long)rl_freeze_load(rl_engine_freeze(engine)), (unsigned long)engine->published,
            engine->trading.state, engine->trading.reason, engine->trading.breached,
            (unsigned long)atomic_load(&table->book.hi), rl_fp_to_double(rl_position_table_total(table)),
            rl_fp_to_double(engine->owed), engine->over_count);
    for (uint32_t s = 0; s < symbols; s++) {
        rl_pair_value_t buy = rl_pair_load(&table->slots[s].sides[RL_SIDE_BUY]);
        rl_pair_value_t sell = rl_pair_load(&table->slots[s].sides[RL_SIDE_SELL]);
        fprintf(stderr, "  S%u: buy %.2f @ %.2f, sell %.2f @ %.2f, position %.2f, credit %.2f, over %u\n", s,
                rl_fp_to_double(buy.lo), rl_fp_to_double(buy.hi), rl_fp_to_double(sell.lo), rl_fp_to_double(sell.hi),
                rl_fp_to_double(rl_position_table_position(table, s)),
                rl_fp_to_double(atomic_load(&table->risk[s].credit)), engine->over[s]);
    }
    for (uint64_t i = history_count > HISTORY ? history_count - HISTORY : 0; i < history_count; i++) {
        const rl_event_t *e = &history[i % HISTORY];
        fprintf(stderr, "  change %lu: input %u, symbol %u, word %#lx (was %#lx), limit %.2f, value %.2f\n",
                (unsigned long)i, e->side, e->symbol, (unsigned long)e->order_id, (unsigned long)e->price,
                rl_fp_to_double(e->qty), rl_fp_to_double(e->value));
    }
}

static void fail(const char *what, int64_t a, int64_t b) {
    int before = atomic_fetch_add(&violations, 1);
    if (before == 0 && engine != NULL) dump_state();
    if (before < 10) {
        fprintf(stderr, "VIOLATION: %s (%.8f vs %.8f)\n", what, rl_fp_to_double(a), rl_fp_to_double(b));
    }
}

/* The detector: a consistent snapshot, then every invariant. */
static void detect(void) {
    if (!detector_on) return;
    pthread_rwlock_wrlock(&snapshot_lock);
    record_history();
    rl_position_table_t *table = rl_engine_table(engine);
    int64_t truth = 0;
    uint64_t word = rl_freeze_load(rl_engine_freeze(engine));
    rl_trading_state_t state = rl_freeze_word_state(word);
    int64_t book_hi = atomic_load_explicit(&table->book.hi, memory_order_relaxed);
    if (RL_BOOK_STATE(book_hi) != state || (book_hi & RL_BOOK_HALT_REQUESTED) || engine->trading.state != state ||
        engine->published != word) {
        fail("I4: the freeze word, the book's state and the machine disagree at rest", (int64_t)state,
             (int64_t)RL_BOOK_STATE(book_hi));
    }
    for (uint32_t s = 0; s < symbols; s++) {
        int64_t buy = rl_position_table_side_exposure(table, s, RL_SIDE_BUY);
        int64_t sell = rl_position_table_side_exposure(table, s, RL_SIDE_SELL);
        int64_t credit = atomic_load_explicit(&table->risk[s].credit, memory_order_relaxed);
        if (credit > (buy < sell ? buy : sell)) fail("credit above the overlap", credit, buy < sell ? buy : sell);
        int64_t limit = rl_position_table_limit(table, s);
        if (state == RL_STATE_ACTIVE && (buy > limit || sell > limit)) fail("ACTIVE with a side over its limit", buy > sell ? buy : sell, limit);
        truth += buy > sell ? buy : sell;
    }
    int64_t total = rl_position_table_total(table);
    if (total < truth) fail("I3: total below the true exposure", total, truth);
    if (state == RL_STATE_ACTIVE && truth > rl_position_table_max_total(table)) {
        fail("I1: ACTIVE with the book over its limit", truth, rl_position_table_max_total(table));
    }
    if (truth > max_exposure_seen) max_exposure_seen = truth;
    if (state == RL_STATE_REDUCING) reducing_seen++;
    snapshots++;
    pthread_rwlock_unlock(&snapshot_lock);
}

static void push(rl_spsc_t *ring, rl_event_type_t type, const order_t *o, int64_t qty, int64_t price) {
    rl_event_t e = {0};
    e.type = (uint8_t)type;
    e.symbol = o->symbol;
    e.side = (uint8_t)o->side;
    e.qty = qty;
    e.price = price;
    while (rl_spsc_push(ring, &e) != RL_OK) sched_yield();
}

/* Cancel or fill one of this checker's open orders. */
static void settle_one(checker_t *c) {
    if (c->open_count == 0) return;
    int k = (int)(next_random(&c->seed) % (uint64_t)c->open_count);
    order_t o = c->open[k];
    c->open[k] = c->open[--c->open_count];
    pthread_rwlock_rdlock(&snapshot_lock);
    if (next_random(&c->seed) % 3 == 0) {
        int64_t mark = rl_position_table_mark(rl_engine_table(engine), o.symbol);
        push(c->ring, RL_EVENT_FILL, &o, o.qty, mark > 0 ? mark : o.price);
        c->fills++;
    } else {
        push(c->ring, RL_EVENT_CANCEL_ACK, &o, o.qty, o.price);
        c->cancels++;
    }
    pthread_rwlock_unlock(&snapshot_lock);
}

static void *checker_main(void *arg) {
    checker_t *c = arg;
    for (uint64_t i = 0; i < attempts_per_checker; i++) {
        if (c->open_count == OPEN_ORDERS || (c->open_count > 0 && next_random(&c->seed) % 4 == 0)) settle_one(c);
        order_t o;
        uint64_t r = next_random(&c->seed);
        o.symbol = (uint32_t)(r % symbols);
        o.side = (r >> 8) & 1 ? RL_SIDE_SELL : RL_SIDE_BUY;
        o.qty = (int64_t)(1 + (r >> 16) % 3) * S / 10; /* 0.1 to 0.3 */
        o.price = (int64_t)(90 + (r >> 24) % 21) * S;   /* $90 to $110 */
        pthread_rwlock_rdlock(&snapshot_lock);
        rl_result_t result = rl_engine_reserve(engine, o.symbol, o.side, o.qty, o.price);
        if (result == RL_OK) push(c->ring, RL_EVENT_ORDER_ACCEPTED, &o, o.qty, o.price);
        pthread_rwlock_unlock(&snapshot_lock);
        c->attempts++;
        /* Refused: free room by settling one of this checker's own orders,
         * and let the risk thread (which applies it) have the CPU. */
        if (result != RL_OK) {
            if (c->open_count > 0) settle_one(c);
            sched_yield();
        }
        switch (result) {
        case RL_OK:
            c->accepted++;
            c->open[c->open_count++] = o;
            detect();
            break;
        case RL_REJECT_SYMBOL_LIMIT: c->symbol_limit++; break;
        case RL_REJECT_TOTAL_LIMIT: c->total_limit++; break;
        case RL_REJECT_REDUCE_ONLY: c->reduce_only++; break;
        case RL_FROZEN: c->frozen++; break;
        default: fail("unexpected check result", result, 0); break;
        }
    }
    while (c->open_count > 0) settle_one(c);
    atomic_fetch_add_explicit(&checkers_done, 1, memory_order_release);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s THREADS SYMBOLS ATTEMPTS [SEED]\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[1]);
    symbols = (uint32_t)atoi(argv[2]);
    uint64_t attempts = strtoull(argv[3], NULL, 10);
    uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 42;
    detector_on = !(argc > 5 && strcmp(argv[5], "nodetect") == 0);
    bool detecting = detector_on;
    if (threads < 1 || threads > MAX_THREADS || symbols < 1 || symbols > 64) return 2;
    attempts_per_checker = attempts / (uint64_t)threads;
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&snapshot_lock, &attr);

    /* Limits the book reaches: $30 for the book, and $30 for one symbol or $20 each for several. */
    rl_engine_config_t config = {0, 30 * S, 30 * S, 0, 0, 0, 0};
    if (rl_engine_create(&config, &engine) != 0) return 2;
    char name[16];
    for (uint32_t s = 0; s < symbols; s++) {
        snprintf(name, sizeof name, "S%u", s);
        rl_engine_add_symbol(engine, name, symbols > 1 ? 20 * S : 0);
    }
    rl_spsc_t *marks;
    rl_spsc_create(1024, &marks);
    checker_t checkers[MAX_THREADS];
    memset(checkers, 0, sizeof checkers);
    for (int t = 0; t < threads; t++) {
        checkers[t].index = t;
        checkers[t].seed = seed * 7919 + (uint64_t)t * 104729 + 1;
        rl_spsc_create(1 << 16, &checkers[t].ring);
        pthread_create(&checkers[t].thread, NULL, checker_main, &checkers[t]);
    }

    /* The risk side, on this thread: apply every ring, move the marks. */
    uint64_t risk_seed = seed * 31 + 7, batches = 0, marks_moved = 0;
    int64_t mark[64];
    for (uint32_t s = 0; s < symbols; s++) mark[s] = 100 * S;
    for (;;) {
        bool done = atomic_load_explicit(&checkers_done, memory_order_acquire) == threads;
        uint64_t applied = 0;
        rl_step_result_t step;
        if (next_random(&risk_seed) % 64 == 0) {
            uint32_t s = (uint32_t)(next_random(&risk_seed) % symbols);
            mark[s] += (int64_t)(next_random(&risk_seed) % 11) * S - 5 * S; /* +-$5 */
            if (mark[s] < 80 * S) mark[s] = 80 * S;
            if (mark[s] > 120 * S) mark[s] = 120 * S;
            rl_event_t e = {0};
            e.type = RL_EVENT_MARK_PRICE;
            e.symbol = s;
            e.price = mark[s];
            rl_spsc_push(marks, &e);
            marks_moved++;
        }
        pthread_rwlock_rdlock(&snapshot_lock);
        applied += rl_engine_step(engine, marks, 64, &step);
        for (int t = 0; t < threads; t++) applied += rl_engine_step(engine, checkers[t].ring, 64, &step);
        pthread_rwlock_unlock(&snapshot_lock);
        if (applied) {
            batches++;
            detect();
        } else if (done) {
            break;
        }
    }
    for (int t = 0; t < threads; t++) pthread_join(checkers[t].thread, NULL);

    /* At rest: exact. */
    detector_on = true;
    detect();
    rl_position_table_t *table = rl_engine_table(engine);
    int64_t truth = 0;
    for (uint32_t s = 0; s < symbols; s++) truth += rl_position_table_exposure(table, s);
    if (rl_position_table_total(table) != truth) fail("at rest the total is not exact", rl_position_table_total(table), truth);

    uint64_t total_attempts = 0, accepted = 0, symbol_limit = 0, total_limit = 0, reduce_only = 0, frozen = 0,
             fills = 0, cancels = 0;
    for (int t = 0; t < threads; t++) {
        total_attempts += checkers[t].attempts;
        accepted += checkers[t].accepted;
        symbol_limit += checkers[t].symbol_limit;
        total_limit += checkers[t].total_limit;
        reduce_only += checkers[t].reduce_only;
        frozen += checkers[t].frozen;
        fills += checkers[t].fills;
        cancels += checkers[t].cancels;
    }
    int64_t max_total = rl_position_table_max_total(table);
    printf("boundary races: %d checkers + risk thread, %u symbol(s), %lu attempts: %lu accepted, %lu at the symbol limit, "
           "%lu at the book limit, %lu reduce-only, %lu frozen, %lu fills, %lu cancels, %lu marks; %lu snapshots, %lu in REDUCING; "
           "book peaked at $%.2f of $%.2f; %d violations\n",
           threads, symbols, total_attempts, accepted, symbol_limit, total_limit, reduce_only, frozen, fills, cancels,
           marks_moved, snapshots, reducing_seen, rl_fp_to_double(max_exposure_seen), rl_fp_to_double(max_total),
           atomic_load(&violations));
    /* The test must have reached the limits, or it proves nothing. */
    if (total_limit + symbol_limit == 0) fail("the limits were never reached", 0, 0);
    if (detecting && max_exposure_seen * 10 < max_total * 9) {
        fail("the book never came within 10% of its limit", max_exposure_seen, max_total);
    }
    rl_spsc_destroy(marks);
    for (int t = 0; t < threads; t++) rl_spsc_destroy(checkers[t].ring);
    rl_engine_destroy(engine);
    return atomic_load(&violations) ? 1 : 0;
}
