/*
 * Description: the MANIFEST's two copies. A segment's rotation rewrites the
 * older copy in place (one data sync), so a crash mid-write leaves the other:
 *   1. A journal that rotated through several segments: the file holds two
 *      copies, and the newest names the newest segment.
 *   2. The newer copy torn (zeros from its middle on) or flipped: the older
 *      copy is read, a generation behind, and the journal still scans clean.
 *   3. Both copies damaged, or the file cut short: refused (EBADMSG), and
 *      the scan says the MANIFEST is damaged.
 *   4. The one-copy format (64 bytes, generation 0) is read as it is, and the
 *      next rewrite (a prune) replaces it with two copies, generation 1.
 *   5. A rewrite over a file whose copies are both damaged writes a valid one.
 * Built and run by scripts/test.sh. Exit: 0 pass, 1 fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "RedlineCore.h"
#include "journal_test_support.h"

static char manifest_path[1100];

static off_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void write_at(const void *data, size_t length, off_t offset) {
    int fd = open(manifest_path, O_WRONLY);
    CHECK(fd >= 0 && pwrite(fd, data, length, offset) == (ssize_t)length, "write the MANIFEST at %lld", (long long)offset);
    if (fd >= 0) close(fd);
}

static rl_journal_manifest_t copy_at(int slot) {
    rl_journal_manifest_t m;
    int fd = open(manifest_path, O_RDONLY);
    CHECK(fd >= 0 && pread(fd, &m, sizeof(m), (off_t)slot * RL_JOURNAL_MANIFEST_SLOT) == (ssize_t)sizeof(m), "read copy %d",
          slot);
    if (fd >= 0) close(fd);
    return m;
}

/* A plain scan of the journal: 0 and no damage, or the error. */
static int scan(const char *dir, rl_journal_scan_result_t *result) {
    return rl_journal_scan(dir, 0, false, NULL, NULL, result);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp/redline-journal-manifest";
    snprintf(manifest_path, sizeof(manifest_path), "%s/MANIFEST", dir);
    rl_journal_options_t options;
    rl_journal_t *j = open_small_journal(dir, &options);
    if (j == NULL) return 1;
    /* 16 KiB segments: a few hundred adjustments rotate through several. */
    for (int i = 0; i < 2000; i++) push_adjust(j);
    CHECK(rl_journal_flush(j, 10000) == 0, "flush");
    rl_journal_stats_t stats;
    rl_journal_read_stats(j, &stats);
    rl_journal_close(j);
    CHECK(stats.segments_created >= 3, "only %llu segments made", (unsigned long long)stats.segments_created);

    /* 1. Two copies; the newest names the newest segment. */
    CHECK(file_size(manifest_path) == RL_JOURNAL_MANIFEST_FILE_BYTES, "MANIFEST is %lld bytes",
          (long long)file_size(manifest_path));
    rl_journal_manifest_t newest;
    CHECK(rl_journal_read_manifest(dir, &newest) == 0, "read");
    rl_journal_scan_result_t result;
    CHECK(scan(dir, &result) == 0 && !result.corrupt, "a clean scan: %s", result.damage);
    uint64_t generation = newest.generation;
    CHECK(generation >= stats.segments_created, "generation %llu after %llu segments", (unsigned long long)generation,
          (unsigned long long)stats.segments_created);
    rl_journal_manifest_t older = copy_at((int)((generation + 1) & 1));
    CHECK(older.generation + 1 == generation, "the other copy is generation %llu, the newest %llu",
          (unsigned long long)older.generation, (unsigned long long)generation);

    /* 2. The newer copy torn, then flipped: the older copy is read. */
    int newer_slot = (int)(generation & 1);
    rl_journal_manifest_t saved = copy_at(newer_slot);
    uint8_t zeros[32] = {0};
    write_at(zeros, sizeof(zeros), (off_t)newer_slot * RL_JOURNAL_MANIFEST_SLOT + 32);
    rl_journal_manifest_t read;
    CHECK(rl_journal_read_manifest(dir, &read) == 0 && read.generation == generation - 1 &&
              read.newest_segment_seq == older.newest_segment_seq,
          "torn newer copy: read generation %llu", (unsigned long long)read.generation);
    CHECK(scan(dir, &result) == 0 && !result.corrupt, "a scan with the newer copy torn: %s", result.damage);
    write_at(&saved, sizeof(saved), (off_t)newer_slot * RL_JOURNAL_MANIFEST_SLOT);
    uint8_t flip = ((const uint8_t *)&saved)[16] ^ 0x01;
    write_at(&flip, 1, (off_t)newer_slot * RL_JOURNAL_MANIFEST_SLOT + 16);
    CHECK(rl_journal_read_manifest(dir, &read) == 0 && read.generation == generation - 1,
          "flipped newer copy: read generation %llu", (unsigned long long)read.generation);
    write_at(&saved, sizeof(saved), (off_t)newer_slot * RL_JOURNAL_MANIFEST_SLOT);
    CHECK(rl_journal_read_manifest(dir, &read) == 0 && read.generation == generation, "restored");

    /* 3. Both damaged, or cut short: refused. */
    write_at(zeros, sizeof(zeros), 32);
    write_at(zeros, sizeof(zeros), RL_JOURNAL_MANIFEST_SLOT + 32);
    CHECK(rl_journal_read_manifest(dir, &read) == -EBADMSG, "both copies damaged: not refused");
    CHECK(scan(dir, &result) == -EBADMSG && strstr(result.damage, "MANIFEST is damaged") != NULL,
          "scan with both copies damaged: %s", result.damage);
    /* 5. A rewrite (a prune of nothing) makes a valid copy again. */
    CHECK(rl_journal_prune(dir, 0) >= 0, "prune");
    CHECK(rl_journal_read_manifest(dir, &read) == 0 && read.generation == 1 && read.newest_segment_seq == newest.newest_segment_seq,
          "rewritten over two damaged copies: generation %llu, newest %llu", (unsigned long long)read.generation,
          (unsigned long long)read.newest_segment_seq);
    CHECK(truncate(manifest_path, 700) == 0, "truncate");
    CHECK(rl_journal_read_manifest(dir, &read) == -EBADMSG, "a MANIFEST cut to 700 bytes: not refused");

    /* 4. The one-copy format: read as it is, replaced by two copies. */
    rl_journal_manifest_t legacy = newest;
    legacy.generation = 0;
    legacy.crc = rl_crc32c(0, &legacy, offsetof(rl_journal_manifest_t, crc));
    CHECK(truncate(manifest_path, 0) == 0, "empty it");
    write_at(&legacy, sizeof(legacy), 0);
    CHECK(file_size(manifest_path) == (off_t)sizeof(legacy), "a 64-byte MANIFEST");
    CHECK(rl_journal_read_manifest(dir, &read) == 0 && read.generation == 0 &&
              read.newest_segment_seq == newest.newest_segment_seq,
          "the one-copy format read");
    CHECK(scan(dir, &result) == 0 && !result.corrupt, "a scan of the one-copy format: %s", result.damage);
    CHECK(rl_journal_prune(dir, 0) >= 0, "prune");
    CHECK(file_size(manifest_path) == RL_JOURNAL_MANIFEST_FILE_BYTES, "rewritten as %lld bytes",
          (long long)file_size(manifest_path));
    CHECK(rl_journal_read_manifest(dir, &read) == 0 && read.generation == 1, "two copies, generation %llu",
          (unsigned long long)read.generation);
    CHECK(copy_at(0).generation == 1 && copy_at(1).generation == 1, "both copies generation 1");
    CHECK(rl_journal_prune(dir, 0) >= 0 && rl_journal_read_manifest(dir, &read) == 0 && read.generation == 2 &&
              copy_at(0).generation == 2 && copy_at(1).generation == 1,
          "the next rewrite in place, into copy 0: generation %llu", (unsigned long long)read.generation);

    if (failures == 0) printf("PASS journal_manifest: two copies, the older one read past a torn or flipped newer one\n");
    return failures == 0 ? 0 : 1;
}
