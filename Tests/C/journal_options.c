/* rl_journal_open's option checks, and where the writer runs. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "journal_test_support.h"

static rl_journal_options_t base(void) {
    rl_journal_options_t o = {0};
    o.io_mode = RL_JOURNAL_IO_PWRITE;
    o.cpu = -1;
    return o;
}

static void fresh(const char *dir) {
    char command[1024];
    snprintf(command, sizeof(command), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(command) != 0) failures++;
}

/* Open, push n adjusts, flush, and return the durable record count (or -rc). */
static long long run(const char *dir, rl_journal_options_t o, int n) {
    fresh(dir);
    rl_journal_t *j = NULL;
    int rc = rl_journal_open(dir, &o, 1, NULL, 0, -1, &j);
    if (rc == 0) rc = rl_journal_start(j);
    if (rc != 0) return rc;
    for (int i = 0; i < n; i++) push_adjust(j);
    rc = rl_journal_flush(j, 10000);
    rl_journal_stats_t s;
    rl_journal_read_stats(j, &s);
    rl_journal_close(j);
    return rc != 0 ? rc : (long long)s.records;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp/rl_journal_options";
    fresh(dir);
    /* 1. A lock the caller handed over is released by each refusal. */
    rl_journal_options_t bad[6];
    for (int k = 0; k < 6; k++) bad[k] = base();
    bad[0].cpu = -2;
    bad[1].segment_bytes = 4095;
    bad[2].max_commit_records = 1025; bad[2].hot_ring_capacity = 1024;
    bad[3].realtime_priority = -1;
    bad[4].io_mode = 3;
    bad[5].cpu = 1 << 20;
    for (int k = 0; k < 6; k++) {
        int lock = rl_journal_lock(dir);
        CHECK(lock >= 0, "lock %d: %d", k, lock);
        rl_journal_t *j = NULL;
        int rc = rl_journal_open(dir, &bad[k], 1, NULL, 0, lock, &j);
        CHECK(rc == -EINVAL && j == NULL, "bad %d refused with EINVAL: %d", k, rc);
        int again = rl_journal_lock(dir);
        CHECK(again >= 0, "bad %d: the handed-over lock was released: %d", k, again);
        rl_journal_unlock(again);
    }
    /* 2. Every CPU that exists takes the writer, in this thread's mask or
     * not: the writer is pinned as it is created, and only a CPU the kernel
     * refuses (a cpuset) fails its start, with EINVAL. */
    cpu_set_t mask;
    CPU_ZERO(&mask);
    sched_getaffinity(0, sizeof(mask), &mask);
    for (int cpu = 0; cpu < (int)sysconf(_SC_NPROCESSORS_CONF); cpu++) {
        rl_journal_options_t o = base();
        o.cpu = cpu;
        long long got = run(dir, o, 10);
        CHECK(got == 10 || got == -EINVAL, "cpu %d: %lld", cpu, got);
    }
    /* 3. A commit as large as the ring: a full ring, several times over. */
    rl_journal_options_t eq = base();
    eq.hot_ring_capacity = 1024;
    eq.max_commit_records = 1024;
    eq.sync_every_records = 1u << 20;
    long long got = run(dir, eq, 10 * 1024 + 7);
    CHECK(got == 10 * 1024 + 7, "max_commit_records == hot_ring_capacity: %lld", got);
    /* 4. The smallest segment C now promises to honour. */
    rl_journal_options_t small = base();
    small.segment_bytes = RL_JOURNAL_SEGMENT_MIN_BYTES;
    got = run(dir, small, 2000);
    CHECK(got == 2000, "segment_bytes %u: %lld", RL_JOURNAL_SEGMENT_MIN_BYTES, got);
    small.io_mode = RL_JOURNAL_IO_AUTO;
    got = run(dir, small, 2000);
    CHECK(got == 2000, "segment_bytes %u auto io: %lld", RL_JOURNAL_SEGMENT_MIN_BYTES, got);
    /* 5. The default commit (0: 4096) above a small ring is taken, though 4096 written out is refused. */
    rl_journal_options_t dflt = base();
    dflt.hot_ring_capacity = 1024;
    got = run(dir, dflt, 3000);
    rl_journal_options_t spelled = dflt;
    spelled.max_commit_records = 4096;
    long long refused = run(dir, spelled, 3000);
    CHECK((got > 0) == (refused > 0), "max_commit_records 0 (4096) vs 4096 over a 1024 ring: %lld vs %lld", got, refused);
    /* 6. A ring that is not a power of two is refused before anything is touched. */
    rl_journal_options_t odd = base();
    odd.hot_ring_capacity = 1000;
    fresh(dir);
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s/snapshot.123.tmp", dir);
    FILE *f = fopen(tmp, "w"); if (f) fclose(f);
    rl_journal_t *j = NULL;
    int rc = rl_journal_open(dir, &odd, 1, NULL, 0, -1, &j);
    CHECK(rc == -EINVAL && access(tmp, F_OK) == 0, "ring 1000 refused before anything is touched: rc %d, temp %s", rc,
          access(tmp, F_OK) == 0 ? "kept" : "deleted");
    if (rc == 0) rl_journal_close(j);
    /* 7. This thread pinned to CPU 0 (as a benchmark's is): a writer on CPU 1
     * runs, as the kernel lets any thread of the process run there. */
    if (CPU_ISSET(0, &mask) && CPU_ISSET(1, &mask)) {
        rl_pin_current_thread(0);
        rl_journal_options_t o = base();
        o.cpu = 1;
        got = run(dir, o, 10);
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(1, &one);
        int allowed = sched_setaffinity(0, sizeof(one), &one);
        CHECK(got == 10 || allowed != 0, "writer on CPU 1 from a thread pinned to CPU 0: %lld (the kernel allows it: %d)", got, allowed);
        sched_setaffinity(0, sizeof(mask), &mask);
    }
    printf("journal options: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
