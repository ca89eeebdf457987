/*
 * Each io_uring commit counts only its own two completions (write, fsync).
 *
 * Found by helper-46: a commit read the next two completions blindly. When
 * a wait for them failed (io_uring_wait_cqe: EINTR from a signal), they
 * stayed in the ring, and from then on every commit published durability on
 * the commit before's fsync, its own still in flight. With O_DIRECT the
 * misread results also sent a batch through the page cache while its direct
 * write was in flight, and the journal failed for good (EIO).
 *
 * Round 1: one wait cut short with EINTR (as a signal would): it is waited
 * through, nothing is dropped, every record is durable, no error.
 * Round 2: one wait that fails outright: that commit fails (the error is
 * seen), the next commit reaps and drops its two completions first, and
 * every record is durable after, the error cleared.
 * Each round in O_DIRECT commits and in buffered ones.
 *
 *   cc -std=c11 -O1 -g -D_GNU_SOURCE -DRL_TEST_HOOKS -ICSources/RedlineCore/include \
 *      Tests/C/journal_uring_completions.c CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread -lm
 */
#include <errno.h>
#include <string.h>
#include "journal_test_support.h"

void (*rl_test_hook)(const char *point);
static _Atomic int stale;     /* completions of an earlier commit, dropped */
static _Atomic int wait_fault; /* the errno the next wait returns (0: none) */
static _Atomic int waits;

static void hook(const char *point) {
    if (strcmp(point, "journal:uring_stale_cqe") == 0) stale++;
}

static int fault(const char *point, int result) {
    if (strcmp(point, "uring:wait") != 0) return result;
    waits++;
    int inject = atomic_exchange(&wait_fault, 0);
    return inject != 0 ? -inject : result;
}
int (*rl_test_fault)(const char *point, int result) = fault;

static void round_trip(const char *dir, bool buffered, int injected) {
    char command[1024];
    snprintf(command, sizeof(command), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(command) != 0) {
        failures++;
        return;
    }
    rl_journal_options_t options = {0};
    options.segment_bytes = 1 << 20;
    options.io_mode = RL_JOURNAL_IO_URING;
    options.cpu = -1;
    options.buffered_writes = buffered;
    rl_journal_t *j = NULL;
    int rc = rl_journal_open(dir, &options, 1, NULL, 0, -1, &j);
    if (rc == 0) rc = rl_journal_start(j);
    if (rc != 0) {
        printf("SKIP journal_uring_completions: io_uring journal cannot open here (%d)\n", rc);
        return;
    }
    const char *mode = buffered ? "buffered" : "direct";
    for (int i = 0; i < 5; i++) {
        push_adjust(j);
        rc = rl_journal_wait_hot(j, 5000);
        CHECK(rc == 0, "%s: warm-up commit %d: %d", mode, i, rc);
    }
    stale = 0;
    int waits_before = waits;
    wait_fault = injected;
    push_adjust(j);
    rc = rl_journal_wait_hot(j, 5000);
    if (injected == EINTR) {
        CHECK(rc == 0, "%s: a wait cut short by EINTR is waited through: %d", mode, rc);
    } else {
        /* The commit failed; the writer retries it. The wait either saw the
         * error or returned once the retry made it durable. */
        CHECK(rc == 0 || rc == -injected, "%s: the failed wait's commit: %d", mode, rc);
        if (rc != 0) rc = rl_journal_wait_hot(j, 5000);
        CHECK(rc == 0 || rc == -injected, "%s: retried: %d", mode, rc);
    }
    CHECK(waits > waits_before && wait_fault == 0, "%s: the fault was injected", mode);
    for (int i = 0; i < 20; i++) {
        push_adjust(j);
        struct timespec pause = {0, 2000000};
        for (int tries = 0; tries < 2500 && (rc = rl_journal_wait_hot(j, 2)) != 0; tries++) nanosleep(&pause, NULL);
        CHECK(rc == 0, "%s: commit %d after the fault: %d", mode, i, rc);
    }
    rl_journal_stats_t stats;
    rl_journal_read_stats(j, &stats);
    CHECK(stats.last_error == 0, "%s: the journal works after the fault: error %d", mode, stats.last_error);
    CHECK(stats.durable_seq == 26, "%s: all 26 records durable: %llu", mode, (unsigned long long)stats.durable_seq);
    if (injected == EINTR) {
        CHECK(stale == 0, "%s: EINTR leaves no completion behind: %d dropped", mode, (int)stale);
    } else {
        CHECK(stale == 2, "%s: the failed commit's write and fsync are reaped and dropped: %d", mode, (int)stale);
    }
    rl_journal_close(j);
}

int main(int argc, char **argv) {
    const char *base = argc > 1 ? argv[1] : "/tmp/rl_journal_uring_completions";
    char dir[512];
    rl_test_hook = hook;
    for (int buffered = 0; buffered < 2; buffered++) {
        snprintf(dir, sizeof(dir), "%s-%d-eintr", base, buffered);
        round_trip(dir, buffered, EINTR);
        snprintf(dir, sizeof(dir), "%s-%d-eio", base, buffered);
        round_trip(dir, buffered, EIO);
    }
    if (failures == 0) printf("PASS journal_uring_completions: each commit counted its own completions, direct and buffered\n");
    return failures == 0 ? 0 : 1;
}
