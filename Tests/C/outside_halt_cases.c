/*
 * Description: the cases an adversarial review found in the halt from any
 * thread (rl_engine_halt_now) and the controller that takes its halts in,
 * each forced with the test hooks. All failed before their fixes.
 *   1. A collapse reported while trading is halted for a transient reason
 *      whose cooldown has run: the breaker must not lift it.
 *   2. The kill switch pulled while the breaker publishes a lift: raising
 *      orders are refused after it returns, and so are reducing ones (the
 *      freeze word shows HALTED from then on, never the lift).
 *   3. An edge report that says RL_EDGE_HALTED without a halt that was taken
 *      in (a report filled from a template, a bogus word) decides as any
 *      report does.
 *   4. An edge collapse and the kill switch racing: each record names the
 *      halter whose word showed, never a mix of the two.
 *   5. A reason halt_now does not know halts as manual.
 *   6. The kill switch (or an edge collapse) while an operator's unfreeze of
 *      a transient halt is being published: the halt that lands during the
 *      unfreeze stands (the unfreeze is not retried over it).
 *   7. The winning halter descheduled between its CAS and its cause, while
 *      a loser's request wrote the last cause: the record never names the
 *      loser (the word's reason alone, counted as unattributed).
 *   8. The kill switch pulled right after a transient halt shows, before the
 *      breaker escalates it: the escalation is never published, and is not
 *      counted (rl_engine_breaker_escalations counted it).
 *   9. The kill switch pulled while a snapshot's trading state is restored
 *      (no risk side runs, but a halter may): the restore's store overwrote
 *      the halt's word with ACTIVE. The halt's word stands now.
 *  11-13. helper-33's review of case 10's halt: an unfreeze that takes an
 *      unrecordable fill's request in (left over the kill switch it lifts)
 *      stops (-ECANCELED) instead of lifting the book-unknown halt it never
 *      saw, also raced on threads; a winner descheduled before its detail;
 *      the C API's reasons and quantities.
 *  14. helper-40: an operator's unfreeze of a persistent halt (a kill switch),
 *      bounded by the pulls its requester had seen, and a kill switch
 *      pulled after the risk side's look at that count, before the lift's
 *      CAS. Over a persistent halt a pull stores nothing, so the lift went
 *      through: the pull had returned, the word was ACTIVE and a raising
 *      order was accepted until the next step. Now the unfreeze marks the
 *      word first (RL_FREEZE_REASON_LIFTING), the pull stores its halt over
 *      the mark, and the unfreeze is refused. At a fixed point (the hook)
 *      and raced on two threads (a pull at a random moment of the unfreeze).
 *  15. halt.pml (BOUNDED_UNFREEZE) found: a halter that read an unfreeze's
 *      lifting mark, descheduled while that unfreeze was refused and its
 *      request taken in over the persistent halt (cleared, no new word),
 *      CASes from the mark once a second unfreeze marks the same epoch:
 *      the same word (ABA). Its halt landed with its request gone, and the
 *      lift's book step let a raising order through while the word showed
 *      HALTED. Now a request at a marked epoch publishes a new word.
 *  16. halt.pml found: a pull stored over the mark of an unfreeze refused
 *      for its count; the unmark took the halted word back as the last
 *      published, and the next step adopted the pull's word unrecorded.
 *  17. helper-42: a pull stored over a refused unfreeze's mark, its thread
 *      descheduled after its CAS (before its halt_requests add): the next
 *      tick said the pull was recorded (rl_engine_freeze_requests_recorded)
 *      with no record of its word in the ring. Now the tick looks at the
 *      word when the pull count moved.
 *  18. helper-42: an edge collapse over the mark of a book-unknown halt
 *      (unrecordable_fill): the word and its record said edge_collapse, and
 *      a restart restored that. Now the book-unknown halt is shown again.
 *  19. The risk side looks at the halt count only after a knock, so that its
 *      ticks leave the halter's lines alone: a halt is still taken in at
 *      the next step when the runtime took the knock first, or a lane's
 *      knock was looked at just before; a knock lost outright is made good
 *      within RL_ENGINE_HALT_LOOK_TICKS ticks. (Not a review's finding: a
 *      check on the change itself, failing with either half removed.)
 *  10. A fill no position can take (rl_engine_halt_unrecordable_fill): it
 *      halts on the calling thread, before any risk step, and the record
 *      carries its quantity and price; made while the kill switch is being
 *      published, its word is adopted with its detail; and its request
 *      left in the book over another persistent halt (its CAS lost to that
 *      halt) takes that halt over at the next step.
 *
 * Built and run by scripts/test.sh:
 *   outside_halt_cases [NAME [rounds]]
 * Each case prints PASS or FAIL with what it saw. Exit: 0 pass, 1 fail.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "RedlineCore.h"

#define S RL_FP_SCALE

void (*rl_test_hook)(const char *point);

static rl_engine_t *make_engine(void) {
    rl_engine_config_t c = {0};
    c.symbol_capacity = 4;
    c.default_symbol_limit = 1000000 * S;
    c.max_total = 1000000 * S;
    c.edge_freeze_threshold_bps = 100 * S;
    c.manual_clock = 1;
    rl_engine_t *e = NULL;
    if (rl_engine_create(&c, &e) != 0 || rl_engine_add_symbol(e, "BTC", 0) != 0) {
        fprintf(stderr, "setup failed\n");
        exit(2);
    }
    return e;
}

static uint64_t word_of(rl_engine_t *e) { return rl_freeze_load(rl_engine_freeze(e)); }
static const char *state_name(uint64_t w) {
    switch (rl_freeze_word_state(w)) {
    case RL_STATE_ACTIVE: return "ACTIVE";
    case RL_STATE_HALTED: return "HALTED";
    default: return "REDUCING";
    }
}

/* Drain the controller's record ring; return how many records, the last one in *last. */
static int drain_records(rl_engine_t *e, rl_event_t *last, int max, rl_event_t *all) {
    rl_spsc_t *states = rl_engine_state_ring(e);
    int n = 0;
    rl_event_t ev;
    while (rl_spsc_pop(states, &ev) == RL_OK) {
        if (all != NULL && n < max) all[n] = ev;
        if (last) *last = ev;
        n++;
    }
    return n;
}

/* ---- hooks -------------------------------------------------------------- */

static rl_engine_t *hook_engine;
static int hook_pull_kill_switch;       /* pull the kill switch at the next show:begin of a lift */
static int hook_reserve_after_lift;     /* try a raising order at the show:end of a lift */
static rl_result_t hook_reserve_result = (rl_result_t)-1;
static uint64_t hook_word_at_reserve;
static int hook_pulled;                  /* the kill switch was pulled: watch the end of that publish */
static uint64_t hook_word_after_pull;
static rl_result_t hook_raise_after_pull = (rl_result_t)-1, hook_reduce_after_pull = (rl_result_t)-1;

static int hook_pull_during_unfreeze;  /* 1: the kill switch, 2: an edge collapse, at the next show:begin */
static int hook_pull_after_transient;  /* the kill switch at the next show:end that shows a transient halt */
static int hook_pull_during_restore;   /* the kill switch at restore:store */
static int hook_loser_after_cas;        /* at the winner's halt:after_cas: a loser's cause, then the risk side's step */
static int hook_unknown_fill_at_show;   /* an unrecordable fill's halt at the next show:begin */
static int hook_unknown_winner_descheduled; /* review 3: at an unrecordable winner's halt:after_cas, the risk side publishes */
static rl_event_t hook_record_at_take_in;

static int hook_stale_halter;           /* case 15: 1 read the mark at unfreeze:marked; 2 CAS at show:begin */
static uint64_t hook_stale_word;        /* the word the stale halter read */
static int hook_stale_landed;           /* its halt's word landed */
static rl_result_t hook_raise_in_lift = (rl_result_t)-1; /* a raising order at the lift's book:advanced */
static uint64_t hook_word_in_lift;
static int hook_pull_at_mark;           /* case 16: the kill switch at the next unfreeze:marked */
static int hook_paused_pull_at_mark;    /* case 17: a pull, descheduled after its CAS, at unfreeze:marked */
static int hook_edge_at_mark;           /* case 18: an edge collapse at unfreeze:marked */
static uint64_t hook_made_at_mark;

/* rl_engine_request_freeze_counted and rl_engine_halt_now's loop, its
 * thread descheduled right after its CAS: its detail and its halt_requests
 * add wait for paused_pull_resumes. */
static uint64_t pull_paused_after_its_cas(rl_engine_t *e) {
    atomic_fetch_add_explicit(&e->freeze_requests, 1, memory_order_seq_cst);
    uint64_t w = atomic_load_explicit(&e->freeze.word, memory_order_seq_cst);
    for (;;) {
        if (rl_freeze_word_state(w) == RL_STATE_HALTED &&
            rl_freeze_reason_class(rl_freeze_word_reason(w)) != RL_REASON_CLASS_TRANSIENT) {
            return 0;
        }
        atomic_store(&e->halt_cause, rl_halt_cause_pack(RL_FREEZE_REASON_MANUAL, 0));
        rl_position_table_request_halt(e->table);
        uint64_t next = rl_freeze_pack(RL_STATE_HALTED, RL_FREEZE_REASON_MANUAL, rl_freeze_word_epoch(w) + 1);
        if (atomic_compare_exchange_strong(&e->freeze.word, &w, next)) return next;
    }
}

static void paused_pull_resumes(rl_engine_t *e, uint64_t made) {
    atomic_store(&e->halt_detail_value, 0);
    atomic_store(&e->halt_detail_qty, 0);
    atomic_store(&e->halt_detail_tag, rl_halt_tag_pack(made, RL_FREEZE_REASON_MANUAL, 0));
    atomic_fetch_add(&e->halt_requests, 1);
}

/* rl_engine_halt_now's loop, from a word read long ago, its request made
 * then (a halter descheduled between its request and its CAS): its CAS, then
 * from each word it meets a request and a CAS, until HALTED for a
 * persistent reason. */
static int stale_halter_finishes(rl_engine_t *e, uint64_t word) {
    for (int first = 1;; first = 0) {
        if (rl_freeze_word_state(word) == RL_STATE_HALTED &&
            rl_freeze_reason_class(rl_freeze_word_reason(word)) != RL_REASON_CLASS_TRANSIENT) {
            return 0;
        }
        if (!first) rl_position_table_request_halt(e->table);
        uint64_t next = rl_freeze_pack(RL_STATE_HALTED, RL_FREEZE_REASON_EDGE_COLLAPSE, rl_freeze_word_epoch(word) + 1);
        if (atomic_compare_exchange_strong(&e->freeze.word, &word, next)) {
            atomic_fetch_add(&e->halt_requests, 1);
            return 1;
        }
    }
}

