/*
 * Description: deterministic interleaving tests for the reservation protocol.
 *
 * Each test forces one interleaving of a checker and the risk side with the
 * RL_HOOK points compiled in by RL_TEST_HOOKS: one thread runs until it
 * reaches a named point and waits there while the other does its work, then
 * goes on. Each race is played against the legacy table (the design before
 * rl_position_table.h's exposure model, in legacy_position_table.h) and
 * against Redline's engine. The legacy table must break an invariant, which
 * shows the test can see the race; the engine must keep them all.
 *
 *   1. A re-mark after a cancel counts a reservation that sits between its
 *      symbol step and its book step; the reservation then finds its increase
 *      already counted and skips the book limit. (legacy: the book ends over
 *      maxTotalNotional)
 *   2. A re-mark computed from side words read before a reservation lowers the
 *      slot below the reservation, which had passed against the higher value.
 *      (legacy: the total ends below the true exposure)
 *   3. A mark moves the price of the side a reservation has been accepted on
 *      but not yet published: the publication must fail and the check decide
 *      again at the new price. (engine only)
 *   4. Per-order rules (rl_order_rules.h) are published between a check's
 *      decision under the old rules and its book CAS: the CAS must fail and
 *      the check decide again under the new ones. (engine only)
 *   5. A check runs while the risk side applies a new mark after a stale
 *      one, between its first and second side move: it must not pass the
 *      staleness rule or the collar against the old price. (engine only)
 *
 * Built and run by scripts/test.sh:
 *   cc -std=c11 -O1 -g -D_GNU_SOURCE -DRL_TEST_HOOKS -ICSources/RedlineCore/include -ITests/C \
 *      Tests/C/interleavings.c CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread
 * Exit: 0 pass, 1 fail.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include "RedlineCore.h"
#include "legacy_position_table.h"

#define S RL_FP_SCALE

void (*rl_test_hook)(const char *point);

/* ---- Pausing one thread at a named point --------------------------------- */

static const char *pause_point;
static pthread_t paused_thread;
static _Atomic(int) pause_hit;
static sem_t reached_or_done, resume;

static void hook(const char *point) {
    if (pause_point == NULL || !pthread_equal(pthread_self(), paused_thread) || strcmp(point, pause_point) != 0) return;
    /* relaxed: only this thread sets it; the semaphore orders it for main. */
    if (atomic_exchange_explicit(&pause_hit, 1, memory_order_relaxed)) return; /* pause once */
    sem_post(&reached_or_done);
    sem_wait(&resume);
}

typedef struct role {
    void (*body)(void *);
    void *context;
} role_t;

static void *role_main(void *arg) {
    role_t *role = arg;
    role->body(role->context);
    sem_post(&reached_or_done);
    return NULL;
}

/* Run `paused` until it reaches `point` (or ends), then run `other` to the
 * end on this thread, then let `paused` finish. Returns whether it paused. */
static int interleave(const char *point, role_t paused, void (*other)(void *), void *other_context) {
    sem_init(&reached_or_done, 0, 0);
    sem_init(&resume, 0, 0);
    atomic_store(&pause_hit, 0);
    pause_point = point;
    pthread_t thread;
    pthread_create(&thread, NULL, role_main, &paused);
    paused_thread = thread;
    sem_post(&resume); /* a start signal: the paused role waits for paused_thread to be set */
    sem_wait(&reached_or_done);
    int hit = atomic_load(&pause_hit);
    other(other_context);
    if (hit) {
        sem_post(&resume);
        sem_wait(&reached_or_done);
    }
    pthread_join(thread, NULL);
    pause_point = NULL;
    sem_destroy(&reached_or_done);
    sem_destroy(&resume);
    return hit;
}

static void wait_start(void) { sem_wait(&resume); }

/* ---- The legacy table ----------------------------------------------------- */

typedef struct legacy_world {
    legacy_table_t *table;
    rl_result_t result;
} legacy_world_t;

