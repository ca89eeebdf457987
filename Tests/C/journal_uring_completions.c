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
 * Round 3 (helper-47): a submit the kernel takes only half of (the write,
 * not the fsync, as when it cannot allocate the second request): once the
 * commit waited for ever for an fsync never submitted. Now what was not
 * taken becomes a NOP, the commit fails once everything owed is back, and
 * the retry makes every record durable.
 * Round 4 (helper-47): a submit refused outright: the two SQEs stayed
 * queued, pointing at the batch buffer, and the next commit submitted them
 * after the buffer had grown (the old one freed): with O_DIRECT a stale
 * write from freed memory over durable records, then synced. Now both
 * become NOPs before anything else happens.
 * Each round in O_DIRECT commits and in buffered ones, and the journal is
 * scanned after: every record there, no damage.
 * Round 5 (helper-50): a ring that never gives its completions back (every
 * wait fails): the commit's settle gives up after
 * RL_JOURNAL_URING_SETTLE_TRIES (about 2 s) and the journal fails closed.
 * Its write may still land in the segment whenever the kernel gets to it, so
 * once stopped the journal keeps its lock: another open is refused, where it
 * was admitted and could append where that write then lands.
 *
 *   cc -std=c11 -O1 -g -D_GNU_SOURCE -DRL_TEST_HOOKS -ICSources/RedlineCore/include \
 *      -Wl,--wrap=io_uring_submit_and_wait \
 *      Tests/C/journal_uring_completions.c CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread -lm
 */
#include <errno.h>
#include <liburing.h>
#include <string.h>
#include "journal_test_support.h"

/* The kernel's answer to a submit, made short or refused on demand. */
enum { SUBMIT_REAL, SUBMIT_HALF, SUBMIT_REFUSED };
static _Atomic int submit_fault;
int __real_io_uring_submit_and_wait(struct io_uring *ring, unsigned wait_nr);
int __wrap_io_uring_submit_and_wait(struct io_uring *ring, unsigned wait_nr) {
    switch (atomic_exchange(&submit_fault, SUBMIT_REAL)) {
    case SUBMIT_HALF: {
        ring->sq.sqe_tail--; /* the fsync stays queued, not taken */
        int taken = io_uring_submit(ring);
        ring->sq.sqe_tail++;
        return taken;
    }
    case SUBMIT_REFUSED: return -EAGAIN; /* nothing taken */
    default: return __real_io_uring_submit_and_wait(ring, wait_nr);
    }
}

void (*rl_test_hook)(const char *point);
static _Atomic int stale;     /* completions of an earlier commit, dropped */
static _Atomic int wait_fault; /* the errno the next wait returns (0: none) */
static _Atomic int waits;
static _Atomic int wait_sticky; /* the errno every wait returns while set (0: none) */

static void hook(const char *point) {
    if (strcmp(point, "journal:uring_stale_cqe") == 0) stale++;
}

static int fault(const char *point, int result) {
    if (strcmp(point, "uring:wait") != 0) return result;
    waits++;
    if (wait_sticky != 0) return -wait_sticky;
    int inject = atomic_exchange(&wait_fault, 0);
    return inject != 0 ? -inject : result;
}
int (*rl_test_fault)(const char *point, int result) = fault;

static uint64_t records_on_disk(const char *dir, bool *damaged) {
    rl_journal_scan_result_t scan;
    memset(&scan, 0, sizeof(scan));
    int rc = rl_journal_scan(dir, 0, false, NULL, NULL, &scan);
    *damaged = rc != 0 || scan.corrupt;
    return scan.last_seq;
}

/* A new io_uring journal in an empty `dir`, started; NULL where io_uring
 * cannot run (skipped) or the directory cannot be made (a failure). */
static rl_journal_t *open_fresh(const char *dir, rl_journal_options_t *options, bool buffered) {
    char command[1200]; /* two paths of up to 511 bytes */
    snprintf(command, sizeof(command), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(command) != 0) {
        failures++;
        return NULL;
    }
    memset(options, 0, sizeof(*options));
    options->segment_bytes = 1 << 20;
    options->io_mode = RL_JOURNAL_IO_URING;
    options->cpu = -1;
    options->buffered_writes = buffered;
    rl_journal_t *j = NULL;
    int rc = rl_journal_open(dir, options, 1, NULL, 0, -1, &j);
    if (rc == 0) rc = rl_journal_start(j);
    if (rc != 0) {
        printf("SKIP journal_uring_completions: io_uring journal cannot open here (%d)\n", rc);
        if (j != NULL) rl_journal_close(j);
        return NULL;
    }
    return j;
}