static void hook(const char *point) {
    if (hook_engine == NULL) return;
    if (strcmp(point, "unfreeze:marked") == 0 && hook_stale_halter == 1) {
        hook_stale_halter = 2;
        hook_stale_word = word_of(hook_engine); /* the mark, read; then descheduled */
        return;
    }
    if (strcmp(point, "show:begin") == 0 && hook_stale_halter == 3 &&
        rl_freeze_word_reason(word_of(hook_engine)) == RL_FREEZE_REASON_LIFTING) { /* the lift's publish, over the mark */
        hook_stale_halter = 4;
        hook_stale_landed = stale_halter_finishes(hook_engine, hook_stale_word);
        return;
    }
    if (strcmp(point, "book:advanced") == 0 && hook_stale_halter == 4) {
        hook_stale_halter = 0;
        hook_word_in_lift = word_of(hook_engine);
        hook_raise_in_lift = rl_engine_reserve(hook_engine, 0, RL_SIDE_BUY, S / 100, 100 * S);
        return;
    }
    if (strcmp(point, "unfreeze:marked") == 0 && hook_paused_pull_at_mark) {
        hook_paused_pull_at_mark = 0;
        hook_made_at_mark = pull_paused_after_its_cas(hook_engine);
        return;
    }
    if (strcmp(point, "unfreeze:marked") == 0 && hook_edge_at_mark) {
        hook_edge_at_mark = 0;
        hook_made_at_mark = rl_engine_halt_now(hook_engine, RL_FREEZE_REASON_EDGE_COLLAPSE, 7, 5 * S);
        return;
    }
    if (strcmp(point, "unfreeze:marked") == 0 && hook_pull_at_mark) {
        hook_pull_at_mark = 0;
        rl_engine_request_freeze(hook_engine);
        return;
    }
    if (strcmp(point, "restore:store") == 0 && hook_pull_during_restore) {
        hook_pull_during_restore = 0;
        rl_engine_request_freeze(hook_engine);
        return;
    }
    if (strcmp(point, "show:end") == 0 && hook_pull_after_transient) {
        uint64_t shown = word_of(hook_engine);
        if (rl_freeze_word_state(shown) == RL_STATE_HALTED &&
            rl_freeze_reason_class(rl_freeze_word_reason(shown)) == RL_REASON_CLASS_TRANSIENT) {
            hook_pull_after_transient = 0;
            rl_engine_request_freeze(hook_engine);
        }
        return;
    }
    if (strcmp(point, "show:begin") == 0 && hook_unknown_fill_at_show) {
        hook_unknown_fill_at_show = 0;
        (void)rl_engine_halt_unrecordable_fill(hook_engine, 3, 7 * S / 1000, 250 * S);
        return;
    }
    if (strcmp(point, "show:begin") == 0 && hook_pull_during_unfreeze) {
        int edge = hook_pull_during_unfreeze == 2;
        hook_pull_during_unfreeze = 0;
        if (edge) {
            (void)rl_engine_halt_now(hook_engine, RL_FREEZE_REASON_EDGE_COLLAPSE, 7, 5 * S);
        } else {
            rl_engine_request_freeze(hook_engine);
        }
        return;
    }
    if (strcmp(point, "halt:after_cas") == 0 && hook_unknown_winner_descheduled) {
        hook_unknown_winner_descheduled = 0;
        /* The router that won is descheduled before its detail; the controller
         * publishes meanwhile (a rate limit trips) and takes its word in. */
        rl_engine_apply_control(hook_engine, RL_CONTROL_RATE_EXCEEDED, RL_SYMBOL_NONE, 10, 0);
        rl_event_t all[4];
        int n = drain_records(hook_engine, NULL, 4, all);
        if (n > 0) hook_record_at_take_in = all[0];
        return;
    }
    if (strcmp(point, "halt:after_cas") == 0 && hook_loser_after_cas) {
        hook_loser_after_cas = 0;
        /* The winner is descheduled here. A loser (strategy 9) read the word
         * before the winner's CAS, wrote its cause, and lost its own CAS. */
        atomic_store(&hook_engine->halt_cause, (uint64_t)RL_FREEZE_REASON_EDGE_COLLAPSE | (9ull << 8));
        atomic_store(&hook_engine->halt_value, 99 * S);
        /* The controller publishes meanwhile (its own transient halt, as a
         * rate limit trips): its CAS meets the word and takes the halt in. */
        rl_engine_apply_control(hook_engine, RL_CONTROL_RATE_EXCEEDED, RL_SYMBOL_NONE, 10, 0);
        rl_event_t all[4];
        int n = drain_records(hook_engine, NULL, 4, all);
        if (n > 0) hook_record_at_take_in = all[0];
        return;
    }
    uint64_t w = word_of(hook_engine);
    if (strcmp(point, "show:begin") == 0 && hook_pull_kill_switch && rl_freeze_word_state(w) == RL_STATE_HALTED) {
        /* Another thread (or a signal handler on this one) pulls the kill switch
         * now: the risk side is about to publish a lift of a transient halt. */
        hook_pull_kill_switch = 0;
        rl_engine_request_freeze(hook_engine);
        hook_pulled = 1;
    }
    if (strcmp(point, "show:end") == 0 && hook_pulled) {
        /* The kill switch has returned: whatever that publish did, a router's
         * raising order and a strategy's reducing one (a sell of the long
         * position) must both be refused now. */
        hook_pulled = 0;
        hook_word_after_pull = w;
        hook_raise_after_pull = rl_engine_reserve(hook_engine, 0, RL_SIDE_BUY, S / 100, 100 * S);
        hook_reduce_after_pull = rl_engine_reserve(hook_engine, 0, RL_SIDE_SELL, S / 100, 100 * S);
    }
    if (strcmp(point, "show:end") == 0 && hook_reserve_after_lift && rl_freeze_word_state(w) == RL_STATE_ACTIVE) {
        /* A router thread places a raising order the moment the word says ACTIVE. */
        hook_reserve_after_lift = 0;
        hook_word_at_reserve = w;
        hook_reserve_result = rl_engine_reserve(hook_engine, 0, RL_SIDE_BUY, S / 100, 100 * S);
    }
}

/* A transient halt (rate_exceeded) with the breaker's cooldown run out: the
 * next tick lifts it. */
static void transient_halt_due_for_lift(rl_engine_t *e) {
    rl_breaker_config_t breaker = {1000000ull /* 1 ms */, 10000000ull, 1000000000ull, 5, 0};
    if (rl_engine_set_breaker(e, &breaker) != 0) exit(2);
    rl_engine_set_clock(e, 1000000000ull);
    rl_engine_apply_control(e, RL_CONTROL_RATE_EXCEEDED, RL_SYMBOL_NONE, 10, 0);
    if (rl_freeze_word_state(word_of(e)) != RL_STATE_HALTED ||
        rl_freeze_word_reason(word_of(e)) != RL_FREEZE_REASON_RATE_EXCEEDED) {
        fprintf(stderr, "setup: not halted for rate_exceeded\n");
        exit(2);
    }
    rl_engine_set_clock(e, 1000000000ull + 5000000ull); /* the cooldown has run */
    drain_records(e, NULL, 0, NULL);
}

/* ---- case 1 ---------------------------------------------------------------
 * OrderRouter.reportEdge's documented promise: "Below edgeFreezeThresholdBps
 * trading halts before this returns ... so no raising order is accepted
 * after". While the engine is HALTED for a transient reason, halt_now does
 * nothing (the word says HALTED) and returns false; the report goes to the
 * lane without RL_EDGE_HALTED. The risk side's next step ticks BEFORE it
 * serves the lane: the breaker lifts the transient halt, the word goes
 * ACTIVE, a router's raising order is accepted, and only then does the
 * report halt (edge_collapse). The collapse was reported (and reportEdge
 * returned) before the lift. */
static int case_collapse_reported_while_transient_then_breaker_lifts(void) {
    rl_engine_t *e = make_engine();
    rl_spsc_t *ring;
    if (rl_spsc_create(64, &ring) != 0) exit(2);
    transient_halt_due_for_lift(e);

    /* reportEdge(bps: 50), as OrderRouter does it (threshold 100). */
    int64_t value = 50 * S;
    rl_event_t ev = {0};
    ev.type = RL_EVENT_EDGE_UPDATE;
    ev.value = value;
    ev.strategy = 7;
    uint64_t made = value < rl_engine_edge_threshold(e) ? rl_engine_halt_now(e, RL_FREEZE_REASON_EDGE_COLLAPSE, 7, value) : 0;
    if (made != 0) ev.side = RL_EDGE_HALTED, ev.order_id = made;
    rl_spsc_push(ring, &ev);
    rl_engine_knock(e);
    /* reportEdge has returned here. */

    hook_engine = e;
    hook_reserve_after_lift = 1;
    hook_reserve_result = (rl_result_t)-1;
    rl_step_result_t out;
    rl_engine_step(e, ring, 16, &out);
    hook_engine = NULL;

    rl_event_t recs[8];
    int n = drain_records(e, NULL, 8, recs);
    int fail = hook_reserve_result == RL_OK;
    char lift[96] = "no lift was published";
    if (hook_word_at_reserve != 0) {
        snprintf(lift, sizeof lift, "the word went %s (epoch %llu)", state_name(hook_word_at_reserve),
                 (unsigned long long)rl_freeze_word_epoch(hook_word_at_reserve));
    }
    printf("%s collapse_reported_while_transient_then_breaker_lifts: halt_now returned %d; in the step %s and a raising "
           "order got %d (0 = RL_OK: ACCEPTED after reportEdge returned; -1: not tried, nothing lifted); "
           "%d records, word now %s reason %d\n",
           fail ? "FAIL" : "PASS", made != 0, lift, (int)hook_reserve_result, n, state_name(word_of(e)),
           (int)rl_freeze_word_reason(word_of(e)));
    rl_spsc_destroy(ring);
    rl_engine_destroy(e);
    return fail;
}