static int64_t legacy_true_sum(legacy_table_t *table) {
    int64_t sum = 0;
    for (uint32_t s = 0; s < legacy_table_count(table); s++) {
        legacy_slot_t *slot = &table->slots[s];
        int64_t lw = atomic_load(&slot->long_worst), sw = atomic_load(&slot->short_worst);
        int64_t worst = rl_fp_abs(lw) > rl_fp_abs(sw) ? rl_fp_abs(lw) : rl_fp_abs(sw), n = 0;
        rl_fp_notional_ceil(worst, atomic_load(&slot->mark), &n);
        sum += n;
    }
    return sum;
}

static void legacy_cancel(legacy_table_t *table, uint32_t symbol, rl_side_t side, int64_t qty) {
    legacy_table_release(table, symbol, side, qty);
    legacy_table_remark(table, symbol);
}

static void legacy_reserve_a_buy(void *arg) {
    legacy_world_t *w = arg;
    wait_start();
    w->result = legacy_table_check(w->table, NULL, 0, RL_SIDE_BUY, S / 10, 100 * S, true);
}

static void legacy_cancel_the_sell(void *arg) { legacy_cancel(((legacy_world_t *)arg)->table, 0, RL_SIDE_SELL, S / 20); }

static void legacy_cancel_the_buy(void *arg) {
    wait_start();
    legacy_cancel(((legacy_world_t *)arg)->table, 0, RL_SIDE_BUY, S / 10 * 3);
}

static void legacy_reserve_a_buy_now(void *arg) {
    legacy_world_t *w = arg;
    w->result = legacy_table_check(w->table, NULL, 0, RL_SIDE_BUY, S / 10 * 3, 100 * S, true);
}

/* ---- Redline's engine ----------------------------------------------------- */

typedef struct engine_world {
    rl_engine_t *engine;
    rl_spsc_t *ring;
    rl_result_t result;
    int64_t qty;
} engine_world_t;

static void engine_event(engine_world_t *w, rl_event_type_t type, uint32_t symbol, rl_side_t side, int64_t qty,
                         int64_t price) {
    rl_event_t e = {0};
    e.type = (uint8_t)type;
    e.symbol = symbol;
    e.side = (uint8_t)side;
    e.qty = qty;
    e.price = price;
    rl_spsc_push(w->ring, &e);
    rl_step_result_t step;
    rl_engine_step(w->engine, w->ring, 16, &step);
}

static rl_result_t engine_reserve(engine_world_t *w, uint32_t symbol, rl_side_t side, int64_t qty) {
    rl_result_t r = rl_engine_reserve(w->engine, symbol, side, qty, 100 * S);
    if (r == RL_OK) engine_event(w, RL_EVENT_ORDER_ACCEPTED, symbol, side, qty, 100 * S); /* as a router does */
    return r;
}

static int64_t engine_true_sum(rl_engine_t *engine) {
    int64_t sum = 0;
    for (uint32_t s = 0; s < rl_engine_symbol_count(engine); s++) sum += rl_position_table_exposure(engine->table, s);
    return sum;
}

static void engine_reserve_a_buy(void *arg) {
    engine_world_t *w = arg;
    wait_start();
    w->result = rl_engine_reserve(w->engine, 0, RL_SIDE_BUY, w->qty, 100 * S);
}

static void engine_reserve_a_buy_now(void *arg) {
    engine_world_t *w = arg;
    w->result = rl_engine_reserve(w->engine, 0, RL_SIDE_BUY, w->qty, 100 * S);
}

static void engine_cancel_the_sell(void *arg) { engine_event(arg, RL_EVENT_CANCEL_ACK, 0, RL_SIDE_SELL, S / 20, 100 * S); }

static void engine_cancel_the_buy(void *arg) {
    wait_start();
    engine_event(arg, RL_EVENT_CANCEL_ACK, 0, RL_SIDE_BUY, S / 10 * 3, 100 * S);
}

static void engine_mark_up(void *arg) { engine_event(arg, RL_EVENT_MARK_PRICE, 0, RL_SIDE_BUY, 0, 110 * S); }

