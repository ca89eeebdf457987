/*
 * journal_full_disk.c - the journal on a disk that fills and empties, with
 * fallocate and fdatasync failing on demand (the sources are built with
 * -Dfallocate=rl_test_fallocate -Dfdatasync=rl_test_fdatasync). Checks, with
 * the real writer thread:
 *   - the halt is written ahead of the records that cannot be, and is on disk
 *     while the disk is still full;
 *   - the journal error stays set until a whole pass goes through;
 *   - once space returns, everything is written, the halt exactly once;
 *   - afterwards a wait for durability never returns before the record is
 *     on disk (a double count once let it), on a second full disk too;
 *   - on a disk whose syncs fail (EIO), the error never clears while records
 *     wait unsynced, and retries do not write the halt again and again;
 *   - on a device that does not complete a sync, a wait times out and the
 *     writer's phase says it is in a commit, and for how long;
 *   - an engine journaling to a writer whose sync does not complete halts
 *     (journal_failure, ETIMEDOUT) once the commit passes its stall bound,
 *     refuses an unfreeze until the sync returns, and takes one after.
 * Usage: journal_full_disk DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "journal_test_support.h"

static atomic_int disk_full;
static atomic_int disk_failing; /* fdatasync fails with EIO */
static atomic_int disk_stalled; /* a sync does not complete until this is cleared */

static void wait_while_stalled(void) {
    while (atomic_load(&disk_stalled)) usleep(1000);
}

int rl_test_fdatasync(int fd);
int rl_test_fdatasync(int fd) {
    wait_while_stalled();
    if (atomic_load(&disk_failing)) {
        errno = EIO;
        return -1;
    }
    return (int)syscall(SYS_fdatasync, fd);
}

int rl_test_fallocate(int fd, int mode, off_t offset, off_t length);
int rl_test_fallocate(int fd, int mode, off_t offset, off_t length) {
    if (atomic_load(&disk_full)) {
        errno = ENOSPC;
        return -1;
    }
    /* The real one (the name fallocate is this hook's in this build). */
    long rc = syscall(SYS_fallocate, fd, mode, offset, length);
    return rc == 0 ? 0 : -1;
}

/* Built with RL_TEST_HOOKS: the io_uring completions pass through here. */
void (*rl_test_hook)(const char *point);
static int fail_uring_fsync(const char *point, int result) {
    if (strcmp(point, "uring:fsync") == 0) wait_while_stalled(); /* its completion is reaped late */
    return atomic_load(&disk_failing) && strcmp(point, "uring:fsync") == 0 ? -EIO : result;
}
int (*rl_test_fault)(const char *point, int result) = fail_uring_fsync;

static uint64_t failing_syncs(const char *dir, rl_journal_options_t *options, int32_t io_mode, const char *suffix);
static uint64_t stalled_sync(const char *dir, rl_journal_options_t *options, int32_t io_mode, const char *suffix);
static void stalled_engine(const char *dir, rl_journal_options_t *options, int32_t io_mode, const char *suffix);

typedef struct counts { uint64_t records, freezes, last_seq; } counts_t;

static int count_visit(void *context, const rl_journal_record_header_t *header, const uint8_t *payload) {
    (void)payload;
    counts_t *c = context;
    c->records++;
    c->last_seq = header->seq;
    if (header->type == RL_JREC_FREEZE) c->freezes++;
    return 0;
}

static counts_t scan(const char *dir) {
    counts_t c = {0};
    rl_journal_scan_result_t result;
    int rc = rl_journal_scan(dir, 0, false, count_visit, &c, &result);
    CHECK(rc == 0, "scan rc=%d damage=%s", rc, result.damage);
    return c;
}

/* Flush until the disk takes it again (the writer retries every
 * millisecond), for up to about 5 minutes: 0 or the last -errno. */