/* ---- case 2 ---------------------------------------------------------------
 * The kill switch (rl_engine_request_freeze, "Trading is halted (manual)
 * when this returns"), pulled while the engine is HALTED for a transient
 * reason, at the moment the risk side's tick has passed its freeze_requests
 * check and is publishing the breaker's lift. First found: halt_now saw
 * HALTED and did nothing; the lift landed; raising orders were accepted
 * until the NEXT step took the request in (a persistent manual halt lifted
 * by the breaker). Then, with the request left in the book: raising orders
 * refused, but the word showed the lift's ACTIVE until the next step, and a
 * reducing order passed. Now halt_now stores its word over the transient
 * halt, and the lift's CAS fails on it. */
static int case_kill_switch_during_breaker_lift(void) {
    rl_engine_t *e = make_engine();
    rl_spsc_t *ring;
    if (rl_spsc_create(64, &ring) != 0) exit(2);
    /* A long position of 0.01 BTC, so that a sell reduces it. */
    if (rl_engine_reserve(e, 0, RL_SIDE_BUY, S / 100, 100 * S) != RL_OK) exit(2);
    rl_event_t fill = {0};
    fill.type = RL_EVENT_FILL;
    fill.side = RL_SIDE_BUY;
    fill.qty = S / 100;
    fill.price = 100 * S;
    rl_spsc_push(ring, &fill);
    rl_step_result_t out;
    rl_engine_step(e, ring, 16, &out);
    if (rl_position_table_position(rl_engine_table(e), 0) != S / 100) exit(2);
    transient_halt_due_for_lift(e);

    hook_engine = e;
    hook_pull_kill_switch = 1;
    hook_reserve_after_lift = 1;
    hook_reserve_result = (rl_result_t)-1;
    hook_pulled = 0;
    hook_word_after_pull = 0;
    hook_raise_after_pull = hook_reduce_after_pull = (rl_result_t)-1;
    rl_engine_step(e, ring, 16, &out); /* its tick lifts; the hook pulls the kill switch during the lift */
    hook_engine = NULL;
    uint64_t after_step = word_of(e);
    rl_result_t second = rl_engine_reserve(e, 0, RL_SIDE_BUY, S / 100, 100 * S);
    rl_result_t second_reduce = rl_engine_reserve(e, 0, RL_SIDE_SELL, S / 100, 100 * S);
    rl_engine_step(e, ring, 16, &out); /* the next step */
    uint64_t after_next = word_of(e);
    int fail = hook_word_after_pull == 0 || rl_freeze_word_state(hook_word_after_pull) != RL_STATE_HALTED ||
               hook_reserve_result == RL_OK || hook_raise_after_pull == RL_OK || hook_reduce_after_pull == RL_OK ||
               second == RL_OK || second_reduce == RL_OK || rl_freeze_word_state(after_step) != RL_STATE_HALTED ||
               rl_freeze_word_reason(after_step) != RL_FREEZE_REASON_MANUAL || after_next != after_step;
    printf("%s kill_switch_during_breaker_lift: once request_freeze returned, the lift's publish ended with the word %s "
           "reason %d, and a raising and a reducing order got %d and %d (0 = RL_OK: accepted); after that step the word "
           "is %s reason %d and the two orders got %d and %d; the next step %s it\n",
           fail ? "FAIL" : "PASS", state_name(hook_word_after_pull), (int)rl_freeze_word_reason(hook_word_after_pull),
           (int)hook_raise_after_pull, (int)hook_reduce_after_pull, state_name(after_step),
           (int)rl_freeze_word_reason(after_step), (int)second, (int)second_reduce,
           after_next == after_step ? "keeps" : "changes");
    rl_spsc_destroy(ring);
    rl_engine_destroy(e);
    return fail;
}

/* ---- case 3 ---------------------------------------------------------------
 * An edge report that says its reporter halted, when no halt was made and
 * taken in: a report filled from an order's template (side = SELL, which was
 * once the flag's value), or the flag with a bogus word. The collapse must
 * halt all the same (fail closed). */
static int case_edge_halted_flag_trusted(void) {
    int fail = 0;
    uint8_t sides[2] = {RL_SIDE_SELL, RL_EDGE_HALTED};
    for (int k = 0; k < 2; k++) {
        rl_engine_t *e = make_engine();
        rl_spsc_t *ring;
        if (rl_spsc_create(64, &ring) != 0) exit(2);
        rl_event_t ev = {0};
        ev.type = RL_EVENT_EDGE_UPDATE;
        ev.side = sides[k];
        ev.order_id = k == 0 ? 0 : rl_freeze_pack(RL_STATE_HALTED, RL_FREEZE_REASON_EDGE_COLLAPSE, 5); /* never shown */
        ev.value = 10 * S; /* far below the 100 bps threshold */
        ev.strategy = 3;
        rl_spsc_push(ring, &ev);
        rl_step_result_t out;
        rl_engine_step(e, ring, 16, &out);
        uint64_t w = word_of(e);
        int bad = rl_freeze_word_state(w) != RL_STATE_HALTED;
        fail |= bad;
        printf("%s edge_halted_flag_trusted: an edge of 10 bps (threshold 100) with side=%d, order_id=%llx and no halt_now: "
               "the word is %s (applied %llu events, %llu state changes)\n",
               bad ? "FAIL" : "PASS", (int)ev.side, (unsigned long long)ev.order_id, state_name(w),
               (unsigned long long)out.applied, (unsigned long long)out.state_changes);
        rl_spsc_destroy(ring);
        rl_engine_destroy(e);
    }
    return fail;
}

/* ---- case 4 ---------------------------------------------------------------
 * Two threads halt at once from ACTIVE: strategy 7's edge collapse (edge
 * 42 bps) and the kill switch. One CAS wins; the loser had already written
 * halt_cause/halt_value. take_in_halt takes the REASON from the word that
 * shows but the STRATEGY and VALUE from halt_cause/halt_value, which may be
 * the loser's: an edge_collapse record with edge 0 and no strategy, or a
 * manual (kill switch) record attributed to strategy 7. The header says
 * "the record names one of them"; here it names a mix of both. */
static rl_engine_t *race_engine;
static _Atomic(int) race_go, race_ready;
static void *race_edge(void *arg) {
    (void)arg;
    atomic_fetch_add(&race_ready, 1);
    while (!atomic_load(&race_go)) {}
    rl_engine_halt_now(race_engine, RL_FREEZE_REASON_EDGE_COLLAPSE, 7, 42 * S);
    return NULL;
}
static void *race_kill(void *arg) {
    (void)arg;
    atomic_fetch_add(&race_ready, 1);
    while (!atomic_load(&race_go)) {}
    rl_engine_request_freeze(race_engine);
    return NULL;
}
static int case_two_halters_mixed_attribution(int rounds) {
    rl_engine_t *e = make_engine();
    race_engine = e;
    rl_spsc_t *ring;
    if (rl_spsc_create(64, &ring) != 0) exit(2);
    int mixed = 0, edge_wins = 0, manual_wins = 0, other = 0;
    rl_event_t example = {0};
    for (int r = 0; r < rounds; r++) {
        atomic_store(&race_go, 0);
        atomic_store(&race_ready, 0);
        pthread_t a, b;
        pthread_create(&a, NULL, race_edge, NULL);
        pthread_create(&b, NULL, race_kill, NULL);
        while (atomic_load(&race_ready) < 2) {}
        atomic_store(&race_go, 1);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        rl_step_result_t out;
        rl_engine_step(e, ring, 16, &out);
        rl_event_t recs[8];
        int n = drain_records(e, NULL, 8, recs);
        for (int i = 0; i < n; i++) {
            rl_event_t *rec = &recs[i];
            uint64_t to = rec->order_id;
            if (rl_freeze_word_state(to) != RL_STATE_HALTED) continue;
            if (rl_freeze_word_state((uint64_t)rec->price) == RL_STATE_HALTED) continue; /* manual over edge: no */
            rl_freeze_reason_t reason = rl_freeze_word_reason(to);
            if (reason == RL_FREEZE_REASON_EDGE_COLLAPSE) {
                edge_wins++;
                if (rec->strategy != 7 || rec->value != 42 * S) {
                    if (mixed++ == 0) example = *rec;
                }
            } else if (reason == RL_FREEZE_REASON_MANUAL) {
                manual_wins++;
                if (rec->strategy != 0) {
                    if (mixed++ == 0) example = *rec;
                }
            } else {
                other++;
            }
        }
        rl_engine_apply_control(e, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, 0, 0);
        drain_records(e, NULL, 0, NULL);
        if (rl_freeze_word_state(word_of(e)) != RL_STATE_ACTIVE) {
            printf("FAIL two_halters_mixed_attribution: not ACTIVE after the unfreeze (round %d)\n", r);
            return 1;
        }
    }
    int fail = mixed != 0;
    printf("%s two_halters_mixed_attribution: %d rounds: %d edge_collapse records, %d manual records, %d other; %d with "
           "the other halter's strategy/value",
           fail ? "FAIL" : "PASS", rounds, edge_wins, manual_wins, other, mixed);
    if (mixed) {
        printf(" (e.g. reason %d, strategy %u, value %lld, qty %lld)", (int)rl_freeze_word_reason(example.order_id),
               (unsigned)example.strategy, (long long)example.value, (long long)example.qty);
    }
    printf("\n");
    rl_spsc_destroy(ring);
    rl_engine_destroy(e);
    return fail;
}

/* ---- case 5 ---------------------------------------------------------------
 * C API misuse: a reason other than edge_collapse. It halts, as manual
 * (fail closed), and a raising order is refused after. */
static int case_invalid_reason(void) {
    rl_engine_t *e = make_engine();
    uint64_t made = rl_engine_halt_now(e, (rl_freeze_reason_t)200, 1, 0);
    uint64_t w = word_of(e);
    rl_result_t res = rl_engine_reserve(e, 0, RL_SIDE_BUY, S / 100, 100 * S);
    int fail = made == 0 || rl_freeze_word_state(w) != RL_STATE_HALTED ||
               rl_freeze_word_reason(w) != RL_FREEZE_REASON_MANUAL || res != RL_FROZEN;
    printf("%s invalid_reason: halt_now(200) made %llx; the word is %s reason %u; a raising order got %d (%d = frozen)\n",
           fail ? "FAIL" : "PASS", (unsigned long long)made, state_name(w), (unsigned)rl_freeze_word_reason(w), (int)res,
           (int)RL_FROZEN);
    rl_engine_destroy(e);
    return fail;
}

