/*
 * journal_spare_quota.c - spare segments on a disk with little room (the
 * sources are built with -Dfallocate=rl_test_fallocate, which refuses with
 * ENOSPC once the directory would pass a quota). Checks, with the real writer
 * and background threads:
 *   - segments a snapshot prunes while the disk is nearly full give their
 *     space back to the next rotation (as unlinking them did before spares):
 *     the writer never reports an error;
 *   - a second engine's open, refused because the first holds the lock,
 *     removes none of the live engine's files (its spare included).
 * Usage: journal_spare_quota DIR
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "journal_test_support.h"

static const char *quota_dir;
static atomic_llong quota_bytes; /* 0: none */

static long long dir_usage(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return 0;
    long long total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.' && stat(path, &st) == 0) total += (long long)st.st_blocks * 512;
    }
    closedir(d);
    return total;
}

static int count_spares(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) n += strncmp(e->d_name, RL_JOURNAL_SPARE_PREFIX, strlen(RL_JOURNAL_SPARE_PREFIX)) == 0;
    closedir(d);
    return n;
}

int rl_test_fallocate(int fd, int mode, off_t offset, off_t length);
int rl_test_fallocate(int fd, int mode, off_t offset, off_t length) {
    long long quota = atomic_load(&quota_bytes);
    if (quota != 0) {
        struct stat st;
        fstat(fd, &st);
        long long more = (long long)(offset + length) - (long long)st.st_blocks * 512;
        if (more > 0 && dir_usage(quota_dir) + more > quota) {
            errno = ENOSPC;
            return -1;
        }
    }
    long rc = syscall(SYS_fallocate, fd, mode, offset, length); /* the real one */
    return rc == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp/rl_journal_spare_quota";
    quota_dir = dir;
    rl_journal_options_t options;
    rl_journal_t *j = open_small_journal(dir, &options);
    if (j == NULL) return 2;
    char command[1024];
    int rc;
    rl_journal_stats_t stats;
    do {
        push_adjust(j);
        CHECK(rl_journal_flush(j, 2000) == 0, "flush while filling");
        rl_journal_read_stats(j, &stats);
    } while (stats.segments_created < 3 && failures == 0);

    /* Less than one segment (80 KiB with its reserve) free from here on. */
    atomic_store(&quota_bytes, dir_usage(dir) + 40 * 1024);
    for (int i = 0; i < 80; i++) push_adjust(j); /* a quarter in: the writer asks for a spare, which cannot be made */
    CHECK(rl_journal_flush(j, 2000) == 0, "flush at the quota");
    usleep(100000);
    uint64_t covered = 0;
    CHECK(rl_journal_snapshot_now(j, 5000, &covered) == 0, "snapshot (it prunes two segments)");
    usleep(100000);
    for (int i = 0; i < 300; i++) push_adjust(j); /* across the next rotation */
    rc = rl_journal_flush(j, 3000);
    rl_journal_read_stats(j, &stats);
    CHECK(rc == 0, "the rotation after the prune fits in the space it freed: flush %d", rc);
    CHECK(rl_journal_error(j) == 0 && stats.failures == 0, "no journal error (error %d, %llu failed attempts)",
          rl_journal_error(j), (unsigned long long)stats.failures);
    atomic_store(&quota_bytes, 0);

    /* Room again: let a spare be made, then a refused second open. */
    for (int round = 0; round < 100 && count_spares(dir) == 0; round++) {
        for (int i = 0; i < 40; i++) push_adjust(j);
        rl_journal_flush(j, 2000);
        usleep(5000);
    }
    int spares = count_spares(dir);
    CHECK(spares > 0, "a spare is made once there is room");
    rl_journal_t *second = NULL;
    rc = rl_journal_open(dir, &options, 1, NULL, 0, -1, &second);
    CHECK(rc == -EBUSY, "a second engine is refused: %d", rc);
    CHECK(count_spares(dir) == spares, "the refused open removed none of the live engine's spares (%d of %d left)",
          count_spares(dir), spares);
    for (int i = 0; i < 2000; i++) push_adjust(j); /* rotations that use them */
    CHECK(rl_journal_flush(j, 5000) == 0 && rl_journal_error(j) == 0, "the live engine goes on: error %d",
          rl_journal_error(j));
    rl_journal_read_stats(j, &stats);
    rl_journal_close(j);
    CHECK(count_spares(dir) == 0, "no spare is left after close");

    rl_journal_scan_result_t result;
    rc = rl_journal_scan(dir, stats.last_snapshot_seq, false, NULL, NULL, &result);
    CHECK(rc == 0, "the journal scans clean: %d %s", rc, result.damage);

    /* Options the writer cannot honour are refused before anything is
     * touched, and leave no lock behind. */
    rl_journal_options_t bad[4] = {options, options, options, options};
    bad[0].cpu = 1 << 20;                 /* a writer pinned nowhere */
    bad[1].segment_bytes = 100;
    bad[2].max_commit_records = 65537;    /* above the ring it takes from */
    bad[3].realtime_priority = 100;
    for (int k = 0; k < 4; k++) {
        rl_journal_t *refused = NULL;
        rc = rl_journal_open(dir, &bad[k], 1, NULL, 0, -1, &refused);
        CHECK(rc == -EINVAL && refused == NULL, "bad options %d are refused with EINVAL: %d", k, rc);
    }
    int lock = rl_journal_lock(dir);
    CHECK(lock >= 0, "the refused opens left no lock behind: %d", lock);
    if (lock >= 0) rl_journal_unlock(lock);
    snprintf(command, sizeof(command), "rm -rf '%s'", dir);
    if (system(command) != 0) failures++;
    printf("journal spares on a nearly full disk: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