static int flush_once_the_disk_takes_it(rl_journal_t *j) {
    int rc = -1;
    for (int t = 0; t < 300 && rc != 0; t++) {
        rc = rl_journal_flush(j, 1000);
        if (rc != 0) usleep(10000);
    }
    return rc;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp/rl_journal_full_disk";
    rl_journal_options_t options;
    rl_journal_t *j = open_small_journal(dir, &options);
    if (j == NULL) return 2;
    int rc;
    uint64_t expected = 0; /* records the journal must end up holding */
    for (int i = 0; i < 500; i++, expected++) push_adjust(j);
    CHECK(rl_journal_flush(j, 5000) == 0, "first flush");

    /* The disk fills: the next segment cannot be made. */
    atomic_store(&disk_full, 1);
    for (int i = 0; i < 2000 && rl_journal_error(j) == 0; i++, expected++) {
        push_adjust(j);
        rl_journal_wait_hot(j, 50);
    }
    CHECK(rl_journal_error(j) == -ENOSPC, "the writer reports ENOSPC, got %d", rl_journal_error(j));
    /* What the risk side does next: more records it cannot have written, then the halt behind them. */
    for (int i = 0; i < 5; i++, expected++) push_adjust(j);
    rl_event_t halt = {0};
    halt.type = RL_EVENT_STATE_CHANGE;
    halt.order_id = rl_freeze_pack(RL_STATE_HALTED, RL_FREEZE_REASON_JOURNAL_FAILURE, 1);
    halt.value = ENOSPC;
    push(j, &halt);
    expected++;
    counts_t during = {0};
    for (int t = 0; t < 200 && during.freezes == 0; t++) {
        usleep(10000);
        during = scan(dir);
    }
    CHECK(during.freezes == 1, "the halt is on disk while the disk is full (freezes=%llu)", (unsigned long long)during.freezes);
    CHECK(rl_journal_error(j) == -ENOSPC, "the error stays while records are stuck, got %d", rl_journal_error(j));
    CHECK(rl_journal_wait_hot(j, 100) != 0, "no wait succeeds while records are stuck");

    /* Space returns. */
    atomic_store(&disk_full, 0);
    rc = flush_once_the_disk_takes_it(j);
    CHECK(rc == 0, "flush once space returns: %d", rc);
    CHECK(rl_journal_error(j) == 0, "the error clears");
    counts_t after = scan(dir);
    CHECK(after.records == expected, "every record is on disk: %llu of %llu", (unsigned long long)after.records,
          (unsigned long long)expected);
    CHECK(after.freezes == 1, "the halt once: %llu", (unsigned long long)after.freezes);

    /* A second full disk: no wait may report a record durable before it is. */
    atomic_store(&disk_full, 1);
    int early = 0, refused = 0;
    for (int i = 0; i < 4000 && !refused; i++) {
        push_adjust(j);
        expected++;
        if (rl_journal_wait_hot(j, 200) == 0) {
            if (rl_journal_durable_seq(j) < expected) early++;
        } else {
            refused = 1;
        }
    }
    CHECK(refused, "a wait is refused once the disk is full again");
    CHECK(early == 0, "%d waits returned before their record was durable", early);
    atomic_store(&disk_full, 0);
    rc = flush_once_the_disk_takes_it(j);
    CHECK(rc == 0, "the flush after the second full disk: %d", rc);
    rl_journal_close(j);

    counts_t end = scan(dir);
    CHECK(end.records == expected && end.last_seq == expected, "all %llu records, contiguous (%llu, last %llu)",
          (unsigned long long)expected, (unsigned long long)end.records, (unsigned long long)end.last_seq);

    expected += failing_syncs(dir, &options, RL_JOURNAL_IO_PWRITE, "eio");
    expected += failing_syncs(dir, &options, RL_JOURNAL_IO_URING, "eio-uring");
    expected += stalled_sync(dir, &options, RL_JOURNAL_IO_PWRITE, "stalled");
    expected += stalled_sync(dir, &options, RL_JOURNAL_IO_URING, "stalled-uring");
    stalled_engine(dir, &options, RL_JOURNAL_IO_PWRITE, "stalled-engine");
    stalled_engine(dir, &options, RL_JOURNAL_IO_URING, "stalled-engine-uring");
    printf("journal full and failing disk: %llu records, each halt once, %s\n", (unsigned long long)expected,
           failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}

/* An empty directory for one round, DIR-SUFFIX, in `out`; -1 (counted as a failure) if it cannot be made. */
static int round_dir(const char *dir, const char *suffix, char *out, size_t cap) {
    char command[1024];
    snprintf(out, cap, "%s-%s", dir, suffix);
    snprintf(command, sizeof(command), "rm -rf '%s' && mkdir -p '%s'", out, out);
    if (system(command) == 0) return 0;
    failures++;
    return -1;
}

/* A disk whose syncs fail (EIO), in a journal of its own, with a long
 * group-commit window: passes that add records without syncing must not
 * clear the error; then past a segment boundary, the halt written ahead is
 * written once however often the sync is retried. With io_uring the failing
 * sync is the linked fsync's completion (RL_FAULT "uring:fsync"), with pwrite
 * the fdatasync call. The records it wrote, or 0 where io_uring is refused. */
static uint64_t failing_syncs(const char *dir, rl_journal_options_t *options, int32_t io_mode, const char *suffix) {
    char eio_dir[400];
    if (round_dir(dir, suffix, eio_dir, sizeof(eio_dir)) != 0) return 0;
    options->sync_every_us = 200000;
    options->sync_every_records = 1u << 30;
    options->io_mode = io_mode;
    rl_journal_t *j = NULL;
    int rc = rl_journal_open(eio_dir, options, 1, NULL, 0, -1, &j);
    if (rc == -ENOTSUP && io_mode == RL_JOURNAL_IO_URING) {
        printf("io_uring refused here (%d): the failing-sync round in io_uring mode is skipped\n", rc);
        return 0;
    }
    if (rc == 0) rc = rl_journal_start(j);
    CHECK(rc == 0, "open the %s journal: %d", suffix, rc);
    if (rc != 0) return 0;
    rl_journal_stats_t stats;
    rl_journal_read_stats(j, &stats);
    CHECK(stats.io_mode == io_mode, "the %s journal runs in mode %d, not %d", suffix, stats.io_mode, io_mode);
    rl_event_t halt = {0};
    halt.type = RL_EVENT_STATE_CHANGE;
    uint64_t eio_expected = 0;
    atomic_store(&disk_failing, 1);
    for (int i = 0; i < 10; i++, eio_expected++) push_adjust(j);
    for (int i = 0; i < 1000 && rl_journal_error(j) == 0; i++) usleep(1000);
    CHECK(rl_journal_error(j) == -EIO, "the writer reports EIO, got %d", rl_journal_error(j));
    int cleared = 0;
    for (int i = 0; i < 100; i++) {
        if (i % 10 == 0) {
            push_adjust(j); /* records keep arriving, unsynced */
            eio_expected++;
        }
        if (rl_journal_error(j) == 0) cleared++;
        usleep(1000);
    }
    CHECK(cleared == 0, "the error cleared %d times while syncs failed", cleared);
    for (int i = 0; i < 300; i++, eio_expected++) push_adjust(j); /* past a segment boundary */
    halt.order_id = rl_freeze_pack(RL_STATE_HALTED, RL_FREEZE_REASON_JOURNAL_FAILURE, 2);
    halt.value = EIO;
    push(j, &halt);
    eio_expected++;
    usleep(100000); /* about a hundred retries */
    atomic_store(&disk_failing, 0);
    rc = flush_once_the_disk_takes_it(j);
    CHECK(rc == 0, "the flush once syncs work: %d", rc);
    rl_journal_close(j);
    counts_t eio = scan(eio_dir);
    CHECK(eio.freezes == 1, "the halt once after sync retries: %llu", (unsigned long long)eio.freezes);
    CHECK(eio.records == eio_expected && eio.last_seq == eio_expected, "all %llu records (%llu, last %llu)",
          (unsigned long long)eio_expected, (unsigned long long)eio.records, (unsigned long long)eio.last_seq);
    return eio_expected;
}

/* A device that does not complete a sync: a wait for durability times out
 * (-ETIMEDOUT, never success), and the writer's phase says where it is (in a
 * commit) and since when, so that the caller's message can name the device
 * rather than the writer. Once the sync completes, everything is durable.
 * The records it wrote, or 0 where io_uring is refused. */
static uint64_t stalled_sync(const char *dir, rl_journal_options_t *options, int32_t io_mode, const char *suffix) {
    char stall_dir[400];
    if (round_dir(dir, suffix, stall_dir, sizeof(stall_dir)) != 0) return 0;
    options->sync_every_us = 200;
    options->sync_every_records = 256;
    options->io_mode = io_mode;
    rl_journal_t *j = NULL;
    int rc = rl_journal_open(stall_dir, options, 1, NULL, 0, -1, &j);
    if (rc == -ENOTSUP && io_mode == RL_JOURNAL_IO_URING) {
        printf("io_uring refused here (%d): the stalled-sync round in io_uring mode is skipped\n", rc);
        return 0;
    }
    rl_journal_stats_t stats;
    if (rc == 0) {
        rl_journal_read_stats(j, &stats);
        CHECK(stats.writer_phase == RL_JOURNAL_PHASE_STOPPED, "%s: no writer before start: phase %u", suffix, stats.writer_phase);
        rc = rl_journal_start(j);
    }
    CHECK(rc == 0, "open the %s journal: %d", suffix, rc);
    if (rc != 0) return 0;
    uint64_t written = 0;
    push_adjust(j);
    written++;
    CHECK(rl_journal_flush(j, 5000) == 0, "%s: the first flush", suffix);
    atomic_store(&disk_stalled, 1);
    push_adjust(j);
    written++;
    rc = rl_journal_wait_hot(j, 150);
    CHECK(rc == -ETIMEDOUT, "%s: a wait on a stalled sync times out: %d", suffix, rc);
    rl_journal_read_stats(j, &stats);
    CHECK(stats.writer_phase == RL_JOURNAL_PHASE_COMMITTING && stats.writer_phase_us >= 100000,
          "%s: the writer is seen in its commit (phase %u for %llu us)", suffix, stats.writer_phase,
          (unsigned long long)stats.writer_phase_us);
    CHECK(rl_journal_durable_seq(j) < written, "%s: nothing is durable while the sync is stalled", suffix);
    atomic_store(&disk_stalled, 0);
    rc = rl_journal_flush(j, 5000);
    CHECK(rc == 0, "%s: the flush once the sync completes: %d", suffix, rc);
    CHECK(rl_journal_durable_seq(j) == written, "%s: durable through %llu", suffix, (unsigned long long)written);
    /* The writer publishes durability inside its commit and leaves the phase
     * just after: a flush can return in between. */
    for (int t = 0; t < 1000; t++) {
        rl_journal_read_stats(j, &stats);
        if (stats.writer_phase == RL_JOURNAL_PHASE_TAKING) break;
        usleep(1000);
    }
    CHECK(stats.writer_phase == RL_JOURNAL_PHASE_TAKING, "%s: back to taking records: phase %u", suffix, stats.writer_phase);
    rl_journal_close(j);
    return written;
}

/* The engine's side of a stalled sync (helper-34: a frozen filesystem let an
 * unfreeze through with nothing durable). A writer whose commit stays in the
 * kernel past options->stall_halt_ms halts trading with journal_failure
 * (ETIMEDOUT) at the engine's next look, and an unfreeze is refused with
 * -RL_JOURNAL_STALLED until the sync returns; then an operator's unfreeze lifts it.
 * Before the bound, the engine trades on (a slow sync is not a failure). */
static void stalled_engine(const char *dir, rl_journal_options_t *options, int32_t io_mode, const char *suffix) {
    char stall_dir[400];
    if (round_dir(dir, suffix, stall_dir, sizeof(stall_dir)) != 0) return;
    options->sync_every_us = 200;
    options->sync_every_records = 256;
    options->io_mode = io_mode;
    options->stall_halt_ms = 1000; /* long enough that a slow host never reaches it before the check that it has not */
    options->hot_ring_capacity = 1024; /* small: the flood of marks below fills it */
    options->max_commit_records = 256;
    rl_journal_t *j = NULL;
    int rc = rl_journal_open(stall_dir, options, 1, NULL, 0, -1, &j);
    options->stall_halt_ms = 0;
    options->hot_ring_capacity = 0;
    options->max_commit_records = 0;
    if (rc == -ENOTSUP && io_mode == RL_JOURNAL_IO_URING) {
        printf("io_uring refused here (%d): the stalled-engine round in io_uring mode is skipped\n", rc);
        return;
    }
    if (rc == 0) rc = rl_journal_start(j);
    CHECK(rc == 0, "open the %s journal: %d", suffix, rc);
    if (rc != 0) return;
    rl_engine_config_t config = {0};
    config.symbol_capacity = 4;
    config.default_symbol_limit = 1000000 * RL_FP_SCALE;
    config.max_total = 1000000 * RL_FP_SCALE;
    config.edge_freeze_threshold_bps = 100 * RL_FP_SCALE;
    rl_engine_t *e = NULL;
    rl_spsc_t *input = NULL;
    rc = rl_engine_create(&config, &e);
    if (rc == 0) rc = rl_engine_add_symbol(e, "BTC", 0) < 0 ? -EINVAL : 0;
    if (rc == 0) rc = rl_spsc_create(64, &input);
    CHECK(rc == 0, "%s: engine and ring: %d", suffix, rc);
    if (rc != 0) return;
    rl_engine_attach_journal_writer(e, j);
    rl_step_result_t out;
    uint64_t word = 0;
    /* Steps enough for the engine to look (it looks every RL_ENGINE_STALL_LOOK_STEPS). */
#define STEP_A_WHILE() for (int k = 0; k < 2 * RL_ENGINE_STALL_LOOK_STEPS; k++) rl_engine_step(e, input, 16, &out)
    STEP_A_WHILE();
    CHECK(rl_journal_flush(j, 5000) == 0, "%s: the first flush", suffix);

    atomic_store(&disk_stalled, 1);
    push_adjust(j); /* a commit that will not complete */
    rl_journal_stats_t stats;
    for (int t = 0; t < 500; t++) {
        rl_journal_read_stats(j, &stats);
        if (stats.writer_phase == RL_JOURNAL_PHASE_COMMITTING) break;
        usleep(1000);
    }
    CHECK(stats.writer_phase == RL_JOURNAL_PHASE_COMMITTING, "%s: the writer is in its commit: phase %u", suffix,
          stats.writer_phase);
    STEP_A_WHILE();
    word = rl_freeze_load(rl_engine_freeze(e));
    CHECK(rl_freeze_word_state(word) == RL_STATE_ACTIVE && rl_journal_stalled(j) == 0,
          "%s: a sync still within its bound halts nothing (state %u)", suffix, (unsigned)rl_freeze_word_state(word));
    /* The ring nearly full, less room than an event needs, as strategies'
     * lost heartbeats during a stall leave it (helper-36: the halt then
     * waited for room the stuck writer never gave back). */
    rl_spsc_t *hot = rl_journal_hot_ring(j);
    while (rl_spsc_writable(hot, 3) > 2) {
        rl_event_t adjust = {0};
        adjust.type = RL_EVENT_POSITION_ADJUST;
        adjust.qty = 1000;
        adjust.price = 100 * RL_FP_SCALE;
        rl_spsc_push(hot, &adjust);
    }
    usleep(1100 * 1000); /* past the 1 s bound */
    CHECK(rl_journal_stalled(j) == -RL_JOURNAL_STALLED, "%s: the writer reads as stalled: %d", suffix, rl_journal_stalled(j));
    STEP_A_WHILE();
    word = rl_freeze_load(rl_engine_freeze(e));
    CHECK(rl_freeze_word_state(word) == RL_STATE_HALTED && rl_freeze_word_reason(word) == RL_FREEZE_REASON_JOURNAL_FAILURE,
          "%s: a stalled commit halts trading for journal_failure (state %u reason %u)", suffix,
          (unsigned)rl_freeze_word_state(word), (unsigned)rl_freeze_word_reason(word));
    /* Market data goes on through the stall, far more than the writer's ring
     * holds (helper-35: a stall taken as a failure dropped it, and the hole
     * kept trading halted until a restart). Backpressure holds it instead. */
    uint64_t marks_sent = 0;
    for (int round = 0; round < 200; round++) {
        rl_event_t mark = {0};
        mark.type = RL_EVENT_MARK_PRICE;
        mark.symbol = 0;
        mark.price = (40000 + round % 7) * RL_FP_SCALE;
        while (rl_spsc_push(input, &mark) == RL_OK) marks_sent++;
        rl_engine_step(e, input, 64, &out);
    }
    CHECK(rl_engine_journal_unrecorded(e) == 0, "%s: nothing goes unrecorded while the commit is stalled: %llu", suffix,
          (unsigned long long)rl_engine_journal_unrecorded(e));
    CHECK(rl_spsc_readable(input, UINT64_MAX) > 0, "%s: the marks wait (backpressure), %llu sent", suffix,
          (unsigned long long)marks_sent);
    rc = rl_engine_apply_control(e, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, 0, 1);
    word = rl_freeze_load(rl_engine_freeze(e));
    CHECK(rc == -RL_JOURNAL_STALLED && rl_freeze_word_state(word) == RL_STATE_HALTED,
          "%s: an unfreeze while the commit is stuck is refused with -RL_JOURNAL_STALLED: %d (state %u)", suffix, rc,
          (unsigned)rl_freeze_word_state(word));

    atomic_store(&disk_stalled, 0);
    rc = rl_journal_flush(j, 5000);
    CHECK(rc == 0, "%s: the flush once the sync returns: %d", suffix, rc);
    /* The commit publishes durability just before it leaves its phase. */
    for (int t = 0; t < 1000 && rl_journal_stalled(j) != 0; t++) usleep(1000);
    CHECK(rl_journal_stalled(j) == 0, "%s: no longer stalled", suffix);
    for (int t = 0; t < 5000 && rl_spsc_readable(input, UINT64_MAX) > 0; t++) {
        rl_engine_step(e, input, 64, &out);
        usleep(100);
    }
    CHECK(rl_spsc_readable(input, UINT64_MAX) == 0 && rl_engine_journal_unrecorded(e) == 0,
          "%s: the waiting marks are applied and journaled once it returns (%llu unrecorded)", suffix,
          (unsigned long long)rl_engine_journal_unrecorded(e));
    STEP_A_WHILE();
    word = rl_freeze_load(rl_engine_freeze(e));
    CHECK(rl_freeze_word_state(word) == RL_STATE_HALTED, "%s: the halt stays until an operator lifts it", suffix);
    rc = rl_engine_apply_control(e, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, 0, 2);
    word = rl_freeze_load(rl_engine_freeze(e));
    CHECK(rc == 0 && rl_freeze_word_state(word) == RL_STATE_ACTIVE, "%s: then an unfreeze lifts it: %d (state %u)",
          suffix, rc, (unsigned)rl_freeze_word_state(word));
    STEP_A_WHILE();
    CHECK(rl_journal_flush(j, 5000) == 0, "%s: the halt and the lift are durable", suffix);
#undef STEP_A_WHILE
    rl_engine_attach_journal_writer(e, NULL);
    rl_journal_close(j);
    counts_t on_disk = scan(stall_dir);
    CHECK(on_disk.freezes >= 1, "%s: the halt is in the journal (%llu state records)", suffix,
          (unsigned long long)on_disk.freezes);
    rl_spsc_destroy(input);
    rl_engine_destroy(e);
}