/* ---- case 6 ---------------------------------------------------------------
 * Found by the second adversarial review. An operator's unfreeze of a
 * transient halt is being published (its CAS not yet made) when the kill
 * switch is pulled, or an edge collapses: that halt CASes the word and
 * returns. The unfreeze's CAS fails; it took the halt in and then retried
 * the unfreeze from the new halt, lifting the kill switch that returned
 * during it. Now a lift whose publish meets a new halt stops there. */
static int case_halt_during_an_unfreeze(int edge) {
    rl_engine_t *e = make_engine();
    rl_engine_set_clock(e, 1000000000ull);
    rl_engine_apply_control(e, RL_CONTROL_RATE_EXCEEDED, RL_SYMBOL_NONE, 10, 0);
    drain_records(e, NULL, 0, NULL);
    hook_engine = e;
    hook_pull_during_unfreeze = edge ? 2 : 1;
    int lifted = rl_engine_apply_control(e, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, 0, 42);
    hook_engine = NULL;
    /* The unfreeze did not happen, and says so (it once answered 0). */
    int answered_wrong = lifted != -ECANCELED;
    /* A second unfreeze, with nothing landing, lifts the halt that stood. */
    rl_engine_t *again = make_engine();
    rl_engine_apply_control(again, RL_CONTROL_MANUAL_FREEZE, RL_SYMBOL_NONE, 0, 43);
    answered_wrong |= rl_engine_apply_control(again, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, 0, 44) != 0;
    rl_engine_destroy(again);
    rl_spsc_t *ring;
    if (rl_spsc_create(64, &ring) != 0) exit(2);
    rl_step_result_t out;
    rl_engine_step(e, ring, 16, &out);
    uint64_t w = word_of(e);
    rl_result_t raise = rl_engine_reserve(e, 0, RL_SIDE_BUY, S / 100, 100 * S);
    rl_freeze_reason_t want = edge ? RL_FREEZE_REASON_EDGE_COLLAPSE : RL_FREEZE_REASON_MANUAL;
    int fail = hook_pull_during_unfreeze != 0 || rl_freeze_word_state(w) != RL_STATE_HALTED ||
               rl_freeze_word_reason(w) != want || raise == RL_OK || answered_wrong;
    printf("%s halt_during_an_unfreeze (%s): the unfreeze answered %d (-ECANCELED = %d), after it and a step the "
           "word is %s reason %d, a raising order got %d (0 = RL_OK: accepted)\n",
           fail ? "FAIL" : "PASS", edge ? "edge collapse" : "kill switch", lifted, -ECANCELED, state_name(w),
           (int)rl_freeze_word_reason(w), (int)raise);
    rl_spsc_destroy(ring);
    rl_engine_destroy(e);
    return fail;
}

/* ---- case 7 ---------------------------------------------------------------
 * Found by the second adversarial review. The controller waits a moment for
 * the winning halter's cause; a winner descheduled longer left the record
 * to the last request's cause, which a loser may have written: the record
 * named the loser. Now it names nobody (the word's reason, strategy 0,
 * value 0) and counts it. */
static int case_winner_descheduled_before_its_cause(void) {
    rl_engine_t *e = make_engine();
    drain_records(e, NULL, 0, NULL);
    memset(&hook_record_at_take_in, 0, sizeof hook_record_at_take_in);
    hook_engine = e;
    hook_loser_after_cas = 1;
    uint64_t made = rl_engine_halt_now(e, RL_FREEZE_REASON_EDGE_COLLAPSE, 7, 42 * S);
    hook_engine = NULL;
    rl_event_t r = hook_record_at_take_in;
    int fail = made == 0 || r.order_id != made || r.strategy == 9 || r.value == 99 * S ||
               !((r.strategy == 7 && r.value == 42 * S) || (r.strategy == 0 && r.value == 0)) ||
               (r.strategy == 0 && rl_engine_halt_causes_unattributed(e) != 1);
    printf("%s winner_descheduled_before_its_cause: the record of word %llx names strategy %u, value %.0f "
           "(the loser: 9, 99; the winner: 7, 42; unattributed: 0, 0; counted %llu)\n",
           fail ? "FAIL" : "PASS", (unsigned long long)r.order_id, (unsigned)r.strategy, rl_fp_to_double(r.value),
           (unsigned long long)rl_engine_halt_causes_unattributed(e));
    rl_engine_destroy(e);
    return fail;
}

/* ---- case 8 ---------------------------------------------------------------
 * The breaker escalates on the first trip; the kill switch lands between the
 * transient halt's publish and the escalation's. The escalation's publish
 * meets the manual halt and takes it in: nothing escalated, nothing counted. */
static int case_escalation_overtaken_by_a_halt(void) {
    rl_engine_t *e = make_engine();
    rl_breaker_config_t breaker = {1000000000ull, 1000000000ull, 300000000000ull, 1, 0};
    if (rl_engine_set_breaker(e, &breaker) != 0) exit(2);
    drain_records(e, NULL, 0, NULL);
    hook_engine = e;
    hook_pull_after_transient = 1;
    rl_engine_apply_control(e, RL_CONTROL_RATE_EXCEEDED, RL_SYMBOL_NONE, 10, 0);
    hook_engine = NULL;
    uint64_t w = word_of(e);
    rl_event_t all[8];
    int n = drain_records(e, NULL, 8, all);
    int escalated_records = 0;
    for (int i = 0; i < n; i++) {
        escalated_records += rl_freeze_word_reason(all[i].order_id) == RL_FREEZE_REASON_BREAKER_ESCALATED;
    }
    uint64_t counted = rl_engine_breaker_escalations(e);
    int fail = hook_pull_after_transient != 0 || rl_freeze_word_state(w) != RL_STATE_HALTED ||
               rl_freeze_word_reason(w) != RL_FREEZE_REASON_MANUAL || escalated_records != 0 || counted != 0;
    printf("%s escalation_overtaken_by_a_halt: the word is %s reason %d; %d escalation record(s), %llu counted\n",
           fail ? "FAIL" : "PASS", state_name(w), (int)rl_freeze_word_reason(w), escalated_records,
           (unsigned long long)counted);
    rl_engine_destroy(e);
    return fail;
}

/* ---- case 9 ---------------------------------------------------------------
 * A snapshot restores ACTIVE at the next epoch; the kill switch lands
 * between the restore's look at the word and its store. */
static int case_kill_switch_during_a_restore(void) {
    rl_engine_t *e = make_engine();
    drain_records(e, NULL, 0, NULL);
    uint64_t before = word_of(e);
    hook_engine = e;
    hook_pull_during_restore = 1;
    bool restored = rl_engine_restore_trading(
        e, rl_freeze_pack(RL_STATE_ACTIVE, RL_FREEZE_REASON_NONE, rl_freeze_word_epoch(before) + 1));
    hook_engine = NULL;
    uint64_t w = word_of(e);
    rl_result_t reduce = rl_engine_reserve(e, 0, RL_SIDE_SELL, S / 100, 100 * S);
    rl_spsc_t *ring;
    if (rl_spsc_create(64, &ring) != 0) exit(2);
    rl_step_result_t out;
    rl_engine_step(e, ring, 16, &out);
    uint64_t after = word_of(e);
    rl_event_t last = {0};
    int records = drain_records(e, &last, 0, NULL);
    int fail = hook_pull_during_restore != 0 || restored || rl_freeze_word_state(w) != RL_STATE_HALTED ||
               rl_freeze_word_reason(w) != RL_FREEZE_REASON_MANUAL || reduce == RL_OK ||
               rl_freeze_word_state(after) != RL_STATE_HALTED || records != 1 || last.order_id != after;
    printf("%s kill_switch_during_a_restore: the restore answered %s; the word is %s reason %d (an order got %d, "
           "0 = accepted); after a step %s, %d record(s)\n",
           fail ? "FAIL" : "PASS", restored ? "true" : "false", state_name(w), (int)rl_freeze_word_reason(w),
           (int)reduce, state_name(after), records);
    rl_spsc_destroy(ring);
    rl_engine_destroy(e);
    return fail;
}

/* ---- case 10 --------------------------------------------------------------
 * A fill no position can take halts on the router's own thread. */
static int unknown_fill_record_ok(const rl_event_t *r, uint64_t word) {
    return r->type == RL_EVENT_STATE_CHANGE && r->side == RL_TRADING_UNRECORDABLE && r->order_id == word &&
           r->qty == 7 * S / 1000 && r->value == 250 * S && r->strategy == 3;
}

