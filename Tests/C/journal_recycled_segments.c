/*
 * Segments recycled without zeros: a pruned segment becomes the next one as
 * it is, so its earlier records stay on disk after the new ones. Each
 * segment's salt (in its header and every record) tells them apart:
 *
 *  1. a journal whose live segments hold earlier records (checked: the case
 *     is reached) scans clean, with no torn tail, every sequence once; the
 *     terminator's zeros follow each segment's records;
 *  2. reopened at its tail, its earlier life is left as it was (an open
 *     zeroes only this life's bytes past the records), and it goes on and
 *     scans clean again;
 *  3. its last record torn: a torn tail of that record's bytes, the rest
 *     intact, not damage; an earlier life's record that reads whole and
 *     has the next sequence is not read (where the terminator should be,
 *     it is a torn tail); a newer segment the MANIFEST does
 *     not name, holding only earlier records, is left out;
 *  4. a record in the middle of the last segment damaged: refused, naming
 *     the loss (an earlier life's records never pass for "valid data after
 *     it", nor hide it);
 *  5. a version 1 segment (salt 0, zeros after its records) reads as ever;
 *  6. reopened after a torn record, the torn bytes are zeroed, the earlier
 *     life past them is left, and it scans clean;
 *  7. a pruned segment whose removal a crash undid, an earlier life past
 *     its terminator, is passed over (the snapshot covers the gap);
 *  8. a version 1 segment from before preallocation, continued as the
 *     tail, gets no terminator past its end, and reads clean before and
 *     after the writer rotates away from it.
 *
 *   cc -std=c11 -O1 -g -D_GNU_SOURCE -ICSources/RedlineCore/include -ITests/C \
 *      Tests/C/journal_recycled_segments.c CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread -lm
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>
#include "journal_test_support.h"
#include "rl_crc32c.h"

enum { SEGMENT = 16 * 1024, FILE_BYTES = SEGMENT + RL_JOURNAL_STATE_RESERVE };

static int write_all_file(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "r+b");
    if (f == NULL) return -1;
    int rc = fwrite(data, 1, size, f) == size ? 0 : -1;
    fclose(f);
    return rc;
}

static size_t record_size(uint32_t length) { return (sizeof(rl_journal_record_header_t) + length + 7) & ~(size_t)7; }

/* A segment's own records: their count, where they end (*end), and where
 * the last one and the middle one start: the middle of those before the
 * last commit (a commit follows it), or of all with one commit alone. */
static int own_records(const uint8_t *data, size_t size, size_t *end, size_t *last_at, size_t *middle_at) {
    rl_journal_segment_header_t header;
    memcpy(&header, data, sizeof(header));
    size_t offset = sizeof(header);
    size_t starts[8192];
    int n = 0, last_open = 0;
    while (offset + sizeof(rl_journal_record_header_t) <= size) {
        rl_journal_record_header_t rh;
        memcpy(&rh, data + offset, sizeof(rh));
        if (rh.salt != header.salt || rh.length > RL_JOURNAL_MAX_PAYLOAD || offset + record_size(rh.length) > size) break;
        if (rl_crc32c(0, data + offset + 4, sizeof(rh) - 4 + rh.length) != rh.crc) break;
        if (n < 8192) starts[n] = offset;
        if (rh.flags & RL_JREC_FLAG_COMMIT_START) last_open = n;
        n++;
        offset += record_size(rh.length);
    }
    *end = offset;
    if (last_at) *last_at = n > 0 ? starts[n - 1] : 0;
    if (middle_at) *middle_at = n > 0 ? starts[last_open > 0 ? last_open / 2 : n / 2] : 0;
    return n;
}

/* Rewrite a segment's header and its records up to `end` as version 1 wrote
 * them: salt 0 everywhere, and with `preallocated` false, no file size (a
 * segment from before preallocation). */
static void as_version_1(uint8_t *data, size_t end, bool preallocated) {
    rl_journal_segment_header_t header;
    memcpy(&header, data, sizeof(header));
    header.version = 1;
    header.salt = 0;
    if (!preallocated) header.file_bytes = 0;
    header.crc = rl_crc32c(0, &header, offsetof(rl_journal_segment_header_t, crc));
    memcpy(data, &header, sizeof(header));
    for (size_t at = sizeof(header); at < end;) {
        rl_journal_record_header_t rh;
        memcpy(&rh, data + at, sizeof(rh));
        rh.salt = 0;
        memcpy(data + at, &rh, sizeof(rh));
        rh.crc = rl_crc32c(0, data + at + 4, sizeof(rh) - 4 + rh.length);
        memcpy(data + at, &rh, sizeof(rh));
        at += record_size(rh.length);
    }
}