static engine_world_t engine_world(int64_t symbol_limit, int64_t max_total) {
    engine_world_t w = {0};
    rl_engine_config_t config = {0, symbol_limit, max_total, 0, 0, 0, 0};
    rl_engine_create(&config, &w.engine);
    rl_engine_add_symbol(w.engine, "A", 0);
    rl_engine_add_symbol(w.engine, "B", 0);
    rl_spsc_create(64, &w.ring);
    return w;
}

static void engine_world_destroy(engine_world_t *w) {
    rl_spsc_destroy(w->ring);
    rl_engine_destroy(w->engine);
}

/* ---- The tests ------------------------------------------------------------ */

static int failures;

static void expect(int ok, const char *what) {
    printf("  %s %s\n", ok ? "[ok]  " : "[FAIL]", what);
    if (!ok) failures++;
}

/* Book $30, symbols $30. A: buy 0.2 and sell 0.05 working ($20 worst
 * case), B: buy 0.1 ($10). A checker buys 0.1 more of A (A would be $30, the
 * book $40) and pauses before its book step; the risk side cancels A's sell
 * and re-marks A. */
static void test_remark_after_cancel(void) {
    printf("1. re-mark after a cancel, while a reservation sits between its symbol and book steps\n");
    legacy_world_t legacy = {legacy_table_create(2, 30 * S, 30 * S), RL_OK};
    legacy_table_check(legacy.table, NULL, 0, RL_SIDE_BUY, S / 5, 100 * S, true);
    legacy_table_check(legacy.table, NULL, 0, RL_SIDE_SELL, S / 20, 100 * S, true);
    legacy_table_check(legacy.table, NULL, 1, RL_SIDE_BUY, S / 10, 100 * S, true);
    int paused = interleave("legacy:between_symbol_and_book", (role_t){legacy_reserve_a_buy, &legacy},
                            legacy_cancel_the_sell, &legacy);
    int64_t truth = legacy_true_sum(legacy.table);
    printf("  legacy: paused %d, reservation %s, true exposure $%.2f, book limit $30\n", paused,
           legacy.result == RL_OK ? "ACCEPTED" : "refused", rl_fp_to_double(truth));
    expect(paused && legacy.result == RL_OK && truth > 30 * S, "the legacy table lets the book go over its limit");
    free(legacy.table);

    engine_world_t w = engine_world(30 * S, 30 * S);
    w.qty = S / 10;
    expect(engine_reserve(&w, 0, RL_SIDE_BUY, S / 5) == RL_OK, "engine: setup buy A 0.2");
    expect(engine_reserve(&w, 0, RL_SIDE_SELL, S / 20) == RL_OK, "engine: setup sell A 0.05");
    expect(engine_reserve(&w, 1, RL_SIDE_BUY, S / 10) == RL_OK, "engine: setup buy B 0.1");
    paused = interleave("check:before_book", (role_t){engine_reserve_a_buy, &w}, engine_cancel_the_sell, &w);
    truth = engine_true_sum(w.engine);
    printf("  engine: paused %d, reservation %s, true exposure $%.2f, total $%.2f\n", paused,
           w.result == RL_OK ? "accepted" : "refused", rl_fp_to_double(truth),
           rl_fp_to_double(rl_position_table_total(w.engine->table)));
    expect(truth <= 30 * S, "engine: the book stays within its limit");
    expect(rl_position_table_total(w.engine->table) >= truth, "engine: the total is not below the true exposure");
    engine_world_destroy(&w);

    /* The same with an order that fits ($5 left), so that it reaches its book step. */
    w = engine_world(30 * S, 30 * S);
    w.qty = S / 20;
    engine_reserve(&w, 0, RL_SIDE_BUY, S / 5);
    engine_reserve(&w, 0, RL_SIDE_SELL, S / 20);
    engine_reserve(&w, 1, RL_SIDE_BUY, S / 20);
    paused = interleave("check:before_book", (role_t){engine_reserve_a_buy, &w}, engine_cancel_the_sell, &w);
    truth = engine_true_sum(w.engine);
    printf("  engine, an order that fits: paused %d, reservation %s, true exposure $%.2f, total $%.2f\n", paused,
           w.result == RL_OK ? "accepted" : "refused", rl_fp_to_double(truth),
           rl_fp_to_double(rl_position_table_total(w.engine->table)));
    expect(paused && w.result == RL_OK, "engine: the order that fits is accepted after deciding again");
    expect(truth <= 30 * S && rl_position_table_total(w.engine->table) >= truth,
           "engine: the book stays within its limit and the total is not below it");
    engine_world_destroy(&w);
}