static int case_unrecordable_fill(void) {
    int fail = 0;
    rl_spsc_t *ring;
    if (rl_spsc_create(64, &ring) != 0) exit(2);
    rl_step_result_t out;

    /* (a) Trading: halted before the call returns, raising and reducing orders refused, recorded at the next step. */
    rl_engine_t *e = make_engine();
    drain_records(e, NULL, 0, NULL);
    uint64_t made = rl_engine_halt_unrecordable_fill(e, 3, 7 * S / 1000, 250 * S);
    uint64_t w = word_of(e);
    rl_result_t raise = rl_engine_reserve(e, 0, RL_SIDE_BUY, S / 100, 100 * S);
    rl_result_t reduce = rl_engine_reserve(e, 0, RL_SIDE_SELL, S / 100, 100 * S);
    rl_engine_step(e, ring, 16, &out);
    rl_event_t last = {0};
    int records = drain_records(e, &last, 0, NULL);
    int a = made == 0 || w != made || rl_freeze_word_state(w) != RL_STATE_HALTED ||
            rl_freeze_word_reason(w) != RL_FREEZE_REASON_UNRECORDABLE || raise == RL_OK || reduce == RL_OK ||
            records != 1 || !unknown_fill_record_ok(&last, made) || word_of(e) != made;
    printf("%s unrecordable_fill (trading): made %llx, the word %s reason %d; orders got %d and %d (0 = accepted); "
           "%d record(s): input %u, qty %.4f, price %.2f, strategy %u\n",
           a ? "FAIL" : "PASS", (unsigned long long)made, state_name(w), (int)rl_freeze_word_reason(w), (int)raise,
           (int)reduce, records, (unsigned)last.side, rl_fp_to_double(last.qty), rl_fp_to_double(last.value),
           (unsigned)last.strategy);
    fail |= a;
    /* A second one while halted for it: nothing to add. */
    uint64_t again = rl_engine_halt_unrecordable_fill(e, 3, S, S);
    rl_engine_step(e, ring, 16, &out);
    int b = again != 0 || drain_records(e, NULL, 0, NULL) != 0 || word_of(e) != made;
    printf("%s unrecordable_fill (again while halted for it): made %llx, no new record\n", b ? "FAIL" : "PASS",
           (unsigned long long)again);
    fail |= b;
    rl_engine_destroy(e);

    /* (b) While the kill switch is being published: the unknown fill's word lands first and is adopted, with its detail. */
    e = make_engine();
    drain_records(e, NULL, 0, NULL);
    hook_engine = e;
    hook_unknown_fill_at_show = 1;
    rl_engine_apply_control(e, RL_CONTROL_MANUAL_FREEZE, RL_SYMBOL_NONE, 0, 0);
    hook_engine = NULL;
    w = word_of(e);
    rl_event_t all[4];
    records = drain_records(e, NULL, 4, all);
    int c = hook_unknown_fill_at_show != 0 || rl_freeze_word_state(w) != RL_STATE_HALTED ||
            rl_freeze_word_reason(w) != RL_FREEZE_REASON_UNRECORDABLE || records != 1 ||
            !unknown_fill_record_ok(&all[0], w);
    printf("%s unrecordable_fill (during the kill switch's publish): the word %s reason %d; %d record(s), the first "
           "input %u qty %.4f price %.2f\n",
           c ? "FAIL" : "PASS", state_name(w), (int)rl_freeze_word_reason(w), records, (unsigned)all[0].side,
           rl_fp_to_double(all[0].qty), rl_fp_to_double(all[0].value));
    fail |= c;
    rl_engine_destroy(e);

    /* (c) Over the kill switch: the word is left alone (the router sends its ring event); a request its lost
     * CAS left in the book (written here as that halter wrote it) takes the halt over at the next step. */
    e = make_engine();
    rl_engine_apply_control(e, RL_CONTROL_MANUAL_FREEZE, RL_SYMBOL_NONE, 0, 0);
    drain_records(e, NULL, 0, NULL);
    uint64_t manual = word_of(e);
    uint64_t none = rl_engine_halt_unrecordable_fill(e, 3, 7 * S / 1000, 250 * S);
    int d = none != 0 || word_of(e) != manual;
    atomic_store(&e->halt_cause, rl_halt_cause_pack(RL_FREEZE_REASON_UNRECORDABLE, 3));
    atomic_store(&e->halt_value, 250 * S);
    atomic_store(&e->halt_qty, 7 * S / 1000);
    rl_position_table_request_halt(rl_engine_table(e));
    atomic_fetch_add(&e->halt_requests, 1);
    rl_engine_step(e, ring, 16, &out);
    w = word_of(e);
    records = drain_records(e, &last, 0, NULL);
    d |= rl_freeze_word_state(w) != RL_STATE_HALTED || rl_freeze_word_reason(w) != RL_FREEZE_REASON_UNRECORDABLE ||
         rl_freeze_word_epoch(w) != rl_freeze_word_epoch(manual) + 1 || records != 1 || !unknown_fill_record_ok(&last, w);
    /* The request was cleared: after an operator's unfreeze a raising order passes. */
    int lifted = rl_engine_apply_control(e, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, 0, 0);
    raise = rl_engine_reserve(e, 0, RL_SIDE_BUY, S / 100, 100 * S);
    d |= lifted != 0 || raise != RL_OK;
    printf("%s unrecordable_fill (over the kill switch): made %llx; after the request and a step the word is %s "
           "reason %d, %d record(s); unfreeze %d, then a raising order got %d\n",
           d ? "FAIL" : "PASS", (unsigned long long)none, state_name(w), (int)rl_freeze_word_reason(w), records, lifted,
           (int)raise);
    fail |= d;
    rl_engine_destroy(e);
    rl_spsc_destroy(ring);
    return fail;
}

/* ---- review 3 (helper-33) of the unrecordable fill's halt -----------------
 * 11. Found: the router's request left in the book over the kill switch (its
 *     CAS lost to it; it returned 0 and sent its ring event) is taken in by
 *     an operator's unfreeze of the kill switch. The take-in publishes the
 *     takeover (unrecordable_fill) and the same unfreeze then lifts it: the
 *     operator lifted a book-unknown halt he never saw (the unfreeze
 *     answers 0), trading is ACTIVE until the ring event comes, which halts
 *     again: two unrecordable_fill records for one fill. Before fa90b58
 *     nothing was left in the book: one record, and the unfreeze lifted the
 *     kill switch it was meant for. (a) the request written as case 10c
 *     writes it; (b) the same state reached by a real race. */
static void push_unknown_fill_event(rl_spsc_t *ring) {
    rl_event_t ev = {0};
    ev.type = RL_EVENT_CONTROL;
    ev.side = RL_CONTROL_UNRECORDABLE_FILL;
    ev.symbol = RL_SYMBOL_NONE;
    ev.qty = 7 * S / 1000;
    ev.price = 250 * S;
    ev.strategy = 3;
    if (rl_spsc_push(ring, &ev) != RL_OK) exit(2);
}

static int count_unknown_records(const rl_event_t *all, int n) {
    int k = 0;
    for (int i = 0; i < n; i++) k += all[i].side == RL_TRADING_UNRECORDABLE;
    return k;
}

static int book_requested(rl_engine_t *e) {
    return (rl_pair_load(&rl_engine_table(e)->book).hi & RL_BOOK_HALT_REQUESTED) != 0;
}

static int case_unfreeze_takes_in_an_unknown_fill_request(void) {
    rl_spsc_t *ring;
    if (rl_spsc_create(64, &ring) != 0) exit(2);
    rl_step_result_t out;
    rl_engine_t *e = make_engine();
    rl_engine_apply_control(e, RL_CONTROL_MANUAL_FREEZE, RL_SYMBOL_NONE, 0, 0);
    drain_records(e, NULL, 0, NULL);
    uint64_t none = rl_engine_halt_unrecordable_fill(e, 3, 7 * S / 1000, 250 * S);
    atomic_store(&e->halt_cause, rl_halt_cause_pack(RL_FREEZE_REASON_UNRECORDABLE, 3));
    atomic_store(&e->halt_value, 250 * S);
    atomic_store(&e->halt_qty, 7 * S / 1000);
    rl_position_table_request_halt(rl_engine_table(e));
    atomic_fetch_add(&e->halt_requests, 1);
    push_unknown_fill_event(ring); /* it returned 0: its ring event */
    /* The operator lifts the kill switch he sees before the risk side's next step. */
    int lifted = rl_engine_apply_control(e, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, 0, 0);
    uint64_t after_lift = word_of(e);
    rl_result_t raise = rl_engine_reserve(e, 0, RL_SIDE_BUY, S / 100, 100 * S);
    rl_engine_step(e, ring, 16, &out);
    rl_event_t all[8];
    int n = drain_records(e, NULL, 8, all), unknown = count_unknown_records(all, n);
    uint64_t w = word_of(e);
    int fail = none != 0 || rl_freeze_word_state(after_lift) != RL_STATE_HALTED ||
               rl_freeze_word_reason(after_lift) != RL_FREEZE_REASON_UNRECORDABLE || raise == RL_OK || unknown != 1 ||
               rl_freeze_word_reason(w) != RL_FREEZE_REASON_UNRECORDABLE;
    printf("%s unfreeze_takes_in_an_unknown_fill_request (a): the unfreeze of the kill switch answered %d; after it "
           "the word is %s reason %d and a raising order got %d (0 = accepted); after the ring event %d "
           "unrecordable_fill record(s) of %d, the word %s reason %d\n",
           fail ? "FAIL" : "PASS", lifted, state_name(after_lift), (int)rl_freeze_word_reason(after_lift), (int)raise,
           unknown, n, state_name(w), (int)rl_freeze_word_reason(w));
    rl_engine_destroy(e);
    rl_spsc_destroy(ring);
    return fail;
}

static rl_engine_t *r11_engine;
static _Atomic int r11_go, r11_ready;
static uint64_t r11_made;
static void *r11_controller(void *arg) {
    (void)arg;
    atomic_fetch_add(&r11_ready, 1);
    while (!atomic_load(&r11_go)) {}
    rl_engine_apply_control(r11_engine, RL_CONTROL_MANUAL_FREEZE, RL_SYMBOL_NONE, 0, 0);
    return NULL;
}
static void *r11_router(void *arg) {
    (void)arg;
    atomic_fetch_add(&r11_ready, 1);
    while (!atomic_load(&r11_go)) {}
    r11_made = rl_engine_halt_unrecordable_fill(r11_engine, 3, 7 * S / 1000, 250 * S);
    return NULL;
}

static int case_unfreeze_takes_in_an_unknown_fill_request_race(int rounds) {
    rl_spsc_t *ring;
    if (rl_spsc_create(64, &ring) != 0) exit(2);
    rl_step_result_t out;
    rl_engine_t *e = make_engine();
    r11_engine = e;
    int hits = 0, lifted_unknown = 0, doubled = 0;
    for (int r = 0; r < rounds && hits < 5; r++) {
        drain_records(e, NULL, 0, NULL);
        atomic_store(&r11_go, 0);
        atomic_store(&r11_ready, 0);
        pthread_t a, b;
        pthread_create(&a, NULL, r11_controller, NULL);
        pthread_create(&b, NULL, r11_router, NULL);
        while (atomic_load(&r11_ready) < 2) {}
        atomic_store(&r11_go, 1);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        if (r11_made == 0) push_unknown_fill_event(ring); /* the router's fallback */
        if (r11_made == 0 && book_requested(e) &&
            rl_freeze_word_reason(word_of(e)) == RL_FREEZE_REASON_MANUAL) {
            /* Its CAS lost to the kill switch: the operator lifts the kill switch now. */
            hits++;
            drain_records(e, NULL, 0, NULL);
            rl_engine_apply_control(e, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, 0, 0);
            if (rl_freeze_word_state(word_of(e)) != RL_STATE_HALTED) lifted_unknown++;
            rl_engine_step(e, ring, 16, &out);
            rl_event_t all[8];
            int n = drain_records(e, NULL, 8, all);
            if (count_unknown_records(all, n) > 1) doubled++;
        }
        /* Back to ACTIVE for the next round. */
        for (int k = 0; k < 4 && (rl_freeze_word_state(word_of(e)) != RL_STATE_ACTIVE || book_requested(e)); k++) {
            rl_engine_step(e, ring, 16, &out);
            rl_engine_apply_control(e, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, 0, 0);
        }
        drain_records(e, NULL, 0, NULL);
        if (rl_freeze_word_state(word_of(e)) != RL_STATE_ACTIVE) {
            printf("FAIL unfreeze_takes_in_an_unknown_fill_request (b): not ACTIVE after round %d\n", r);
            return 1;
        }
    }
    int fail = lifted_unknown != 0 || doubled != 0;
    printf("%s unfreeze_takes_in_an_unknown_fill_request (b, threads): %d round(s) left the router's request in the "
           "book over the kill switch; in %d the unfreeze of the kill switch lifted the book-unknown halt, in %d "
           "two unrecordable_fill records for one fill\n",
           fail ? "FAIL" : "PASS", hits, lifted_unknown, doubled);
    rl_engine_destroy(e);
    rl_spsc_destroy(ring);
    return fail;
}

