/*
 * A cold record's ticket is the one it was queued with, even when the writer
 * writes, syncs and frees the record before rl_journal_append_cold returns.
 *
 * Found by `redline loadtest --journal` failing at start, once: "journal
 * sync (not durable within 10.0 seconds ... durable through seq 4 of 4)".
 * rl_journal_append_cold read the ticket back from the record after
 * unlocking the queue; the writer had taken, written and freed it by then,
 * and glibc's free puts its tcache key where the ticket was, so the caller
 * waited for a ticket no record would ever carry. A ticket read low instead
 * would have let a caller return before its record was durable.
 *
 * The hook at "journal:cold_queued" (just after the unlock) holds the
 * appender until its record is durable, which the writer frees first: the
 * widest form of the race, every time.
 *
 *   cc -std=c11 -O1 -g -D_GNU_SOURCE -DRL_TEST_HOOKS -ICSources/RedlineCore/include \
 *      Tests/C/journal_cold_ticket.c CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread -lm
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include "journal_test_support.h"

void (*rl_test_hook)(const char *point);

static rl_journal_t *journal;
static uint64_t expected_seq; /* the sequence the record being appended gets */
static int held;              /* appends the hook held until durable */

static void hold_until_durable(const char *point) {
    if (strcmp(point, "journal:cold_queued") != 0) return;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (rl_journal_durable_seq(journal) < expected_seq) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 5) {
            printf("FAIL: record %llu not durable within 5 s\n", (unsigned long long)expected_seq);
            failures++;
            return;
        }
        sched_yield();
    }
    held++;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp/rl_journal_cold_ticket";
    rl_journal_options_t options;
    journal = open_small_journal(dir, &options);
    if (journal == NULL) return 1;
    rl_test_hook = hold_until_durable;
    const int appends = 64;
    for (int i = 1; i <= appends; i++) {
        char payload[64];
        int length = snprintf(payload, sizeof(payload), "{\"operator\":\"test\",\"n\":%d}", i);
        expected_seq = (uint64_t)i;
        uint64_t ticket = 0;
        int rc = rl_journal_append_cold(journal, RL_JREC_OPERATOR, payload, (uint32_t)length, true, &ticket);
        CHECK(rc == 0, "append %d: %d", i, rc);
        CHECK(ticket == (uint64_t)i, "append %d: ticket %llu, not the %d it was queued with", i,
              (unsigned long long)ticket, i);
        /* A wrong ticket waits out its timeout (too high) or returns before
         * the record is durable (too low); the right one returns at once. */
        rc = rl_journal_wait_cold(journal, ticket, 1000);
        CHECK(rc == 0, "append %d: wait for its ticket: %d", i, rc);
        if (failures > 3) break;
    }
    rl_test_hook = NULL;
    CHECK(held == appends, "the hook held %d of %d appends until durable", held, appends);
    /* A cold record the writer could not apply is refused at once: queued,
     * it stayed at the head of the queue, retried for ever, and nothing
     * behind it was written again (helper-46). */
    uint64_t ticket = 0;
    char name[] = "\x07\x00\x00\x00";
    struct { uint16_t type; const void *payload; uint32_t length; const char *what; } bad[] = {
        {RL_JREC_OPERATOR, "", 0, "an empty operator record"},
        {RL_JREC_SYMBOL, name, 4, "a symbol record without a name"},
        {RL_JREC_SYMBOL, "\x07\x00\x00\x00" "BAD NAME", 12, "a symbol name no registry takes (a space)"},
        {RL_JREC_SYMBOL, "\x00\x10\x00\x00" "ETH", 7, "a symbol id at the shadow's capacity (4096, the default)"},
        {RL_JREC_FREEZE, name, 4, "a freeze shorter than its word"},
        {RL_JREC_EVENT, name, 4, "an event of the wrong size"},
        {999, name, 4, "an unknown type"},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        int rc = rl_journal_append_cold(journal, bad[k].type, bad[k].payload, bad[k].length, true, &ticket);
        CHECK(rc == -EINVAL, "%s refused with EINVAL: %d", bad[k].what, rc);
    }
    /* A position is a snapshot's record: appended, the shadow refused one
     * for a symbol it did not have, or with a view it could not take. */
    rl_journal_position_payload_t position = {0};
    position.symbol = 0;
    position.view.position = 3;
    int rc = rl_journal_append_cold(journal, RL_JREC_POSITION, &position, sizeof(position), false, &ticket);
    CHECK(rc == -EINVAL, "a position record (snapshots only) refused with EINVAL: %d", rc);
    /* Opened with symbol_capacity 0, which means the default: a symbol id
     * below it is taken (0 taken literally would refuse every one). */
    rc = rl_journal_append_cold(journal, RL_JREC_SYMBOL, "\x00\x00\x00\x00" "ETH", 7, false, &ticket);
    CHECK(rc == 0, "a symbol with id 0 under a default capacity: %d", rc);
    const char good[] = "{\"operator\":\"after\"}";
    rc = rl_journal_append_cold(journal, RL_JREC_OPERATOR, good, (uint32_t)strlen(good), true, &ticket);
    CHECK(rc == 0 && ticket == (uint64_t)appends + 2, "a good record after them: %d, ticket %llu", rc,
          (unsigned long long)ticket);
    rc = rl_journal_wait_cold(journal, ticket, 5000);
    CHECK(rc == 0, "and it is durable: %d", rc);
    rl_journal_stats_t stats;
    rl_journal_read_stats(journal, &stats);
    CHECK(stats.durable_seq == (uint64_t)appends + 2, "durable through %llu, not %d", (unsigned long long)stats.durable_seq,
          appends + 2);
    rl_journal_close(journal);
    if (failures == 0) {
        printf("PASS journal_cold_ticket: %d tickets right although each record was freed first; malformed records refused\n",
               appends);
    }
    return failures == 0 ? 0 : 1;
}