/* Whole records of another (non-zero) salt after a segment's own. */
static int earlier_records(const uint8_t *data, size_t size) {
    rl_journal_segment_header_t header;
    memcpy(&header, data, sizeof(header));
    size_t end;
    own_records(data, size, &end, NULL, NULL);
    int count = 0;
    for (size_t at = end; at + sizeof(rl_journal_record_header_t) <= size; at += 8) {
        rl_journal_record_header_t rh;
        memcpy(&rh, data + at, sizeof(rh));
        if (rh.salt == 0 || rh.salt == header.salt || rh.length > RL_JOURNAL_MAX_PAYLOAD || at + record_size(rh.length) > size) continue;
        if (rl_crc32c(0, data + at + 4, sizeof(rh) - 4 + rh.length) == rh.crc) count++;
    }
    return count;
}

static int tail_earlier_records(const char *path) {
    size_t size;
    uint8_t *data = read_all(path, &size);
    int count = data != NULL ? earlier_records(data, size) : -1;
    free(data);
    return count;
}

/* The newest snapshot's covered sequence (0: none), and the newest segment's name. */
static uint64_t newest(const char *dir, char *segment, size_t cap) {
    DIR *d = opendir(dir);
    uint64_t covered = 0;
    segment[0] = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        unsigned long long seq;
        if (sscanf(e->d_name, "snapshot-%20llu.rls", &seq) == 1 && strstr(e->d_name, ".tmp") == NULL && seq > covered) {
            covered = seq;
        }
        if (strncmp(e->d_name, "segment-", 8) == 0 && strlen(e->d_name) == 8 + 20 + 4 && strcmp(e->d_name, segment) > 0) {
            snprintf(segment, cap, "%s", e->d_name);
        }
    }
    if (d != NULL) closedir(d);
    return covered;
}

static int scan(const char *dir, rl_journal_scan_result_t *result) {
    char segment[256];
    uint64_t covered = newest(dir, segment, sizeof(segment));
    *result = (rl_journal_scan_result_t){0};
    return rl_journal_scan(dir, covered, false, NULL, NULL, result);
}

static rl_journal_t *open_recycling(const char *dir, uint64_t next_seq, const char *tail, uint64_t truncate_at) {
    rl_journal_options_t options = {0};
    options.segment_bytes = SEGMENT;
    options.io_mode = RL_JOURNAL_IO_PWRITE;
    options.cpu = -1;
    options.snapshot_every_records = 150;
    rl_journal_t *j = NULL;
    int rc = rl_journal_open(dir, &options, next_seq, tail, truncate_at, -1, &j);
    if (rc == 0) rc = rl_journal_start(j);
    CHECK(rc == 0, "open %s: %d", dir, rc);
    return rc == 0 ? j : NULL;
}

/* Position adjustments in groups, each flushed, so snapshots prune and
 * spares are recycled between rotations; then up to the next rotation and
 * 40 records into it, so that the newest segment, recycled, holds fewer
 * records than its earlier life did (whose rest then lies after them). */