/* 12. Found (minor): the router that won descheduled between its CAS and its
 *     detail (as case 7): the record of an unrecordable fill names no
 *     quantity and no price (0 and 0), and the FreezeEvent said "a fill of
 *     0.0 at 0.0". The detail cannot be written before the CAS (a loser's
 *     could then be taken for the winner's), so the record is the winner's
 *     or none, counted as unattributed, and the FreezeEvent says the size
 *     is unknown and in the router's log (UnrecordableFillReview3Tests). */
static int case_unknown_fill_winner_descheduled(void) {
    rl_engine_t *e = make_engine();
    drain_records(e, NULL, 0, NULL);
    memset(&hook_record_at_take_in, 0, sizeof hook_record_at_take_in);
    hook_engine = e;
    hook_unknown_winner_descheduled = 1;
    uint64_t made = rl_engine_halt_unrecordable_fill(e, 3, 7 * S / 1000, 250 * S);
    hook_engine = NULL;
    rl_event_t r = hook_record_at_take_in;
    int winner = r.qty == 7 * S / 1000 && r.value == 250 * S && r.strategy == 3;
    int none = r.qty == 0 && r.value == 0 && r.strategy == 0 && rl_engine_halt_causes_unattributed(e) == 1;
    int fail = made == 0 || r.order_id != made || r.side != RL_TRADING_UNRECORDABLE || !(winner || none);
    printf("%s unknown_fill_winner_descheduled: the record of word %llx (input %u) says qty %.4f price %.2f strategy "
           "%u (the fill: 0.007 at 250, strategy 3; unattributed %llu)\n",
           fail ? "FAIL" : "PASS", (unsigned long long)r.order_id, (unsigned)r.side, rl_fp_to_double(r.qty),
           rl_fp_to_double(r.value), (unsigned)r.strategy, (unsigned long long)rl_engine_halt_causes_unattributed(e));
    rl_engine_destroy(e);
    return fail;
}

/* 13. Held: C API misuse. halt_now with the unrecordable reason halts for
 *     it, with no quantity; a quantity given with another reason is dropped;
 *     an unknown reason halts as manual; a second unrecordable call over
 *     it, and one over an edge collapse, make no word. */
static int case_unknown_fill_api(void) {
    int fail = 0;
    rl_spsc_t *ring;
    if (rl_spsc_create(64, &ring) != 0) exit(2);
    rl_step_result_t out;
    rl_event_t last;
    rl_engine_t *e = make_engine();
    drain_records(e, NULL, 0, NULL);
    uint64_t made = rl_engine_halt_now(e, RL_FREEZE_REASON_UNRECORDABLE, 5, 9 * S);
    rl_engine_step(e, ring, 16, &out);
    int n = drain_records(e, &last, 0, NULL);
    int a = made == 0 || rl_freeze_word_reason(made) != RL_FREEZE_REASON_UNRECORDABLE || n != 1 ||
            last.side != RL_TRADING_UNRECORDABLE || last.qty != 0 || last.value != 9 * S || last.strategy != 5;
    rl_engine_destroy(e);
    e = make_engine();
    drain_records(e, NULL, 0, NULL);
    made = rl_engine_halt_now_detailed(e, RL_FREEZE_REASON_EDGE_COLLAPSE, 5, 77 * S, 9 * S);
    rl_engine_step(e, ring, 16, &out);
    n = drain_records(e, &last, 0, NULL);
    a |= made == 0 || rl_freeze_word_reason(made) != RL_FREEZE_REASON_EDGE_COLLAPSE || n != 1 ||
         last.side != RL_TRADING_EDGE_COLLAPSE || last.value != 9 * S;
    uint64_t over_edge = rl_engine_halt_unrecordable_fill(e, 3, S, S);
    a |= over_edge != 0;
    rl_engine_destroy(e);
    e = make_engine();
    made = rl_engine_halt_now_detailed(e, (rl_freeze_reason_t)0x107, 5, 77 * S, 9 * S);
    a |= made == 0 || rl_freeze_word_reason(made) != RL_FREEZE_REASON_MANUAL;
    rl_engine_step(e, ring, 16, &out);
    n = drain_records(e, &last, 0, NULL);
    a |= n != 1 || last.side != RL_TRADING_MANUAL_FREEZE || last.strategy != 5;
    printf("%s unknown_fill_api: halt_now(unrecordable), a quantity with edge_collapse, reason 0x107 (manual), "
           "over an edge collapse\n", a ? "FAIL" : "PASS");
    fail |= a;
    rl_engine_destroy(e);
    rl_spsc_destroy(ring);
    return fail;
}


/* ---- kill switch pulls and their records --------------------------------
 * rl_engine_request_freeze_counted's count and rl_engine_freeze_requests_recorded:
 * the orchestrator attaches an operator's reason to the record of its pull,
 * and settles a pull with no record (the word was halted already) once the
 * recorded count passes it. That needs: every record made for pulls up to a
 * recorded count R is in the state ring when R is read, but for the record
 * of a word a pull made itself that landed after its count was acted on (a
 * lift between the pull's count and its word; the orchestrator describes
 * it without the reason). Three pullers, a risk thread that steps and now
 * and then lifts the halt, and a reader that loads R, drains the ring, and
 * checks that no later drain brings a manual record for a count at or under
 * that R, unless its word is one a pull made (checked once every puller has
 * said which words it made). */
#define PULL_CAPACITY (1u << 24)
#define PULL_LATE_KEPT 4096
static rl_engine_t *pull_engine;
static _Atomic(int) pull_stop;
static _Atomic(uint64_t) pull_made_total;
static _Atomic(uint8_t) *pull_made_epoch; /* by epoch: a pull's own halt_now made that word */
static void *pull_puller(void *arg) {
    (void)arg;
    while (!atomic_load(&pull_stop)) {
        uint64_t made = 0;
        (void)rl_engine_request_freeze_counted(pull_engine, &made);
        if (made != 0) {
            atomic_fetch_add(&pull_made_total, 1);
            uint64_t epoch = rl_freeze_word_epoch(made);
            if (epoch < PULL_CAPACITY) atomic_store(&pull_made_epoch[epoch], 1);
        }
        for (volatile int i = 0; i < 200; i++) {}
    }
    return NULL;
}
static void *pull_risk(void *arg) {
    rl_spsc_t *ring = arg;
    uint64_t n = 0;
    while (!atomic_load(&pull_stop)) {
        rl_step_result_t out;
        rl_engine_step(pull_engine, ring, 16, &out);
        if (++n % 64 == 0) (void)rl_engine_apply_control(pull_engine, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, 0, 0);
    }
    return NULL;
}
static int case_kill_switch_pull_recorded(int ms) {
    rl_engine_t *e = make_engine();
    pull_engine = e;
    pull_made_epoch = calloc(PULL_CAPACITY, sizeof *pull_made_epoch);
    rl_spsc_t *ring;
    if (pull_made_epoch == NULL || rl_spsc_create(64, &ring) != 0) exit(2);
    atomic_store(&pull_stop, 0);
    pthread_t pullers[3], risk;
    pthread_create(&risk, NULL, pull_risk, ring);
    for (int i = 0; i < 3; i++) pthread_create(&pullers[i], NULL, pull_puller, NULL);
    uint64_t settled = 0, records = 0, highest_record = 0, late_count = 0;
    static uint64_t late_epoch[PULL_LATE_KEPT], late_pull[PULL_LATE_KEPT], late_bound[PULL_LATE_KEPT];
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        uint64_t recorded = rl_engine_freeze_requests_recorded(e);
        rl_event_t ev;
        while (rl_spsc_pop(rl_engine_state_ring(e), &ev) == RL_OK) {
            if (ev.side != RL_TRADING_MANUAL_FREEZE || ev.value != 0 || ev.qty <= 0) continue;
            records++;
            uint64_t q = (uint64_t)ev.qty;
            if (q > highest_record) highest_record = q;
            if (q > settled) continue;
            /* The recorded count had passed this pull before the last drain: judged below. */
            if (late_count < PULL_LATE_KEPT) {
                late_epoch[late_count] = rl_freeze_word_epoch(ev.order_id);
                late_pull[late_count] = q;
                late_bound[late_count] = settled;
            }
            late_count++;
        }
        settled = recorded;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >= ms) break;
    }
    atomic_store(&pull_stop, 1);
    for (int i = 0; i < 3; i++) pthread_join(pullers[i], NULL);
    pthread_join(risk, NULL);
    /* Every puller has said which words it made: a late record of one is excused. */
    uint64_t late = late_count > PULL_LATE_KEPT ? late_count - PULL_LATE_KEPT : 0, own = 0, example = PULL_LATE_KEPT;
    for (uint64_t i = 0; i < late_count && i < PULL_LATE_KEPT; i++) {
        if (late_epoch[i] < PULL_CAPACITY && atomic_load(&pull_made_epoch[late_epoch[i]])) {
            own++;
        } else {
            if (late++ == 0) example = i;
        }
    }
    int fail = late != 0 || records == 0 || settled == 0;
    printf("%s kill_switch_pull_recorded: %d ms, 3 pullers: %llu pulls acted on, %llu made the word, %llu manual "
           "records (the highest for pull %llu); %llu record(s) came after the recorded count had passed their pull "
           "(and %llu of a word a pull made, landed after a lift)",
           fail ? "FAIL" : "PASS", ms, (unsigned long long)settled, (unsigned long long)atomic_load(&pull_made_total),
           (unsigned long long)records, (unsigned long long)highest_record, (unsigned long long)late,
           (unsigned long long)own);
    if (example < PULL_LATE_KEPT) {
        printf(" (e.g. a record for pull %llu, epoch %llu, after %llu)", (unsigned long long)late_pull[example],
               (unsigned long long)late_epoch[example], (unsigned long long)late_bound[example]);
    }
    printf("\n");
    rl_spsc_destroy(ring);
    rl_engine_destroy(e);
    free(pull_made_epoch);
    return fail;
}

