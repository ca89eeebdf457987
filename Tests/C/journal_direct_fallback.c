/*
 * journal_direct_fallback.c - direct commits that the disk refuses or cuts
 * short, in both I/O modes. Built with -Dpwrite=rl_test_pwrite
 * -Dopen=rl_test_open: the hooks below refuse O_DIRECT writes (EIO), write
 * only their first block and then fail, or open the segment's O_DIRECT
 * descriptor read-only so that every direct write fails, as on a filesystem
 * whose direct-I/O alignment is coarser than 4 KiB. Each time the batch must
 * go through the page cache instead: every flush succeeds, nothing is lost
 * or doubled across reopens, and direct_commits counts only the writes that
 * really were direct. (The first review of direct commits found io_uring
 * retrying a refused direct write for ever, and the counter counting the
 * fallbacks.)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "journal_test_support.h"

enum { FINE = 0, REFUSE = 1, FIRST_BLOCK_THEN_EIO = 2, READ_ONLY_DIRECT_FD = 3 };
static atomic_int fault;
static atomic_long injected;

/* pwrite on an O_DIRECT descriptor (the pwrite mode's direct writes). */
ssize_t rl_test_pwrite(int fd, const void *buf, size_t n, off_t off);
ssize_t rl_test_pwrite(int fd, const void *buf, size_t n, off_t off) {
    int flags = fcntl(fd, F_GETFL);
    int mode = atomic_load(&fault);
    if (flags >= 0 && (flags & O_DIRECT) && (mode == REFUSE || mode == FIRST_BLOCK_THEN_EIO)) {
        atomic_fetch_add(&injected, 1);
        if (mode == FIRST_BLOCK_THEN_EIO && n > 4096) (void)syscall(SYS_pwrite64, fd, buf, (size_t)4096, off);
        errno = EIO;
        return -1;
    }
    return syscall(SYS_pwrite64, fd, buf, n, off);
}

/* The segment's O_DIRECT descriptor, opened read-only: every direct write
 * fails (EBADF), in io_uring too, where pwrite is not called. */