/* Book $30. A: buy 0.3 working ($30). The risk side cancels it and pauses
 * after reading the side, before lowering it; a checker buys 0.3 of A. */
static void test_remark_from_stale_sides(void) {
    printf("2. a re-mark computed from side words read before a reservation\n");
    legacy_world_t legacy = {legacy_table_create(2, 30 * S, 30 * S), RL_OK};
    legacy_table_check(legacy.table, NULL, 0, RL_SIDE_BUY, S / 10 * 3, 100 * S, true);
    int paused = interleave("legacy:remark_after_read", (role_t){legacy_cancel_the_buy, &legacy},
                            legacy_reserve_a_buy_now, &legacy);
    int64_t truth = legacy_true_sum(legacy.table), total = legacy_table_total(legacy.table);
    printf("  legacy: paused %d, reservation %s, true exposure $%.2f, total $%.2f\n", paused,
           legacy.result == RL_OK ? "ACCEPTED" : "refused", rl_fp_to_double(truth), rl_fp_to_double(total));
    expect(paused && total < truth, "the legacy table's total falls below the true exposure");
    free(legacy.table);

    engine_world_t w = engine_world(30 * S, 30 * S);
    w.qty = S / 10 * 3;
    expect(engine_reserve(&w, 0, RL_SIDE_BUY, S / 10 * 3) == RL_OK, "engine: setup buy A 0.3");
    paused = interleave("risk:before_side", (role_t){engine_cancel_the_buy, &w}, engine_reserve_a_buy_now, &w);
    truth = engine_true_sum(w.engine);
    total = rl_position_table_total(w.engine->table);
    printf("  engine: paused %d, reservation %s, true exposure $%.2f, total $%.2f\n", paused,
           w.result == RL_OK ? "accepted" : "refused", rl_fp_to_double(truth), rl_fp_to_double(total));
    expect(total >= truth, "engine: the total is not below the true exposure");
    expect(truth <= 30 * S, "engine: the book stays within its limit");
    /* Once the cancel is in, the same order fits. */
    expect(rl_engine_reserve(w.engine, 0, RL_SIDE_BUY, S / 10 * 3, 100 * S) == RL_OK, "engine: after the cancel it fits");
    engine_world_destroy(&w);
}

/* Symbol limit $33, book $100. A checker's buy of 0.3 of A at $100 is
 * accepted (its book CAS) and pauses before publishing; the mark moves to
 * $110. 0.3 at $110 = $33 still fits: the publication fails on the new
 * price, the check runs again and succeeds, charged at $110. */
static void test_mark_between_acceptance_and_publication(void) {
    printf("3. a mark between a reservation's acceptance and its publication\n");
    engine_world_t w = engine_world(33 * S, 100 * S);
    w.qty = S / 10 * 3;
    engine_event(&w, RL_EVENT_MARK_PRICE, 0, RL_SIDE_BUY, 0, 100 * S);
    int paused = interleave("check:before_side", (role_t){engine_reserve_a_buy, &w}, engine_mark_up, &w);
    int64_t truth = engine_true_sum(w.engine), total = rl_position_table_total(w.engine->table);
    printf("  engine: paused %d, reservation %s, true exposure $%.2f, total $%.2f\n", paused,
           w.result == RL_OK ? "accepted" : "refused", rl_fp_to_double(truth), rl_fp_to_double(total));
    expect(paused && w.result == RL_OK, "engine: accepted after deciding again at the new price");
    expect(total >= truth && truth == 33 * S, "engine: counted at the new price");
    engine_world_destroy(&w);
}