/* Cases 14-17 start here: the kill switch pulled and recorded, the
 * records drained. */
static rl_engine_t *engine_with_a_recorded_kill_switch(void) {
    rl_engine_t *e = make_engine();
    rl_engine_set_clock(e, 1000000000ull);
    rl_engine_request_freeze(e);
    rl_engine_tick(e);
    drain_records(e, NULL, 0, NULL);
    return e;
}

/* ---- case 14 --------------------------------------------------------------
 * A bounded unfreeze of a persistent halt, and a pull between its look at
 * the count and its lift: the pull's halt stands. */
static int case_pull_during_a_bounded_unfreeze(void) {
    rl_engine_t *e = engine_with_a_recorded_kill_switch();
    int64_t seen = (int64_t)rl_engine_freeze_requests(e) + 1; /* the unfreezer's look */
    hook_engine = e;
    hook_pull_during_unfreeze = 1; /* a second operator pulls while the lift is published */
    int rc = rl_engine_apply_control(e, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, seen, 45);
    hook_engine = NULL;
    uint64_t w = word_of(e);
    rl_result_t raise = rl_engine_reserve(e, 0, RL_SIDE_BUY, S / 100, 100 * S);
    rl_event_t records[8];
    int n = drain_records(e, NULL, 8, records);
    int manual_records = 0;
    for (int i = 0; i < n && i < 8; i++) {
        if (records[i].side == RL_TRADING_MANUAL_FREEZE && rl_freeze_word_state(records[i].order_id) == RL_STATE_HALTED &&
            rl_freeze_word_reason(records[i].order_id) == RL_FREEZE_REASON_MANUAL &&
            rl_freeze_word_reason(records[i].price) != RL_FREEZE_REASON_LIFTING) {
            manual_records++;
        }
    }
    /* The mark is gone, and an unfreeze that saw the second pull lifts. */
    int64_t now_seen = (int64_t)rl_engine_freeze_requests(e) + 1;
    int rc2 = rl_engine_apply_control(e, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, now_seen, 46);
    uint64_t w2 = word_of(e);
    int fail = hook_pull_during_unfreeze != 0 || rc != -ECANCELED || rl_freeze_word_state(w) != RL_STATE_HALTED ||
               rl_freeze_word_reason(w) != RL_FREEZE_REASON_MANUAL || raise == RL_OK || manual_records != 1 ||
               rc2 != 0 || rl_freeze_word_state(w2) != RL_STATE_ACTIVE;
    printf("%s pull_during_a_bounded_unfreeze: the unfreeze answered %d (-ECANCELED = %d); the word %s reason %d; "
           "a raising order got %d (0 = accepted); %d record(s) of the second pull's halt; a later unfreeze %d, %s\n",
           fail ? "FAIL" : "PASS", rc, -ECANCELED, state_name(w), (int)rl_freeze_word_reason(w), (int)raise,
           manual_records, rc2, state_name(w2));
    rl_engine_destroy(e);
    return fail;
}

/* ---- case 15 --------------------------------------------------------------
 * A halter that read a refused unfreeze's mark CASes from it when a second
 * unfreeze marks the same epoch: no raising order passes, the halt stands. */
static int case_stale_halter_meets_a_second_mark(void) {
    rl_engine_t *e = engine_with_a_recorded_kill_switch();
    hook_engine = e;
    /* An unfreeze from a requester who saw no pull: refused for its count.
     * A halter reads its mark meanwhile. */
    hook_stale_halter = 1;
    int rc1 = rl_engine_apply_control(e, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, 1, 50);
    /* The halter's request, after its read (its CAS waits: descheduled). */
    rl_position_table_request_halt(e->table);
    /* An unfreeze that saw the pull: it takes the request in, marks, and at
     * its lift's show:begin the halter CASes from the mark it read. */
    hook_stale_halter = 3;
    int64_t seen = (int64_t)rl_engine_freeze_requests(e) + 1;
    int rc2 = rl_engine_apply_control(e, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, seen, 51);
    hook_engine = NULL;
    uint64_t w = word_of(e);
    rl_result_t raise_after = rl_engine_reserve(e, 0, RL_SIDE_BUY, S / 100, 100 * S);
    int fail = rc1 != -ECANCELED || hook_stale_halter != 0 || !hook_stale_landed ||
               (hook_raise_in_lift == RL_OK && rl_freeze_word_state(hook_word_in_lift) == RL_STATE_HALTED) ||
               rc2 != -ECANCELED || rl_freeze_word_state(w) != RL_STATE_HALTED || raise_after == RL_OK;
    printf("%s stale_halter_meets_a_second_mark: the first unfreeze %d, the halter's halt landed %d; during the "
           "second's lift the word was %s and a raising order got %d (0 = accepted); the second unfreeze %d, the word "
           "%s, a raising order after %d\n",
           fail ? "FAIL" : "PASS", rc1, hook_stale_landed, state_name(hook_word_in_lift), (int)hook_raise_in_lift, rc2,
           state_name(w), (int)raise_after);
    rl_engine_destroy(e);
    return fail;
}

/* ---- case 16 --------------------------------------------------------------
 * A pull stored over the mark of an unfreeze refused for its count: the
 * pull's halt is recorded at the next step. */
static int case_pull_over_a_refused_mark_recorded(void) {
    rl_engine_t *e = engine_with_a_recorded_kill_switch();
    int64_t seen = (int64_t)rl_engine_freeze_requests(e) + 1;
    hook_engine = e;
    hook_pull_at_mark = 1; /* a second operator pulls while the unfreeze has marked */
    int rc = rl_engine_apply_control(e, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, seen, 52);
    hook_engine = NULL;
    rl_engine_tick(e);
    uint64_t w = word_of(e);
    rl_event_t records[8];
    int n = drain_records(e, NULL, 8, records), pull_records = 0;
    for (int i = 0; i < n && i < 8; i++) {
        if (records[i].side == RL_TRADING_MANUAL_FREEZE && records[i].order_id == w &&
            rl_freeze_word_reason(records[i].price) != RL_FREEZE_REASON_LIFTING) {
            pull_records++;
        }
    }
    int fail = hook_pull_at_mark != 0 || rc != -ECANCELED || rl_freeze_word_state(w) != RL_STATE_HALTED ||
               rl_freeze_word_reason(w) != RL_FREEZE_REASON_MANUAL || pull_records != 1 ||
               rl_engine_freeze_requests_recorded(e) != rl_engine_freeze_requests(e);
    printf("%s pull_over_a_refused_mark_recorded: the unfreeze %d; the word %s reason %d; %d record(s) of the pull's "
           "word; pulls %llu, recorded %llu\n",
           fail ? "FAIL" : "PASS", rc, state_name(w), (int)rl_freeze_word_reason(w), pull_records,
           (unsigned long long)rl_engine_freeze_requests(e), (unsigned long long)rl_engine_freeze_requests_recorded(e));
    rl_engine_destroy(e);
    return fail;
}

/* ---- case 17 --------------------------------------------------------------
 * A pull over a refused unfreeze's mark, descheduled after its CAS: the next
 * tick says it is recorded only with its word's record in the ring. */
static int case_paused_pull_recorded_with_its_word(void) {
    rl_engine_t *e = engine_with_a_recorded_kill_switch();
    int64_t seen = (int64_t)rl_engine_freeze_requests(e) + 1;
    hook_engine = e;
    hook_paused_pull_at_mark = 1;
    int rc = rl_engine_apply_control(e, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, seen, 60);
    hook_engine = NULL;
    rl_engine_tick(e); /* before the puller's halt_requests add */
    uint64_t pulls = rl_engine_freeze_requests(e), recorded = rl_engine_freeze_requests_recorded(e);
    rl_event_t records[8];
    int n = drain_records(e, NULL, 8, records), of_the_pull = 0;
    for (int i = 0; i < n && i < 8; i++) of_the_pull += records[i].order_id == hook_made_at_mark;
    paused_pull_resumes(e, hook_made_at_mark);
    rl_engine_tick(e);
    int later = drain_records(e, NULL, 0, NULL);
    int fail = rc != -ECANCELED || hook_made_at_mark == 0 || (recorded >= pulls && of_the_pull != 1) || later != 0;
    printf("%s paused_pull_recorded_with_its_word: the unfreeze %d; after a tick: pulls %llu, recorded %llu, %d "
           "record(s) of the pull's word; %d more after its add\n",
           fail ? "FAIL" : "PASS", rc, (unsigned long long)pulls, (unsigned long long)recorded, of_the_pull, later);
    rl_engine_destroy(e);
    return fail;
}

/* ---- case 18 --------------------------------------------------------------
 * An edge collapse over the mark of a book-unknown halt: the word, the last
 * record and a restart from the records all say unrecordable_fill. */
static int case_book_unknown_not_renamed_over_a_mark(void) {
    rl_engine_t *e = make_engine();
    rl_engine_set_clock(e, 1000000000ull);
    (void)rl_engine_halt_unrecordable_fill(e, 3, 7 * S / 1000, 250 * S);
    rl_engine_tick(e);
    drain_records(e, NULL, 0, NULL);
    uint64_t before = word_of(e);
    hook_engine = e;
    hook_edge_at_mark = 1;
    int rc = rl_engine_apply_control(e, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, (int64_t)rl_engine_freeze_requests(e) + 1, 61);
    hook_engine = NULL;
    rl_engine_tick(e);
    rl_event_t records[8];
    int n = drain_records(e, NULL, 8, records);
    uint64_t w = word_of(e);
    rl_engine_t *restarted = make_engine();
    (void)rl_engine_restore_trading(restarted, before);
    for (int i = 0; i < n && i < 8; i++) (void)rl_engine_restore_trading(restarted, records[i].order_id);
    uint64_t w2 = word_of(restarted);
    int fail = rc != -ECANCELED || hook_made_at_mark == 0 || rl_freeze_word_state(w) != RL_STATE_HALTED ||
               rl_freeze_word_reason(w) != RL_FREEZE_REASON_UNRECORDABLE || n < 1 || records[n - 1].order_id != w ||
               rl_freeze_word_reason(w2) != RL_FREEZE_REASON_UNRECORDABLE;
    printf("%s book_unknown_not_renamed_over_a_mark: the unfreeze %d; the word %s reason %d (unrecordable_fill = %d); "
           "%d record(s); restarted from them: reason %d\n",
           fail ? "FAIL" : "PASS", rc, state_name(w), (int)rl_freeze_word_reason(w), (int)RL_FREEZE_REASON_UNRECORDABLE, n,
           (int)rl_freeze_word_reason(w2));
    rl_engine_destroy(restarted);
    rl_engine_destroy(e);
    return fail;
}

