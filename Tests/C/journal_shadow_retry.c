/*
 * A record the writer retries is applied to its shadow once.
 *
 * The writer applies each record to a shadow engine (what its snapshots are
 * made of) before it encodes it. An accepted order was replayed into the
 * shadow first and only then given a slot among the shadow's open orders;
 * when that slot's table could not grow (ENOMEM), the record stayed in the
 * ring and was retried, and the retry replayed the reservation again. Every
 * later snapshot then held the order's working quantity twice, and a restart
 * from such a snapshot (once the segments it covers are pruned) came back
 * with a book the journal never held.
 *
 * The fault point "journal:open_orders_grow" fails the table's growth (at
 * the first order, and three times at the 569th: 512 open, every tenth
 * canceled), and the snapshot's
 * positions and open orders are compared with those of the same records
 * journaled with no fault.
 *
 *   cc -std=c11 -O1 -g -D_GNU_SOURCE -DRL_TEST_HOOKS -ICSources/RedlineCore/include -ITests/C \
 *      Tests/C/journal_shadow_retry.c CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread -lm
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include "journal_test_support.h"

enum { ORDERS = 600, SYMBOLS = 2 };

static _Atomic int grow_calls, grow_failures;

/* Fail the first growth once and the second three times in a row. */
static int fault(const char *point, int result) {
    if (strcmp(point, "journal:open_orders_grow") != 0) return result;
    int call = atomic_fetch_add_explicit(&grow_calls, 1, memory_order_relaxed);
    if (call == 0 || (call >= 2 && call <= 4)) {
        atomic_fetch_add_explicit(&grow_failures, 1, memory_order_relaxed);
        return -ENOMEM;
    }
    return result;
}

void (*rl_test_hook)(const char *point);
int (*rl_test_fault)(const char *point, int result) = NULL;

typedef struct snapshot_read {
    rl_position_view_t views[SYMBOLS];
    int positions, open_orders;
    uint64_t writer_failures; /* the journal's failed attempts (each retried) */
} snapshot_read_t;

static int visit(void *context, const rl_journal_record_header_t *header, const uint8_t *payload) {
    snapshot_read_t *read = context;
    if (header->type == RL_JREC_POSITION) {
        uint32_t symbol;
        rl_position_view_t view;
        if (rl_journal_decode_position(payload, header->length, &symbol, &view) == 0 && symbol < SYMBOLS) {
            read->views[symbol] = view;
            read->positions++;
        }
    } else if (header->type == RL_JREC_OPEN_ORDER) {
        read->open_orders++;
    }
    return 0;
}

/* Journal two symbols, ORDERS accepted orders across them and a cancel of
 * every tenth, snapshot, and read the snapshot back into *out. 0 or -1. */
static int journal_and_snapshot(const char *dir, snapshot_read_t *out) {
    rl_journal_options_t options;
    rl_journal_t *j = open_small_journal(dir, &options);
    if (j == NULL) return -1;
    uint64_t ticket = 0;
    int rc = rl_journal_append_cold(j, RL_JREC_SYMBOL, "\x00\x00\x00\x00" "ETH", 7, false, &ticket);
    if (rc == 0) rc = rl_journal_append_cold(j, RL_JREC_SYMBOL, "\x01\x00\x00\x00" "BTC", 7, false, &ticket);
    if (rc == 0) rc = rl_journal_wait_cold(j, ticket, 5000);
    CHECK(rc == 0, "%s: symbols journaled: %d", dir, rc);
    for (uint64_t id = 1; id <= ORDERS; id++) {
        rl_event_t e = {0};
        e.type = RL_EVENT_ORDER_ACCEPTED;
        e.side = id % 3 == 0 ? RL_SIDE_SELL : RL_SIDE_BUY;
        e.symbol = (uint32_t)(id % SYMBOLS);
        e.order_id = id;
        e.qty = (int64_t)id * 1000;
        e.price = 100 * 100000000LL;
        push(j, &e);
        if (id % 10 == 0) {
            rl_event_t cancel = e;
            cancel.type = RL_EVENT_CANCEL_ACK;
            push(j, &cancel);
        }
    }
    /* A wait sees the writer's error (ENOMEM) until a retry succeeds: ask again. */
    uint64_t covered = 0;
    rc = -ENOMEM;
    for (int attempt = 0; attempt < 1000 && rc == -ENOMEM; attempt++) {
        rc = rl_journal_snapshot_now(j, 10000, &covered);
        if (rc == -ENOMEM) nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    CHECK(rc == 0, "%s: snapshot: %d", dir, rc);
    rl_journal_stats_t stats;
    rl_journal_read_stats(j, &stats);
    out->writer_failures = stats.failures;
    rl_journal_close(j);
    if (rc != 0) return -1;
    char path[1024];
    snprintf(path, sizeof(path), "%s/snapshot-%020llu.rls", dir, (unsigned long long)covered);
    uint64_t writer_failures = out->writer_failures;
    *out = (snapshot_read_t){0};
    out->writer_failures = writer_failures;
    rc = rl_journal_read_snapshot(path, visit, out, &covered);
    CHECK(rc == 0, "%s: read %s: %d", path, path, rc);
    return rc == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    const char *base = argc > 1 ? argv[1] : "/tmp/rl_journal_shadow_retry";
    char clean_dir[512], faulted_dir[512];
    snprintf(clean_dir, sizeof(clean_dir), "%s-clean", base);
    snprintf(faulted_dir, sizeof(faulted_dir), "%s-faulted", base);
    snapshot_read_t clean = {0}, faulted = {0};
    if (journal_and_snapshot(clean_dir, &clean) != 0) return 1;
    rl_test_fault = fault;
    if (journal_and_snapshot(faulted_dir, &faulted) != 0) return 1;
    rl_test_fault = NULL;
    CHECK(grow_failures == 4, "the table's growth failed %d times, not 4 (the fault never reached the writer)",
          grow_failures);
    CHECK(clean.writer_failures == 0 && faulted.writer_failures == 4,
          "the writer's failed attempts: %llu with no fault, %llu with it (not 0 and 4)",
          (unsigned long long)clean.writer_failures, (unsigned long long)faulted.writer_failures);
    CHECK(clean.positions == SYMBOLS && faulted.positions == SYMBOLS, "positions in the snapshots: %d and %d, not %d",
          clean.positions, faulted.positions, SYMBOLS);
    CHECK(clean.open_orders == ORDERS - ORDERS / 10, "open orders with no fault: %d, not %d", clean.open_orders,
          ORDERS - ORDERS / 10);
    CHECK(faulted.open_orders == clean.open_orders, "open orders after the retries: %d, not %d", faulted.open_orders,
          clean.open_orders);
    for (int s = 0; s < SYMBOLS; s++) {
        const rl_position_view_t *a = &clean.views[s], *b = &faulted.views[s];
        CHECK(a->working_buy > 0 && a->working_sell > 0, "symbol %d: working buy %lld, sell %lld with no fault", s,
              (long long)a->working_buy, (long long)a->working_sell);
        CHECK(memcmp(a, b, sizeof(*a)) == 0,
              "symbol %d after the retries: working buy %lld (not %lld), sell %lld (not %lld), position %lld (not %lld)", s,
              (long long)b->working_buy, (long long)a->working_buy, (long long)b->working_sell,
              (long long)a->working_sell, (long long)b->position, (long long)a->position);
    }
    if (failures == 0) {
        printf("PASS journal_shadow_retry: %d orders, the shadow's growth failed 4 times and each record retried was "
               "applied once (the snapshot equals the one with no fault)\n",
               ORDERS);
    }
    return failures == 0 ? 0 : 1;
}