static void engine_restrict_symbol_a(void *arg) {
    engine_world_t *w = arg;
    rl_order_rules_t rules = {.flags = RL_RULES_RESTRICTED};
    rl_engine_set_order_rules(w->engine, 0, &rules);
}

static void engine_cap_order_size_a(void *arg) {
    engine_world_t *w = arg;
    rl_order_rules_t rules = {.max_order_qty = S / 10};
    rl_engine_set_order_rules(w->engine, 0, &rules);
}

/* A buy of 0.3 of A is decided under open rules and pauses before its book
 * CAS (its acceptance); the risk side then publishes A restricted, or a
 * maximum order size of 0.1. The decision was taken under rules no longer in
 * force: the acceptance must fail and the check must block under the new
 * rules, reserving nothing. */
static void test_rules_published_between_decision_and_acceptance(void) {
    printf("4. order rules published between a check's decision and its acceptance\n");
    void (*publishes[2])(void *) = {engine_restrict_symbol_a, engine_cap_order_size_a};
    rl_result_t expected[2] = {RL_REJECT_RESTRICTED, RL_REJECT_ORDER_QTY};
    const char *names[2] = {"a restriction", "a maximum order size"};
    for (int i = 0; i < 2; i++) {
        engine_world_t w = engine_world(100 * S, 100 * S);
        w.qty = S / 10 * 3;
        int paused = interleave("check:before_book", (role_t){engine_reserve_a_buy, &w}, publishes[i], &w);
        rl_position_view_t view;
        rl_position_table_read(w.engine->table, 0, &view);
        printf("  engine, %s: paused %d, result %d, working %.2f, total $%.2f\n", names[i], paused, (int)w.result,
               rl_fp_to_double(view.working_buy), rl_fp_to_double(rl_position_table_total(w.engine->table)));
        expect(paused && w.result == expected[i], "engine: blocked under the rules in force at its acceptance");
        expect(view.working_buy == 0 && rl_position_table_total(w.engine->table) == 0, "engine: nothing reserved");
        engine_world_destroy(&w);
    }
}

static void engine_mark_gaps_down(void *arg) {
    engine_world_t *w = arg;
    wait_start();
    engine_event(w, RL_EVENT_MARK_PRICE, 0, RL_SIDE_BUY, 0, 50 * S);
}

static void engine_buy_at_the_old_price(void *arg) {
    engine_world_t *w = arg;
    w->result = rl_engine_reserve(w->engine, 0, RL_SIDE_BUY, S, 1005 * S / 10);
}

/* Collar 1%, staleness 1 us of the manual clock. The mark of 100 is long
 * stale when the feed gaps to 50; the risk side pauses between the new mark's
 * first and second side move, and a buy at 100.5 (1% over the old mark, 101%
 * over the new) is checked there. The mark is stamped fresh only once both
 * sides carry it, and the collar's bounds follow the new mark: blocked. */
static void test_check_during_a_mark(void) {
    printf("5. a check while the risk side applies a new mark over a stale one\n");
    engine_world_t w = {0};
    rl_engine_config_t config = {0, 100000 * S, 1000000 * S, 0, 0, 1, 0};
    rl_engine_create(&config, &w.engine);
    rl_engine_add_symbol(w.engine, "A", 0);
    rl_spsc_create(64, &w.ring);
    rl_engine_set_clock(w.engine, 1000);
    rl_order_rules_t rules = {.collar_bps = 100 * S, .stale_after_ns = 1000};
    rl_engine_set_order_rules(w.engine, 0, &rules);
    engine_event(&w, RL_EVENT_MARK_PRICE, 0, RL_SIDE_BUY, 0, 100 * S);
    rl_engine_set_clock(w.engine, 1000000);
    int paused = interleave("risk:before_side", (role_t){engine_mark_gaps_down, &w}, engine_buy_at_the_old_price, &w);
    rl_position_view_t view;
    rl_position_table_read(w.engine->table, 0, &view);
    printf("  engine: paused %d, result %d, working %.2f\n", paused, (int)w.result, rl_fp_to_double(view.working_buy));
    expect(paused && (w.result == RL_REJECT_STALE_PRICE || w.result == RL_REJECT_PRICE_COLLAR),
           "engine: blocked, never passed against the stale price");
    expect(view.working_buy == 0, "engine: nothing reserved");
    engine_world_destroy(&w);
}