static rl_engine_t *race_engine;
static atomic_int race_go, race_done;
static atomic_uint race_delay;
static uint64_t race_count, race_word;
static rl_result_t race_raise;

static void *race_puller(void *arg) {
    (void)arg;
    for (;;) {
        int g;
        while ((g = atomic_load(&race_go)) == 0) {}
        if (g < 0) return NULL;
        unsigned d = atomic_load(&race_delay);
        for (volatile unsigned i = 0; i < d; i++) {}
        race_count = rl_engine_request_freeze_counted(race_engine, NULL);
        race_word = rl_freeze_load(rl_engine_freeze(race_engine));
        race_raise = rl_engine_reserve(race_engine, 0, RL_SIDE_BUY, S / 100, 100 * S);
        atomic_store(&race_go, 0);
        atomic_store(&race_done, 1);
    }
}

/* The same raced: the risk side (this thread) applies bounded unfreezes of a
 * kill-switch halt; another thread pulls at a random moment of each. A pull
 * after the look must return to a HALTED word, and no raising order passes. */
/* `setup`, before each unfreeze: 0, a recorded kill switch; and helper-41's
 * review: 1, trading ACTIVE with an edge collapse's word showing, not yet
 * taken in; 2, ACTIVE and nothing showing; 3, a pull the unfreezer saw,
 * showing, not yet taken in. */
static const char *const race_setups[] = {"a recorded kill switch", "an edge collapse not taken in", "nothing halted",
                                          "a seen pull not taken in"};
static int case_pull_during_a_bounded_unfreeze_race(int rounds, int setup) {
    race_engine = make_engine();
    rl_engine_t *e = race_engine;
    rl_engine_set_clock(e, 1000000000ull);
    rl_spsc_t *ring;
    if (rl_spsc_create(64, &ring) != 0) exit(2);
    rl_step_result_t out;
    pthread_t t;
    atomic_store(&race_go, 0); /* the last run's puller was told to stop (-1) */
    pthread_create(&t, NULL, race_puller, NULL);
    unsigned seed = 12345;
    int violations = 0, lifted = 0, refused = 0, after_look = 0;
    for (int r = 0; r < rounds; r++) {
        if (setup == 0) {
            if (rl_freeze_word_state(word_of(e)) != RL_STATE_HALTED) rl_engine_request_freeze(e);
            rl_engine_step(e, ring, 16, &out);
        } else {
            rl_engine_step(e, ring, 16, &out);
            if (rl_freeze_word_state(word_of(e)) != RL_STATE_ACTIVE) {
                (void)rl_engine_apply_control(e, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, 0, 0);
            }
            if (setup == 1) (void)rl_engine_halt_now(e, RL_FREEZE_REASON_EDGE_COLLAPSE, 7, 5 * S);
            if (setup == 3) rl_engine_request_freeze(e);
        }
        drain_records(e, NULL, 0, NULL);
        int64_t seen = (int64_t)rl_engine_freeze_requests(e) + 1;
        seed = seed * 1103515245u + 12345u;
        atomic_store(&race_delay, (seed >> 16) % 400);
        atomic_store(&race_done, 0);
        atomic_store(&race_go, 1);
        int rc = rl_engine_apply_control(e, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, seen, (uint64_t)r + 1);
        while (!atomic_load(&race_done)) {}
        lifted += rc == 0;
        refused += rc == -ECANCELED;
        if (race_count >= (uint64_t)seen) {
            after_look++;
            if (rl_freeze_word_state(race_word) != RL_STATE_HALTED || race_raise == RL_OK) violations++;
        }
        rl_engine_step(e, ring, 16, &out);
        drain_records(e, NULL, 0, NULL);
    }
    atomic_store(&race_go, -1);
    pthread_join(t, NULL);
    int fail = violations != 0 || (setup == 0 && refused == 0);
    printf("%s pull_during_a_bounded_unfreeze (threads, %s): %d rounds, %d lifted, %d refused, %d pulls after the look, "
           "%d returned to an ACTIVE word or let a raising order through\n",
           fail ? "FAIL" : "PASS", race_setups[setup], rounds, lifted, refused, after_look, violations);
    rl_spsc_destroy(ring);
    rl_engine_destroy(e);
    return fail;
}

/* ---- the look after a knock ------------------------------------------------
 * The risk side looks at the halt count only after a knock (or every
 * RL_ENGINE_HALT_LOOK_TICKS ticks), so that its ticks leave the halter's
 * lines alone. A halt is taken in at the next step whether the knock is
 * still set (no runtime), or the runtime took it before serving its lanes,
 * or a lane's knock was taken and looked at just before; and a knock lost
 * outright (cleared by hand here) is made good by the periodic look. */
static int halt_recorded_at_step(rl_engine_t *e, rl_spsc_t *ring, int steps) {
    rl_step_result_t out;
    for (int i = 1; i <= steps; i++) {
        rl_engine_step(e, ring, 16, &out);
        if (drain_records(e, NULL, 0, NULL) > 0) return i;
    }
    return 0;
}
static int case_halt_taken_in_after_its_knock(void) {
    int fail = 0;
    rl_spsc_t *ring;
    if (rl_spsc_create(64, &ring) != 0) exit(2);
    const char *how[4] = {"the knock still set", "the knock taken first (the runtime)",
                          "a lane's knock taken and looked at just before", "the knock lost (cleared by hand)"};
    for (int k = 0; k < 4; k++) {
        rl_engine_t *e = make_engine();
        rl_step_result_t out;
        rl_engine_step(e, ring, 16, &out);
        drain_records(e, NULL, 0, NULL);
        if (k == 2) {
            rl_engine_knock(e);
            rl_engine_take_knock(e);
            rl_engine_step(e, ring, 16, &out); /* looks: nothing */
        }
        uint64_t made = rl_engine_halt_now(e, RL_FREEZE_REASON_EDGE_COLLAPSE, 5, 10 * S);
        if (k == 1 || k == 2) rl_engine_take_knock(e);
        if (k == 3) atomic_store_explicit(&e->lane_doorbell, 0, memory_order_relaxed);
        int at = halt_recorded_at_step(e, ring, 2 * RL_ENGINE_HALT_LOOK_TICKS);
        int requested = book_requested(e);
        int bad = made == 0 || requested || (k < 3 ? at != 1 : at < 1 || at > RL_ENGINE_HALT_LOOK_TICKS);
        fail |= bad;
        printf("%s halt_taken_in_after_its_knock (%s): recorded at step %d (%s), request %s\n", bad ? "FAIL" : "PASS",
               how[k], at, k < 3 ? "1 expected" : "within RL_ENGINE_HALT_LOOK_TICKS",
               requested ? "still in the book" : "cleared");
        rl_engine_destroy(e);
    }
    rl_spsc_destroy(ring);
    return fail;
}

int main(int argc, char **argv) {
    rl_test_hook = hook;
    const char *only = argc > 1 ? argv[1] : NULL;
    int failures = 0;
#define RUN(name, call) \
    if (only == NULL || strcmp(only, name) == 0) failures += (call)
    RUN("collapse_reported_while_transient_then_breaker_lifts", case_collapse_reported_while_transient_then_breaker_lifts());
    RUN("kill_switch_during_breaker_lift", case_kill_switch_during_breaker_lift());
    RUN("edge_halted_flag_trusted", case_edge_halted_flag_trusted());
    RUN("two_halters_mixed_attribution", case_two_halters_mixed_attribution(argc > 2 ? atoi(argv[2]) : 3000));
    RUN("invalid_reason", case_invalid_reason());
    RUN("halt_during_an_unfreeze", case_halt_during_an_unfreeze(0) + case_halt_during_an_unfreeze(1));
    RUN("winner_descheduled_before_its_cause", case_winner_descheduled_before_its_cause());
    RUN("escalation_overtaken_by_a_halt", case_escalation_overtaken_by_a_halt());
    RUN("kill_switch_during_a_restore", case_kill_switch_during_a_restore());
    RUN("unrecordable_fill", case_unrecordable_fill());
    RUN("unfreeze_takes_in_an_unknown_fill_request",
        case_unfreeze_takes_in_an_unknown_fill_request() +
            case_unfreeze_takes_in_an_unknown_fill_request_race(argc > 2 ? atoi(argv[2]) : 1000));
    RUN("unknown_fill_winner_descheduled", case_unknown_fill_winner_descheduled());
    RUN("unknown_fill_api", case_unknown_fill_api());
    RUN("kill_switch_pull_recorded", case_kill_switch_pull_recorded(argc > 2 ? atoi(argv[2]) : 1000));
    RUN("pull_during_a_bounded_unfreeze",
        case_pull_during_a_bounded_unfreeze() +
            case_pull_during_a_bounded_unfreeze_race(argc > 2 ? atoi(argv[2]) : 100000, 0) +
            case_pull_during_a_bounded_unfreeze_race(argc > 2 ? atoi(argv[2]) : 100000, 1) +
            case_pull_during_a_bounded_unfreeze_race(argc > 2 ? atoi(argv[2]) : 100000, 2) +
            case_pull_during_a_bounded_unfreeze_race(argc > 2 ? atoi(argv[2]) : 100000, 3));
    RUN("stale_halter_meets_a_second_mark", case_stale_halter_meets_a_second_mark());
    RUN("pull_over_a_refused_mark_recorded", case_pull_over_a_refused_mark_recorded());
    RUN("paused_pull_recorded_with_its_word", case_paused_pull_recorded_with_its_word());
    RUN("book_unknown_not_renamed_over_a_mark", case_book_unknown_not_renamed_over_a_mark());
    RUN("halt_taken_in_after_its_knock", case_halt_taken_in_after_its_knock());
    printf("%d case(s) failed\n", failures);
    return failures ? 1 : 0;
}
