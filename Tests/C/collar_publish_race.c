/*
 * Description: a publish of the per-order rules while volatility scaling has
 * narrowed a collar. The collar configured is 100 bps; a calm market's scale
 * of 2 puts 50 bps in force. A checker thread buys at 100.75 (inside 100 bps,
 * outside 50) as fast as it can while the main thread republishes the same
 * rules: every publish must put the scaled collar in force in the same move,
 * so no check ever meets the configured one. (Found by a review: the publish
 * wrote the configured collar and scaled it after, and 1.7 M of 9 M checks
 * passed.) Built and run by scripts/test.sh. Exit: 0 pass, 1 fail.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "RedlineCore.h"

#define S RL_FP_SCALE

static rl_engine_t *e;
static _Atomic(int) stop;
static _Atomic(unsigned long) accepted, checks;

static void *checker(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        /* 100.75: outside the 50 bps collar in force, inside the configured 100 bps. */
        rl_result_t r = rl_engine_reserve(e, 0, RL_SIDE_BUY, S / 1000, 10075 * S / 100);
        atomic_fetch_add(&checks, 1);
        if (r == RL_OK) atomic_fetch_add(&accepted, 1);
    }
    return NULL;
}

int main(void) {
    rl_engine_config_t c = {0};
    c.symbol_capacity = 4;
    c.default_symbol_limit = 1000000 * S;
    c.max_total = 4000000 * S;
    c.edge_freeze_threshold_bps = -RL_FP_MAX_LIMIT;
    c.manual_clock = 1;
    rl_engine_create(&c, &e);
    rl_engine_add_symbol(e, "BTC", 0);
    rl_spsc_t *ring;
    rl_spsc_create(64, &ring);
    rl_order_rules_t rules = {0};
    rules.collar_bps = 100 * S;
    rl_engine_set_order_rules(e, 0, &rules);
    rl_event_t ev = {0};
    ev.type = RL_EVENT_MARK_PRICE; ev.price = 100 * S;
    rl_spsc_push(ring, &ev);
    rl_step_result_t sr;
    rl_engine_step(e, ring, 64, &sr);
    /* reference 40, floor 0.25, cap 2; estimate 20 -> scale 2 -> collar 50 bps */
    memset(&ev, 0, sizeof ev);
    ev.type = RL_EVENT_CONTROL; ev.side = RL_CONTROL_SET_VOLATILITY_SCALING; ev.symbol = RL_SYMBOL_NONE;
    ev.value = 40 * S; ev.qty = S / 4; ev.price = 2 * S;
    rl_spsc_push(ring, &ev);
    memset(&ev, 0, sizeof ev);
    ev.type = RL_EVENT_VOLATILITY; ev.symbol = 0; ev.value = 20 * S;
    rl_spsc_push(ring, &ev);
    rl_engine_step(e, ring, 64, &sr);
    printf("scale %.2f; buy @100.75 at rest: %d (24 = PRICE_COLLAR)\n", (double)rl_engine_volatility_scale(e, 0) / S,
           (int)rl_engine_reserve(e, 0, RL_SIDE_BUY, S / 1000, 10075 * S / 100));
    pthread_t t;
    pthread_create(&t, NULL, checker, NULL);
    /* The operator republishes the same rules (or any symbol's rules). */
    while (atomic_load(&checks) < 1000) {}
    int bad = 0;
    for (int i = 0; i < 300000; i++) bad |= rl_engine_set_order_rules(e, 0, &rules);
    printf("publish rc %d\n", bad);
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    printf("collar_publish_race: %lu checks during 300000 publishes of unchanged rules: %lu accepted at 100.75 (expect 0)\n",
           (unsigned long)checks, (unsigned long)accepted);
    rl_engine_destroy(e);
    return accepted == 0 && checks > 1000 && bad == 0 ? 0 : 1;
}