static void trade(rl_journal_t *j, int groups) {
    for (int g = 0; g < groups; g++) {
        for (int i = 0; i < 20; i++) push_adjust(j);
        CHECK(rl_journal_flush(j, 5000) == 0, "flush group %d", g);
        struct timespec pause = {0, 2000000};
        nanosleep(&pause, NULL);
    }
    rl_journal_stats_t stats;
    rl_journal_read_stats(j, &stats);
    uint64_t created = stats.segments_created;
    for (int i = 0; i < 1000 && stats.segments_created == created; i++) {
        push_adjust(j);
        CHECK(rl_journal_flush(j, 5000) == 0, "flush to the next rotation");
        rl_journal_read_stats(j, &stats);
    }
    for (int i = 0; i < 40; i++) push_adjust(j);
    CHECK(rl_journal_flush(j, 5000) == 0, "flush into the new segment");
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp/rl_journal_recycled_segments";
    char command[2048], path[2048], segment[256];
    snprintf(command, sizeof(command), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(command) != 0) return 1;

    /* 1. Live segments that hold an earlier life's records scan clean. */
    rl_journal_t *j = open_recycling(dir, 1, NULL, 0);
    if (j == NULL) return 1;
    trade(j, 60);
    rl_journal_stats_t stats;
    rl_journal_read_stats(j, &stats);
    uint64_t written = stats.next_seq - 1;
    rl_journal_close(j);
    CHECK(stats.snapshots > 2 && stats.segments_prepared > 2, "snapshots %llu, spares used %llu",
          (unsigned long long)stats.snapshots, (unsigned long long)stats.segments_prepared);
    int earlier = 0, segments = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "segment-", 8) != 0) continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        size_t size;
        uint8_t *data = read_all(path, &size);
        if (data == NULL) continue;
        earlier += earlier_records(data, size);
        segments++;
        size_t end;
        own_records(data, size, &end, NULL, NULL);
        bool zeros = true;
        for (size_t at = end; at < end + RL_JOURNAL_TERMINATOR_BYTES && at < size; at++) zeros &= data[at] == 0;
        CHECK(zeros, "%s: the %u bytes after its records (at %zu) are zeros", e->d_name, RL_JOURNAL_TERMINATOR_BYTES, end);
        free(data);
    }
    if (d != NULL) closedir(d);
    CHECK(earlier > 0, "the live segments (%d) hold no earlier records: recycling never reached the case", segments);
    rl_journal_scan_result_t result;
    int rc = scan(dir, &result);
    CHECK(rc == 0 && !result.corrupt, "a journal of recycled segments scans clean: %d %s", rc, result.damage);
    CHECK(result.torn_tail_bytes == 0, "an earlier life's records are no torn tail: %llu bytes",
          (unsigned long long)result.torn_tail_bytes);
    CHECK(result.last_seq == written, "every record read: last %llu of %llu", (unsigned long long)result.last_seq,
          (unsigned long long)written);

    /* 2. Reopened at its tail, it leaves the tail's earlier life alone (only
     * this life's bytes past its records are zeroed), and goes on. */
    snprintf(path, sizeof(path), "%s/%s", dir, result.tail_segment);
    int tail_earlier = tail_earlier_records(path);
    j = open_recycling(dir, result.last_seq + 1, result.tail_segment, result.tail_valid_end);
    if (j == NULL) return 1;
    rl_journal_close(j);
    CHECK(tail_earlier > 0 && tail_earlier_records(path) == tail_earlier,
          "an open rewrote the tail's earlier life: %d earlier records before, %d after", tail_earlier,
          tail_earlier_records(path));
    rc = scan(dir, &result);
    j = open_recycling(dir, result.last_seq + 1, result.tail_segment, result.tail_valid_end);
    if (j == NULL) return 1;
    trade(j, 60);
    rl_journal_read_stats(j, &stats);
    written = stats.next_seq - 1;
    rl_journal_close(j);
    rc = scan(dir, &result);
    CHECK(rc == 0 && !result.corrupt && result.torn_tail_bytes == 0 && result.last_seq == written,
          "reopened and gone on: %d, last %llu of %llu, torn %llu, %s", rc, (unsigned long long)result.last_seq,
          (unsigned long long)written, (unsigned long long)result.torn_tail_bytes, result.damage);

    /* 3. The last record torn: a torn tail of its bytes. */
    newest(dir, segment, sizeof(segment));
    snprintf(path, sizeof(path), "%s/%s", dir, segment);
    size_t size, end, last_at, middle_at;
    uint8_t *data = read_all(path, &size);
    int own = data != NULL ? own_records(data, size, &end, &last_at, &middle_at) : 0;
    CHECK(own >= 4, "the newest segment has %d records", own);
    if (own < 4) return 1;
    uint8_t *original = malloc(size);
    memcpy(original, data, size);
    /* Cases 3 to 7 work on this segment: it must hold an earlier life. */
    CHECK(earlier_records(original, size) > 0, "the newest segment %s holds no earlier records: cases 3-7 would not "
          "reach what they test", segment);
    data[end - 1] ^= 0x5a; /* in the last record's padding or payload: its CRC no longer holds */
    data[last_at + sizeof(rl_journal_record_header_t)] ^= 0x5a;
    write_all_file(path, data, size);
    rc = scan(dir, &result);
    CHECK(rc == 0 && !result.corrupt, "a torn last record is not damage: %d %s", rc, result.damage);
    CHECK(result.last_seq == written - 1, "the torn record is cut: last %llu, not %llu", (unsigned long long)result.last_seq,
          (unsigned long long)written - 1);
    CHECK(result.torn_tail_bytes == end - last_at, "the torn tail is that record's %zu bytes, not %llu", end - last_at,
          (unsigned long long)result.torn_tail_bytes);

    /* 3a. The last record's salt damaged (found by the fuzz test): not an
     * earlier life's record where the terminator should be, so torn. */
    memcpy(data, original, size);
    data[last_at + offsetof(rl_journal_record_header_t, salt)] ^= 0x01;
    write_all_file(path, data, size);
    rc = scan(dir, &result);
    CHECK(rc == 0 && !result.corrupt && result.last_seq == written - 1 && result.torn_tail_bytes > 0,
          "a last record whose salt was damaged is a torn tail: %d, last %llu, torn %llu, %s", rc,
          (unsigned long long)result.last_seq, (unsigned long long)result.torn_tail_bytes, result.damage);

    /* 3b. An earlier life's record that would go on from the last one (a
     * journal recovered to last good reuses the sequences it lost): whole,
     * its CRC right, the next sequence, but another salt. Never read. */
    memcpy(data, original, size);
    rl_journal_record_header_t foreign;
    memcpy(&foreign, data + last_at, sizeof(foreign));
    size_t foreign_size = record_size(foreign.length);
    memcpy(data + end, data + last_at, foreign_size);
    memcpy(&foreign, data + end, sizeof(foreign));
    foreign.salt ^= 0x5a5a5a5au;
    foreign.seq = written + 1;
    memcpy(data + end, &foreign, sizeof(foreign));
    foreign.crc = rl_crc32c(0, data + end + 4, sizeof(foreign) - 4 + foreign.length);
    memcpy(data + end, &foreign, sizeof(foreign));
    write_all_file(path, data, size);
    rc = scan(dir, &result);
    CHECK(rc == 0 && !result.corrupt && result.last_seq == written && result.torn_tail_bytes > 0,
          "another salt's record with the next sequence is not read (where the terminator's zeros should be, it is "
          "a torn tail): %d, last %llu of %llu, torn %llu, %s", rc,
          (unsigned long long)result.last_seq, (unsigned long long)written, (unsigned long long)result.torn_tail_bytes,
          result.damage);

    /* 3c. A newer segment the MANIFEST does not name (a kill between a
     * rotation's rename and the MANIFEST's rewrite), made of a recycled file:
     * its header, then only an earlier life's records. It holds none of its
     * own: left out, the journal's tail is the segment before it. */
    char stray[1024];
    snprintf(stray, sizeof(stray), "%s/segment-%020llu.rlj", dir, (unsigned long long)written + 1);
    uint8_t *recycled = calloc(1, FILE_BYTES);
    rl_journal_segment_header_t stray_header;
    memcpy(&stray_header, data, sizeof(stray_header));
    stray_header.first_seq = written + 1;
    stray_header.salt ^= 0x0f0f0f0fu;
    stray_header.crc = rl_crc32c(0, &stray_header, offsetof(rl_journal_segment_header_t, crc));
    memcpy(recycled, &stray_header, sizeof(stray_header));
    memcpy(recycled + sizeof(stray_header), data + sizeof(stray_header), end - sizeof(stray_header));
    FILE *f = fopen(stray, "wb");
    if (f != NULL) {
        fwrite(recycled, 1, FILE_BYTES, f);
        fclose(f);
    }
    free(recycled);
    rc = scan(dir, &result);
    CHECK(rc == 0 && !result.corrupt && result.last_seq == written && strcmp(result.tail_segment, segment) == 0,
          "a newer unnamed segment of earlier records only is left out: %d, last %llu of %llu, tail %s (not %s), %s", rc,
          (unsigned long long)result.last_seq, (unsigned long long)written, result.tail_segment, segment, result.damage);
    unlink(stray);

    /* 4. A record in the middle damaged (a commit after it: it was durable):
     * refused, whatever follows the segment's own records. */
    bool commit_after = false;
    for (size_t at = middle_at + 8; at + sizeof(rl_journal_record_header_t) <= end && !commit_after; at += 8) {
        rl_journal_record_header_t rh;
        memcpy(&rh, original + at, sizeof(rh));
        commit_after = rh.seq > 0 && (rh.flags & RL_JREC_FLAG_COMMIT_START) &&
                       rl_crc32c(0, original + at + 4, sizeof(rh) - 4 + (rh.length <= 4096 ? rh.length : 0)) == rh.crc;
    }
    CHECK(commit_after, "a commit follows the damaged record (case 4 needs the segment to hold two)");
    memcpy(data, original, size);
    data[middle_at + sizeof(rl_journal_record_header_t)] ^= 0x5a;
    write_all_file(path, data, size);
    rc = scan(dir, &result);
    CHECK(rc == -EBADMSG && result.corrupt && strstr(result.damage, "valid data after it") != NULL,
          "a damaged middle record is refused: %d %s", rc, result.damage);
    CHECK(result.lost_last == written, "the loss goes to the last record %llu, not %llu", (unsigned long long)written,
          (unsigned long long)result.lost_last);
    memcpy(data, original, size);
    write_all_file(path, data, size);

    /* 5. Version 1: the newest segment rewritten as the old format wrote it
     * (salt 0 everywhere, zeros after the records). */
    as_version_1(data, end, true);
    memset(data + end, 0, size - end);
    write_all_file(path, data, size);
    rc = scan(dir, &result);
    CHECK(rc == 0 && !result.corrupt && result.torn_tail_bytes == 0 && result.last_seq == written,
          "a version 1 segment reads as ever: %d, last %llu of %llu, torn %llu, %s", rc,
          (unsigned long long)result.last_seq, (unsigned long long)written, (unsigned long long)result.torn_tail_bytes,
          result.damage);
    /* 6. Torn again, and reopened: the torn record's bytes are zeroed (this
     * life's), the earlier life past them is left, and it scans clean. */
    memcpy(data, original, size);
    data[last_at + sizeof(rl_journal_record_header_t)] ^= 0x5a;
    write_all_file(path, data, size);
    int before = earlier_records(data, size);
    CHECK(before > 0, "case 6 needs an earlier life past the torn record");
    rc = scan(dir, &result);
    j = rc == 0 ? open_recycling(dir, result.last_seq + 1, result.tail_segment, result.tail_valid_end) : NULL;
    if (j != NULL) rl_journal_close(j);
    rc = scan(dir, &result);
    CHECK(rc == 0 && !result.corrupt && result.torn_tail_bytes == 0 && result.last_seq == written - 1,
          "reopened after a torn record: %d, last %llu (not %llu), torn %llu, %s", rc,
          (unsigned long long)result.last_seq, (unsigned long long)written - 1,
          (unsigned long long)result.torn_tail_bytes, result.damage);
    CHECK(tail_earlier_records(path) == before, "the earlier life past the torn record was left: %d, not %d",
          tail_earlier_records(path), before);
    /* 7. A pruned segment whose removal a crash undid, back before the live
     * ones: its records (all covered by the snapshot), the terminator, then
     * an earlier life. Passed over: the gap after it is the snapshot's
     * (helper-52: once refused as "valid data after it" was not there). */
    memcpy(data, original, size);
    write_all_file(path, data, size);
    uint8_t *back = calloc(1, FILE_BYTES);
    rl_journal_segment_header_t back_header;
    memcpy(&back_header, original, sizeof(back_header));
    back_header.first_seq = 1;
    back_header.salt = 0x13572468u;
    back_header.crc = rl_crc32c(0, &back_header, offsetof(rl_journal_segment_header_t, crc));
    memcpy(back, &back_header, sizeof(back_header));
    size_t at = sizeof(back_header);
    for (uint64_t seq = 1; seq <= 3; seq++) {
        rl_journal_record_header_t rh;
        memcpy(&rh, original + sizeof(back_header), sizeof(rh));
        size_t one = record_size(rh.length);
        memcpy(back + at, original + sizeof(back_header), one);
        rh.salt = back_header.salt;
        rh.seq = seq;
        memcpy(back + at, &rh, sizeof(rh));
        rh.crc = rl_crc32c(0, back + at + 4, sizeof(rh) - 4 + rh.length);
        memcpy(back + at, &rh, sizeof(rh));
        at += one;
    }
    at += 4096; /* past the terminator: an earlier life's record */
    memcpy(back + at, original + sizeof(back_header), record_size(foreign.length));
    rl_journal_record_header_t earlier_life;
    memcpy(&earlier_life, back + at, sizeof(earlier_life));
    earlier_life.salt = 0x2468ace0u;
    earlier_life.seq = 2;
    memcpy(back + at, &earlier_life, sizeof(earlier_life));
    earlier_life.crc = rl_crc32c(0, back + at + 4, sizeof(earlier_life) - 4 + earlier_life.length);
    memcpy(back + at, &earlier_life, sizeof(earlier_life));
    char back_path[1024];
    snprintf(back_path, sizeof(back_path), "%s/segment-%020d.rlj", dir, 1);
    f = fopen(back_path, "wb");
    if (f != NULL) {
        fwrite(back, 1, FILE_BYTES, f);
        fclose(f);
    }
    free(back);
    rc = scan(dir, &result);
    CHECK(rc == 0 && !result.corrupt && result.last_seq == written,
          "a pruned segment brought back, an earlier life past its terminator: %d, last %llu of %llu, %s", rc,
          (unsigned long long)result.last_seq, (unsigned long long)written, result.damage);
    unlink(back_path);
    free(original);
    free(data);
    /* 8. A segment from before preallocation (version 1, file_bytes 0,
     * ending at its records) continued as the tail: no terminator past its
     * end (helper-52: the 32 zeros grew the file, read as torn, and as
     * damage once the writer rotated away from it). */
    char legacy_dir[512];
    snprintf(legacy_dir, sizeof(legacy_dir), "%s-legacy", dir);
    snprintf(command, sizeof(command), "rm -rf '%s' && mkdir -p '%s'", legacy_dir, legacy_dir);
    if (system(command) != 0) return 1;
    rl_journal_options_t legacy_options = {0};
    legacy_options.segment_bytes = SEGMENT;
    legacy_options.io_mode = RL_JOURNAL_IO_PWRITE;
    legacy_options.cpu = -1;
    j = NULL;
    rc = rl_journal_open(legacy_dir, &legacy_options, 1, NULL, 0, -1, &j);
    if (rc == 0) rc = rl_journal_start(j);
    CHECK(rc == 0, "open %s: %d", legacy_dir, rc);
    if (rc != 0) return 1;
    for (int i = 0; i < 20; i++) push_adjust(j);
    CHECK(rl_journal_flush(j, 5000) == 0, "flush the legacy journal");
    rl_journal_close(j);
    *(&result) = (rl_journal_scan_result_t){0};
    rc = rl_journal_scan(legacy_dir, 0, false, NULL, NULL, &result);
    snprintf(path, sizeof(path), "%s/%s", legacy_dir, result.tail_segment);
    data = read_all(path, &size);
    end = result.tail_valid_end;
    as_version_1(data, end, false);
    write_all_file(path, data, end);
    CHECK(truncate(path, (off_t)end) == 0, "cut %s to its records", path);
    free(data);
    for (int round = 0; round < 2; round++) {
        /* Continued (a few records), then on past a rotation (400). */
        result = (rl_journal_scan_result_t){0};
        rc = rl_journal_scan(legacy_dir, 0, false, NULL, NULL, &result);
        CHECK(rc == 0 && !result.corrupt && result.torn_tail_bytes == 0, "the legacy journal before round %d: %d %s", round,
              rc, result.damage);
        rc = rl_journal_open(legacy_dir, &legacy_options, result.last_seq + 1, result.tail_segment, result.tail_valid_end,
                             -1, &j);
        if (rc == 0) rc = rl_journal_start(j);
        CHECK(rc == 0, "reopen the legacy journal: %d", rc);
        if (rc != 0) return 1;
        for (int i = 0; i < (round == 0 ? 10 : 400); i++) push_adjust(j);
        CHECK(rl_journal_flush(j, 5000) == 0, "flush round %d", round);
        rl_journal_read_stats(j, &stats);
        rl_journal_close(j);
        CHECK(round == 0 || stats.segments_created > 0, "round 1 rotated away from the legacy tail: %llu segments made",
              (unsigned long long)stats.segments_created);
        result = (rl_journal_scan_result_t){0};
        rc = rl_journal_scan(legacy_dir, 0, false, NULL, NULL, &result);
        CHECK(rc == 0 && !result.corrupt && result.torn_tail_bytes == 0 && result.last_seq == stats.next_seq - 1,
              "a legacy tail continued (round %d): %d, last %llu of %llu, torn %llu, %s", round, rc,
              (unsigned long long)result.last_seq, (unsigned long long)stats.next_seq - 1,
              (unsigned long long)result.torn_tail_bytes, result.damage);
    }

    if (failures == 0) {
        printf("PASS journal_recycled_segments: %d earlier records left in %d live segments read as none of theirs; "
               "reopened, torn, damaged and version 1 segments read as they should\n",
               earlier, segments);
    }
    return failures == 0 ? 0 : 1;
}
