/*
 * Description: the MANIFEST's two copies. A rewrite (each segment's rotation)
 * overwrites the first copy in place and syncs it, then the second, so a
 * crash mid-rewrite leaves one whole, and a complete rewrite leaves two the
 * same:
 *   1. A journal that rotated through several segments: the file holds two
 *      copies of one generation, naming the newest segment.
 *   2. A rewrite cut short: the first copy torn (the second is the manifest
 *      before it) or written but not the second (the first is the newest).
 *   3. One copy of a complete rewrite flipped or torn: the other says the
 *      same, so a lost newest segment is still refused (with copies of
 *      different generations, a damaged newer one once hid it: helper-48).
 *   4. Both copies damaged, or the file cut short: refused (EBADMSG), and
 *      the scan says the MANIFEST is damaged; a rewrite writes two valid ones.
 *   5. The one-copy format (64 bytes, generation 0) is read as it is, and the
 *      next rewrite (a prune) replaces it with two copies, generation 1.
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

    /* 1. Two copies, one generation, naming the newest segment. */
    CHECK(file_size(manifest_path) == RL_JOURNAL_MANIFEST_FILE_BYTES, "MANIFEST is %lld bytes",
          (long long)file_size(manifest_path));
    rl_journal_manifest_t newest;
    CHECK(rl_journal_read_manifest(dir, &newest) == 0, "read");
    rl_journal_scan_result_t result;
    CHECK(scan(dir, &result) == 0 && !result.corrupt, "a clean scan: %s", result.damage);
    uint64_t generation = newest.generation;
    CHECK(generation >= stats.segments_created, "generation %llu after %llu segments", (unsigned long long)generation,
          (unsigned long long)stats.segments_created);
    rl_journal_manifest_t first = copy_at(0), second = copy_at(1);
    CHECK(first.generation == generation && second.generation == generation &&
              first.newest_segment_seq == second.newest_segment_seq,
          "copies of generations %llu and %llu", (unsigned long long)first.generation,
          (unsigned long long)second.generation);

    /* 2. A rewrite cut short. The first copy torn: the second, as before. */
    rl_journal_manifest_t next = first;
    next.generation = generation + 1;
    next.newest_segment_seq = first.newest_segment_seq + 1000;
    next.crc = rl_crc32c(0, &next, offsetof(rl_journal_manifest_t, crc));
    write_at(&next, 32, 0); /* half of it */
    rl_journal_manifest_t read;
    CHECK(rl_journal_read_manifest(dir, &read) == 0 && read.generation == generation, "first copy torn: generation %llu",
          (unsigned long long)read.generation);
    CHECK(scan(dir, &result) == 0 && !result.corrupt, "a scan with the first copy torn: %s", result.damage);
    /* The first written whole, the second not yet: the first is the newest. */
    write_at(&next, sizeof(next), 0);
    CHECK(rl_journal_read_manifest(dir, &read) == 0 && read.generation == generation + 1 &&
              read.newest_segment_seq == next.newest_segment_seq,
          "first copy written: generation %llu", (unsigned long long)read.generation);
    CHECK(scan(dir, &result) == -EBADMSG && strstr(result.damage, "MANIFEST names") != NULL,
          "it names a segment that is not there: %s", result.damage);
    write_at(&first, sizeof(first), 0);

    /* 3. One copy of a complete rewrite damaged, and the newest segment
     * deleted: the other copy still names it, and the loss is refused. */
    uint8_t flip = ((const uint8_t *)&first)[40] ^ 0x01; /* in the generation */
    write_at(&flip, 1, 40);
    CHECK(rl_journal_read_manifest(dir, &read) == 0 && read.generation == generation &&
              read.newest_segment_seq == newest.newest_segment_seq,
          "first copy flipped: generation %llu", (unsigned long long)read.generation);
    char newest_path[1200];
    snprintf(newest_path, sizeof(newest_path), "%s/segment-%020llu.rlj", dir, (unsigned long long)newest.newest_segment_seq);
    char aside[1300];
    snprintf(aside, sizeof(aside), "%s.kept", newest_path);
    CHECK(rename(newest_path, aside) == 0, "move the newest segment away");
    CHECK(scan(dir, &result) == -EBADMSG && strstr(result.damage, "MANIFEST names") != NULL,
          "the newest segment gone with one copy damaged: %d, %s", result.corrupt, result.damage);
    CHECK(rename(aside, newest_path) == 0, "put it back");
    write_at(&first, sizeof(first), 0);
    uint8_t zeros[32] = {0};
    write_at(zeros, sizeof(zeros), RL_JOURNAL_MANIFEST_SLOT + 32); /* the second torn */
    CHECK(rl_journal_read_manifest(dir, &read) == 0 && read.generation == generation, "second copy torn");
    CHECK(scan(dir, &result) == 0 && !result.corrupt, "a scan with the second copy torn: %s", result.damage);

    /* 4. Both damaged, or cut short: refused; a rewrite makes two valid copies. */
    write_at(zeros, sizeof(zeros), 32);
    CHECK(rl_journal_read_manifest(dir, &read) == -EBADMSG, "both copies damaged: not refused");
    CHECK(scan(dir, &result) == -EBADMSG && strstr(result.damage, "MANIFEST is damaged") != NULL,
          "scan with both copies damaged: %s", result.damage);
    CHECK(rl_journal_prune(dir, 0) >= 0, "prune");
    CHECK(rl_journal_read_manifest(dir, &read) == 0 && read.generation == 1 &&
              read.newest_segment_seq == newest.newest_segment_seq && copy_at(0).generation == 1 &&
              copy_at(1).generation == 1,
          "rewritten over two damaged copies: generation %llu, newest %llu", (unsigned long long)read.generation,
          (unsigned long long)read.newest_segment_seq);
    CHECK(truncate(manifest_path, 5000) == 0, "truncate");
    CHECK(rl_journal_read_manifest(dir, &read) == -EBADMSG, "a MANIFEST cut to 5,000 bytes: not refused");

    /* 5. The one-copy format: read as it is, replaced by two copies. */
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
    CHECK(copy_at(0).generation == 1 && copy_at(1).generation == 1, "both copies generation 1");
    CHECK(rl_journal_prune(dir, 0) >= 0 && rl_journal_read_manifest(dir, &read) == 0 && read.generation == 2 &&
              copy_at(0).generation == 2 && copy_at(1).generation == 2,
          "the next rewrite in place, both copies: generation %llu", (unsigned long long)read.generation);

    if (failures == 0) printf("PASS journal_manifest: two copies, one whole after a rewrite cut short, the other saying the same after damage\n");
    return failures == 0 ? 0 : 1;
}