static rl_result_t cap_race_b;

static void engine_cap_then_sell(void *arg) {
    engine_world_t *w = arg;
    rl_order_rules_t rules = {.max_working_orders = 1};
    rl_engine_set_order_rules(w->engine, 0, &rules);
    cap_race_b = rl_engine_reserve(w->engine, 0, RL_SIDE_SELL, S / 10, 100 * S);
}

/* A buy is accepted (its book CAS) with no cap in force and pauses before its
 * side CAS; a cap of one working order is published, and a sell that raises
 * the other side is checked under it. The buy already holds its place among
 * the working orders (it counts before its book CAS), so the sell is blocked:
 * never two working under a cap of one. Without the early count (counting
 * only after the side CAS) both are accepted. */
static void test_cap_published_while_an_order_is_accepted(void) {
    printf("6. a working-order cap published while an accepted order is on its way\n");
    engine_world_t w = engine_world(100 * S, 1000 * S);
    w.qty = S / 10;
    int paused = interleave("check:before_side", (role_t){engine_reserve_a_buy, &w}, engine_cap_then_sell, &w);
    uint64_t working = rl_position_table_working_orders(w.engine->table, 0);
    printf("  engine: paused %d, buy %d, sell %d, working %llu\n", paused, (int)w.result, (int)cap_race_b,
           (unsigned long long)working);
    expect(paused && w.result == RL_OK && cap_race_b == RL_REJECT_OPEN_ORDERS, "engine: the sell is blocked by the cap");
    expect(working == 1, "engine: one working order under a cap of one");
    engine_world_destroy(&w);
}

static rl_engine_t *underflow_engine;
static int underflow_armed;

static void underflow_hook(const char *point) {
    if (!underflow_armed || strcmp(point, "check:before_book") != 0) return;
    underflow_armed = 0;
    /* A done without its order (bad input) takes the check's reserved place... */
    rl_engine_order_done(underflow_engine, NULL, 0);
    /* ...and the book moves (a breach elsewhere): the CAS fails, the retry is refused. */
    rl_position_table_advance(underflow_engine->table, RL_STATE_REDUCING);
}

/* A second review: a bogus done racing a check's reservation, then the
 * check's give-back, wrapped the count to 2^64 - 1 for good (and a cap then
 * blocked every order). The count never goes below zero. */
static void test_a_done_without_its_order_racing_a_check(void) {
    printf("7. a done without its order between a check's reservation and its give-back\n");
    engine_world_t w = engine_world(100 * S, 1000 * S);
    underflow_engine = w.engine;
    void (*saved)(const char *) = rl_test_hook;
    rl_test_hook = underflow_hook;
    underflow_armed = 1;
    rl_result_t refused = rl_engine_reserve(w.engine, 0, RL_SIDE_BUY, S / 10, 100 * S);
    rl_test_hook = saved;
    uint64_t working = rl_position_table_working_orders(w.engine->table, 0);
    rl_position_table_advance(w.engine->table, RL_STATE_ACTIVE);
    rl_order_rules_t rules = {.max_working_orders = 5};
    rl_engine_set_order_rules(w.engine, 0, &rules);
    rl_result_t next = rl_engine_reserve(w.engine, 0, RL_SIDE_BUY, S / 10, 100 * S);
    printf("  engine: retry %d, working %llu, then under a cap of 5: %d\n", (int)refused,
           (unsigned long long)working, (int)next);
    expect(refused == RL_REJECT_REDUCE_ONLY && working == 0, "engine: the count stays at zero");
    expect(next == RL_OK, "engine: the next order fits the cap");
    engine_world_destroy(&w);
}