/* injected: an errno for a wait, or -SUBMIT_HALF / -SUBMIT_REFUSED for the submit. */
static void round_trip(const char *dir, bool buffered, int injected) {
    rl_journal_options_t options;
    rl_journal_t *j = open_fresh(dir, &options, buffered);
    if (j == NULL) return;
    int rc;
    const char *mode = buffered ? "buffered" : "direct";
    for (int i = 0; i < 5; i++) {
        push_adjust(j);
        rc = rl_journal_wait_hot(j, 5000);
        CHECK(rc == 0, "%s: warm-up commit %d: %d", mode, i, rc);
    }
    stale = 0;
    int waits_before = waits;
    if (injected < 0) {
        /* A big cold record rides with the failed commit: the retry grows the buffer. */
        static char big[60000];
        memset(big, 'x', sizeof(big));
        big[0] = '{';
        big[sizeof(big) - 1] = '}';
        uint64_t ticket;
        submit_fault = -injected;
        push_adjust(j);
        CHECK(rl_journal_append_cold(j, RL_JREC_OPERATOR, big, sizeof(big), false, &ticket) == 0, "big record");
        /* That commit fails (EAGAIN: the journal's error until a retry
         * syncs everything); the writer retries it within milliseconds. */
        struct timespec pause = {0, 2000000};
        for (int tries = 0; tries < 2500 && (rc = rl_journal_wait_cold(j, ticket, 2)) != 0; tries++) {
            CHECK(rc == -EAGAIN || rc == -ETIMEDOUT, "%s: the failed commit's error: %d", mode, rc);
            nanosleep(&pause, NULL);
        }
        CHECK(rc == 0, "%s: retried, durable: %d", mode, rc);
        CHECK(submit_fault == SUBMIT_REAL, "the submit fault was injected");
    } else {
        wait_fault = injected;
    }
    push_adjust(j);
    rc = rl_journal_wait_hot(j, 5000);
    if (injected < 0) {
        CHECK(rc == 0, "%s: the next commit: %d", mode, rc);
    } else if (injected == EINTR) {
        CHECK(rc == 0, "%s: a wait cut short by EINTR is waited through: %d", mode, rc);
    } else {
        /* The commit failed; the writer retries it. The wait either saw the
         * error or returned once the retry made it durable. */
        CHECK(rc == 0 || rc == -injected, "%s: the failed wait's commit: %d", mode, rc);
        if (rc != 0) rc = rl_journal_wait_hot(j, 5000);
        CHECK(rc == 0 || rc == -injected, "%s: retried: %d", mode, rc);
    }
    if (injected > 0) CHECK(waits > waits_before && wait_fault == 0, "%s: the fault was injected", mode);
    for (int i = 0; i < 20; i++) {
        push_adjust(j);
        struct timespec pause = {0, 2000000};
        for (int tries = 0; tries < 2500 && (rc = rl_journal_wait_hot(j, 2)) != 0; tries++) nanosleep(&pause, NULL);
        CHECK(rc == 0, "%s: commit %d after the fault: %d", mode, i, rc);
    }
    rl_journal_stats_t stats;
    rl_journal_read_stats(j, &stats);
    CHECK(stats.last_error == 0, "%s: the journal works after the fault: error %d", mode, stats.last_error);
    uint64_t expected = injected < 0 ? 28 : 26;
    CHECK(stats.durable_seq == expected, "%s: all %llu records durable: %llu", mode, (unsigned long long)expected,
          (unsigned long long)stats.durable_seq);
    if (injected == EINTR) {
        CHECK(stale == 0, "%s: EINTR leaves no completion behind: %d dropped", mode, (int)stale);
    } else {
        /* EIO: the write and fsync; half: the write and the NOP; refused: two NOPs. */
        CHECK(stale == 2, "%s: the failed commit's two completions are reaped and dropped: %d", mode, (int)stale);
    }
    rl_journal_close(j);
    bool damaged = false;
    uint64_t last = records_on_disk(dir, &damaged);
    CHECK(!damaged && last == expected, "%s: the journal on disk holds every record, undamaged: last %llu%s", mode,
          (unsigned long long)last, damaged ? ", damaged" : "");
}

static void never_settles(const char *dir) {
    rl_journal_options_t options;
    rl_journal_t *j = open_fresh(dir, &options, false);
    if (j == NULL) return;
    int rc;
    push_adjust(j);
    CHECK(rl_journal_wait_hot(j, 5000) == 0, "never settles: the warm-up commit");
    wait_sticky = EIO;
    push_adjust(j);
    rl_journal_stats_t stats;
    struct timespec pause = {0, 10000000};
    for (int tries = 0; tries < 1000; tries++) { /* 10 s: the settle gives up after about 2 */
        rl_journal_read_stats(j, &stats);
        if (stats.last_error != 0) break;
        nanosleep(&pause, NULL);
    }
    CHECK(stats.last_error == -EIO, "never settles: the journal fails closed with EIO: %d", stats.last_error);
    rl_journal_stop(j);
    rl_journal_t *again = NULL;
    rc = rl_journal_open(dir, &options, 1, NULL, 0, -1, &again);
    CHECK(rc != 0, "never settles: a journal whose ring may still write into it stays locked (open gave %d)", rc);
    if (rc == 0) rl_journal_close(again);
    wait_sticky = 0;
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
        snprintf(dir, sizeof(dir), "%s-%d-half", base, buffered);
        round_trip(dir, buffered, -SUBMIT_HALF);
        snprintf(dir, sizeof(dir), "%s-%d-refused", base, buffered);
        round_trip(dir, buffered, -SUBMIT_REFUSED);
    }
    snprintf(dir, sizeof(dir), "%s-never-settles", base);
    never_settles(dir);
    if (failures == 0) printf("PASS journal_uring_completions: each commit counted its own completions, direct and buffered\n");
    return failures == 0 ? 0 : 1;
}