int rl_test_open(const char *path, int flags, ...);
int rl_test_open(const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    int mode = (flags & O_CREAT) ? va_arg(ap, int) : 0;
    va_end(ap);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (atomic_load(&fault) == READ_ONLY_DIRECT_FD && (flags & O_DIRECT) && strncmp(base, "segment-", 8) == 0) {
        atomic_fetch_add(&injected, 1);
        flags = (flags & ~O_ACCMODE) | O_RDONLY;
    }
    return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

/* Record `seq`'s payload: its sequence and bytes that depend on it, of a
 * length that varies so that commits end anywhere in a block. */
static uint32_t payload_for(uint64_t seq, uint8_t *out) {
    uint32_t length = 16 + (uint32_t)(seq * 37 % 400);
    memcpy(out, &seq, 8);
    for (uint32_t i = 8; i < length; i++) out[i] = (uint8_t)(seq * 131 + i);
    return length;
}

typedef struct { uint64_t records, wrong, last; } replay_t;

static int check_record(void *context, const rl_journal_record_header_t *header, const uint8_t *payload) {
    replay_t *r = context;
    uint8_t want[512];
    uint32_t length = payload_for(header->seq, want);
    r->records++;
    r->last = header->seq;
    if (header->type != RL_JREC_OPERATOR || header->length != length || memcmp(payload, want, length) != 0) r->wrong++;
    return 0;
}

/* Three sessions of 200 records in DIR, each flushed every few records,
 * under `mode`; then a scan: all 600, each once and intact, no damage. */
static void run(const char *dir, int io_mode, int mode) {
    char command[1024];
    snprintf(command, sizeof(command), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(command) != 0) exit(2);
    const char *io = io_mode == RL_JOURNAL_IO_URING ? "io_uring" : "pwrite";
    uint64_t seq = 0, direct = 0;
    atomic_store(&injected, 0);
    for (int session = 0; session < 3; session++) {
        rl_journal_scan_result_t scan;
        replay_t replay = {0};
        int rc = rl_journal_scan(dir, 0, false, check_record, &replay, &scan);
        CHECK(rc == 0 && replay.last == seq && replay.wrong == 0, "%s fault %d session %d: scan %d, last %llu of %llu",
              io, mode, session, rc, (unsigned long long)replay.last, (unsigned long long)seq);
        rl_journal_options_t options = {0};
        options.segment_bytes = 16 * 1024; /* rotations, and a reopen mid-block each session */
        options.io_mode = io_mode;
        options.cpu = -1;
        atomic_store(&fault, mode);
        rl_journal_t *j = NULL;
        rc = rl_journal_open(dir, &options, scan.last_seq + 1, scan.tail_segment[0] ? scan.tail_segment : NULL,
                             scan.tail_valid_end, -1, &j);
        if (rc == 0) rc = rl_journal_start(j);
        if (rc == -ENOTSUP || rc == -ENOSYS || rc == -EPERM) {
            printf("SKIP %s: io_uring unavailable (%d)\n", io, rc);
            atomic_store(&fault, FINE);
            return;
        }
        CHECK(rc == 0, "%s fault %d: open %d", io, mode, rc);
        if (rc != 0) return;
        int refused = 0;
        for (int i = 0; i < 200; i++) {
            uint8_t payload[512];
            uint32_t length = payload_for(++seq, payload);
            uint64_t ticket;
            if (rl_journal_append_cold(j, RL_JREC_OPERATOR, payload, length, false, &ticket) != 0) refused++;
            if (i % 3 == 2 && rl_journal_flush(j, 5000) != 0) refused++;
        }
        if (rl_journal_flush(j, 5000) != 0) refused++;
        rl_journal_stats_t stats;
        rl_journal_read_stats(j, &stats);
        CHECK(refused == 0 && rl_journal_error(j) == 0 && stats.failures == 0,
              "%s fault %d session %d: %d refused, journal error %d, %llu failed attempts: a refused direct write "
              "goes through the page cache", io, mode, session, refused, rl_journal_error(j),
              (unsigned long long)stats.failures);
        direct += stats.direct_commits;
        rl_journal_close(j);
        atomic_store(&fault, FINE);
    }
    rl_journal_scan_result_t scan;
    replay_t replay = {0};
    int rc = rl_journal_scan(dir, 0, false, check_record, &replay, &scan);
    CHECK(rc == 0 && replay.records == seq && replay.last == seq && replay.wrong == 0 && scan.torn_tail_bytes == 0,
          "%s fault %d: %llu records replayed of %llu (last %llu, %llu wrong, torn %llu): %s", io, mode,
          (unsigned long long)replay.records, (unsigned long long)seq, (unsigned long long)replay.last,
          (unsigned long long)replay.wrong, (unsigned long long)scan.torn_tail_bytes, scan.damage);
    if (mode == FINE) {
        /* Direct where the directory's filesystem takes O_DIRECT and has 4 KiB blocks. */
        char probe[1100];
        snprintf(probe, sizeof(probe), "%s/direct-probe", dir);
        int fd = (int)syscall(SYS_openat, AT_FDCWD, probe, O_RDWR | O_CREAT | O_DIRECT, 0644);
        struct stat st;
        bool can = fd >= 0 && fstat(fd, &st) == 0 && st.st_blksize == RL_JOURNAL_DIRECT_BLOCK;
        if (fd >= 0) close(fd);
        unlink(probe);
        CHECK(can ? direct > 0 : direct == 0, "%s: %llu commits direct where the filesystem %s", io,
              (unsigned long long)direct, can ? "takes O_DIRECT in 4 KiB blocks" : "does not");
    } else {
        CHECK(atomic_load(&injected) > 0, "%s fault %d: the fault was never hit", io, mode);
        /* io_uring does not call pwrite: its refusals come from the read-only descriptor. */
        CHECK(direct == 0 || (io_mode == RL_JOURNAL_IO_URING && mode != READ_ONLY_DIRECT_FD),
              "%s fault %d: %llu commits counted direct, none was", io, mode, (unsigned long long)direct);
    }
    printf("%s fault %d: %llu records, %llu direct commits, %ld faults injected\n", io, mode, (unsigned long long)seq,
           (unsigned long long)direct, atomic_load(&injected));
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp/rl-journal-direct-fallback";
    for (int mode = FINE; mode <= READ_ONLY_DIRECT_FD; mode++) {
        run(dir, RL_JOURNAL_IO_PWRITE, mode);
        if (mode == FINE || mode == READ_ONLY_DIRECT_FD) run(dir, RL_JOURNAL_IO_URING, mode);
    }
    printf("journal direct fallback: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