static void engine_mark_a_up(void *arg) {
    wait_start();
    engine_event(arg, RL_EVENT_MARK_PRICE, 0, RL_SIDE_BUY, 0, 110 * S);
}

static void engine_cover_the_short(void *arg) {
    engine_world_t *w = arg;
    w->result = rl_engine_reserve(w->engine, 0, RL_SIDE_BUY, S / 10 * 3, 100 * S);
}

/* Found by CI once (boundary_races, I1): the book at $30.30 of $30 in
 * ACTIVE. A short of 0.2 A and a working sell of 0.03 (the sell side $23),
 * $5 working on B: the book is at $28 of $30. A rises to $110: the sell
 * side's raise to $25.30 takes the book to $30.30, a breach. The risk side
 * pauses inside that raise's judgement, between its two reads; there a buy of
 * 0.3 A covers the short and goes 0.1 long at most: it does not raise its
 * side's extent, so it is checked for nothing but a halt, and it charges
 * the total ($11 at the buy side's new price) before it publishes its side.
 * When the risk side read the total first and the other side second, it
 * subtracted that $11 of overlap from a total without it, judged the book
 * at $19.30, and stayed ACTIVE at $30.30. The other side read first: the
 * total holds every overlap the side shows, REDUCING. */
static void test_a_cover_inside_a_raises_judgement(void) {
    printf("8. an order that does not raise its side, between the two reads of the risk side's judgement of a raise\n");
    engine_world_t w = engine_world(30 * S, 30 * S);
    engine_reserve(&w, 1, RL_SIDE_BUY, S / 20);                            /* B: $5 working */
    engine_reserve(&w, 0, RL_SIDE_SELL, S / 5);                            /* A: short 0.2 */
    engine_event(&w, RL_EVENT_FILL, 0, RL_SIDE_SELL, S / 5, 100 * S);
    engine_reserve(&w, 0, RL_SIDE_SELL, S / 100 * 3);                      /* and 0.03 working */
    int before = engine_true_sum(w.engine) == 28 * S &&
                 rl_freeze_word_state(rl_freeze_load(rl_engine_freeze(w.engine))) == RL_STATE_ACTIVE;
    int paused = interleave("risk:judge", (role_t){engine_mark_a_up, &w}, engine_cover_the_short, &w);
    int64_t truth = engine_true_sum(w.engine), max_total = rl_position_table_max_total(w.engine->table);
    rl_trading_state_t state = rl_freeze_word_state(rl_freeze_load(rl_engine_freeze(w.engine)));
    printf("  engine: paused %d, the cover got %d, the book at $%.2f of $%.2f in %s\n", paused, (int)w.result,
           rl_fp_to_double(truth), rl_fp_to_double(max_total),
           state == RL_STATE_ACTIVE ? "ACTIVE" : state == RL_STATE_REDUCING ? "REDUCING" : "HALTED");
    expect(before && paused && w.result == RL_OK, "engine: the book at $28 ACTIVE, paused in the judgement, the cover accepted");
    expect(truth > max_total && state == RL_STATE_REDUCING, "engine: the book over its limit is REDUCING, never ACTIVE");
    engine_world_destroy(&w);
}

int main(void) {
    rl_test_hook = hook;
    test_remark_after_cancel();
    test_remark_from_stale_sides();
    test_mark_between_acceptance_and_publication();
    test_rules_published_between_decision_and_acceptance();
    test_check_during_a_mark();
    test_cap_published_while_an_order_is_accepted();
    test_a_done_without_its_order_racing_a_check();
    test_a_cover_inside_a_raises_judgement();
    printf(failures ? "interleavings: %d FAILED\n" : "interleavings: all passed\n", failures);
    return failures ? 1 : 0;
}
