/*
 * A power loss in the middle of a commit (format version 3).
 *
 * The writer syncs each commit before it writes the next, so only the last
 * commit can be partly on disk, and the disk may keep any of its 512-byte
 * sectors and lose the others. Before version 3, a lost sector followed by
 * a kept one read as damage ("valid data after it") and the engine refused
 * to start. Version 3 flags each commit's first record; a hole followed only
 * by the rest of its own commit is that commit cut short.
 *
 *  1. Every subset of the last commit's sectors kept (all of them for a
 *     short commit, hundreds at random for a long one; the others hold what
 *     was there before: zeros): the scan never refuses, reads an exact
 *     prefix of the records written, every record of the earlier (synced)
 *     commits included, and names what it drops. The same states with the
 *     segment marked version 2 are refused as before (the case is reached).
 *  2. Damage in the commit before the last, the last whole after it: refused
 *     (a commit follows the hole, so the hole was durable); and a hole that
 *     takes the end of the commit before the last with the first record of
 *     the last (the records after it name a commit that began after the
 *     hole): refused.
 *  3. A journal reopened after such a state cuts the dropped records off,
 *     goes on, and scans clean.
 *  4. Damage in a last commit a snapshot covers: nothing lost, and the
 *     writer goes on after the snapshot in the same segment, read clean at
 *     the next restart, and after a later snapshot; a power loss that then
 *     loses the first sector of the writer's first commit reads as that
 *     commit cut short.
 *
 *   cc -std=c11 -O1 -g -D_GNU_SOURCE -ICSources/RedlineCore/include -ITests/C \
 *      Tests/C/journal_torn_commit.c CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread -lm
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>
#include "journal_test_support.h"
#include "rl_crc32c.h"

enum { SECTOR = 512, MAX_RECORDS = 4096 };

static char dir[512];
static char segment_path[600];

typedef struct original {
    uint64_t count;
    uint64_t seq[MAX_RECORDS];
    rl_event_t event[MAX_RECORDS];
} original_t;

static original_t original;

typedef struct prefix_check {
    uint64_t seen;
    bool differs;
} prefix_check_t;

static int record_original(void *context, const rl_journal_record_header_t *header, const uint8_t *payload) {
    (void)context;
    if (original.count == MAX_RECORDS || header->length != sizeof(rl_event_t)) return -E2BIG;
    original.seq[original.count] = header->seq;
    memcpy(&original.event[original.count], payload, sizeof(rl_event_t));
    original.count++;
    return 0;
}

/* The k-th record visited must be the k-th record written, byte for byte. */
static int check_prefix(void *context, const rl_journal_record_header_t *header, const uint8_t *payload) {
    prefix_check_t *check = context;
    uint64_t k = check->seen++;
    if (k >= original.count || header->seq != original.seq[k] || header->length != sizeof(rl_event_t) ||
        memcmp(payload, &original.event[k], sizeof(rl_event_t)) != 0) {
        check->differs = true;
    }
    return 0;
}

static void write_segment(const uint8_t *data, size_t size) {
    FILE *f = fopen(segment_path, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size) {
        printf("cannot write %s\n", segment_path);
        exit(1);
    }
    fclose(f);
}

static void push_events(rl_journal_t *j, int count, int64_t first_qty) {
    for (int i = 0; i < count; i++) {
        rl_event_t e = {0};
        e.type = RL_EVENT_POSITION_ADJUST;
        e.symbol = 0;
        e.qty = first_qty + i;
        e.price = 100 * 100000000LL;
        push(j, &e);
    }
}

static void push_events(rl_journal_t *j, int count, int64_t first_qty);

/* A journal in `dir` (1 MiB segments, pwrite) going on at `next_seq`, in
 * `tail` from `truncate_at` if given; `prefill` events handed over before
 * the writer starts (its first pass takes them: one commit). */
static rl_journal_t *open_journal(uint64_t next_seq, const char *tail, uint64_t truncate_at, int prefill) {
    rl_journal_options_t options = {0};
    options.segment_bytes = 1 << 20;
    options.io_mode = RL_JOURNAL_IO_PWRITE;
    options.cpu = -1;
    rl_journal_t *j = NULL;
    int rc = rl_journal_open(dir, &options, next_seq, tail, truncate_at, -1, &j);
    if (rc == 0 && prefill > 0) push_events(j, prefill, 300000);
    if (rc == 0) rc = rl_journal_start(j);
    if (rc != 0) {
        printf("open: %d\n", rc);
        exit(1);
    }
    return j;
}

/* Offsets of the records of the image, from its segment header on, and
 * which of them open a commit. Returns the count; *end is past the last. */
static int record_offsets(const uint8_t *data, size_t size, size_t *offsets, bool *opens, size_t *end) {
    size_t at = sizeof(rl_journal_segment_header_t);
    int n = 0;
    while (at + sizeof(rl_journal_record_header_t) <= size && n < MAX_RECORDS) {
        rl_journal_record_header_t h;
        memcpy(&h, data + at, sizeof(h));
        if (h.type == 0 || h.seq == 0) break;
        offsets[n] = at;
        opens[n] = (h.flags & RL_JREC_FLAG_COMMIT_START) != 0;
        n++;
        at += sizeof(h) + ((h.length + 7u) & ~7u);
    }
    *end = at;
    return n;
}

static void set_version(uint8_t *image, uint32_t version) {
    rl_journal_segment_header_t header;
    memcpy(&header, image, sizeof(header));
    header.version = version;
    header.crc = rl_crc32c(0, &header, offsetof(rl_journal_segment_header_t, crc));
    memcpy(image, &header, sizeof(header));
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_random(void) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

int main(int argc, char **argv) {
    snprintf(dir, sizeof(dir), "%s", argc > 1 ? argv[1] : "/tmp/redline-journal-torn-commit");
    char command[1200];
    snprintf(command, sizeof(command), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(command) != 0) return 1;
    snprintf(segment_path, sizeof(segment_path), "%s/segment-%020d.rlj", dir, 1);

    /* A few commits, then a long one: 200 records handed over before the
     * writer (reopened) starts, which its first pass takes as one commit. */
    rl_journal_t *j = open_journal(1, NULL, 0, 0);
    int64_t qty = 1;
    for (int round = 0; round < 3; round++) {
        push_events(j, 30, qty);
        qty += 30;
        CHECK(rl_journal_flush(j, 10000) == 0, "flush");
    }
    rl_journal_stop(j);
    rl_journal_close(j);
    rl_journal_scan_result_t result;
    CHECK(rl_journal_scan(dir, 0, false, NULL, NULL, &result) == 0 && result.last_seq == 90, "90 records first");
    char tail[128];
    snprintf(tail, sizeof(tail), "%s", result.tail_segment);
    j = open_journal(91, tail, result.tail_valid_end, 200);
    CHECK(rl_journal_flush(j, 10000) == 0, "flush");
    rl_journal_stop(j);
    rl_journal_close(j);

    size_t size;
    uint8_t *after = read_all(segment_path, &size);
    if (after == NULL) {
        printf("cannot read %s\n", segment_path);
        return 1;
    }
    rl_journal_segment_header_t header;
    memcpy(&header, after, sizeof(header));
    CHECK(header.version == 3, "new segments are version 3 (%u)", header.version);

    CHECK(rl_journal_scan(dir, 0, false, record_original, NULL, &result) == 0 && !result.corrupt &&
              result.torn_tail_bytes == 0 && original.count == 290,
          "the journal as written scans clean (%" PRIu64 " records)", original.count);

    static size_t offsets[MAX_RECORDS];
    static bool opens[MAX_RECORDS];
    size_t records_end;
    int n = record_offsets(after, size, offsets, opens, &records_end);
    CHECK(n == 290 && opens[0], "290 records, the first opening a commit (%d)", n);
    int commits = 0, last_open = 0, before_last_open = -1;
    for (int i = 0; i < n; i++) {
        if (opens[i]) {
            commits++;
            before_last_open = last_open;
            last_open = i;
        }
    }
    CHECK(commits >= 4, "at least one commit per flush (%d)", commits);
    /* What the last commit's write covers: from the sector its first record
     * starts in (a direct write rewrites the bytes before it unchanged) to
     * the end of its terminator. Before it was written: the earlier records,
     * then zeros (a new segment's). */
    size_t first_sector = offsets[last_open] / SECTOR;
    size_t write_end = records_end + RL_JOURNAL_TERMINATOR_BYTES;
    size_t sectors = (write_end + SECTOR - 1) / SECTOR - first_sector;
    printf("commits: %d; the last: records %d-%d, %zu bytes over %zu sectors\n", commits, last_open + 1, n,
           records_end - offsets[last_open], sectors);
    CHECK(sectors >= 8, "the last commit spans sectors enough to lose some in the middle (%zu)", sectors);
    uint8_t *before = malloc(size);
    memcpy(before, after, size);
    memset(before + offsets[last_open], 0, size - offsets[last_open]);

    /* 1. Power losses: each sector of the last commit kept or not. */
    uint8_t *image = malloc(size);
    int trials = 0, dropped_states = 0, refused_v2 = 0;
    uint64_t synced = (uint64_t)last_open; /* records of the commits before the last: durable */
    for (int t = 0; t < 800; t++) {
        memcpy(image, before, size);
        for (size_t s = 0; s < sectors; s++) {
            bool kept;
            if (t == 0) kept = true;                          /* all of it */
            else if (t == 1) kept = false;                    /* none */
            else if (t < 2 + (int)sectors) kept = s != (size_t)(t - 2); /* all but one */
            else kept = next_random() & 1;
            if (!kept) continue;
            size_t from = (first_sector + s) * SECTOR, to = from + SECTOR > size ? size : from + SECTOR;
            memcpy(image + from, after + from, to - from);
        }
        write_segment(image, size);
        prefix_check_t check = {0};
        int rc = rl_journal_scan(dir, 0, false, check_prefix, &check, &result);
        trials++;
        CHECK(rc == 0 && !result.corrupt, "trial %d: refused (%d): %s", t, rc, result.damage);
        CHECK(!check.differs, "trial %d: a record read differs from the one written, or is out of order", t);
        CHECK(check.seen >= synced, "trial %d: %" PRIu64 " records read, fewer than the %" PRIu64 " synced", t,
              check.seen, synced);
        if (result.lost_first > 0) {
            dropped_states++;
            CHECK(result.torn_tail_bytes > 0 && result.lost_first == check.seen + 1 && result.lost_last > result.lost_first &&
                      result.lost_last <= original.seq[original.count - 1] && result.damage[0] != 0,
                  "trial %d: a commit cut short is a torn tail that names what it drops (%" PRIu64 "-%" PRIu64
                  ", torn %" PRIu64 ")", t, result.lost_first, result.lost_last, result.torn_tail_bytes);
        }
        /* The same state in a version 2 segment: the rule is off. */
        set_version(image, 2);
        write_segment(image, size);
        rl_journal_scan_result_t v2;
        if (rl_journal_scan(dir, 0, false, NULL, NULL, &v2) == -EBADMSG) refused_v2++;
    }
    printf("power losses: %d states, %d of them a commit cut short with records after the hole (dropped, said), "
           "%d refused when read as version 2\n", trials, dropped_states, refused_v2);
    CHECK(dropped_states > 0 && refused_v2 > 0 && refused_v2 <= dropped_states,
          "the case is reached: holes with records after them (%d), refused under version 2's rule (%d)",
          dropped_states, refused_v2);

    /* 2. Damage in the commit before the last, the last whole: refused. */
    memcpy(image, after, size);
    size_t victim = offsets[before_last_open + 1]; /* inside it, not its first record */
    CHECK(before_last_open + 1 < last_open, "the commit before the last has two records or more");
    image[victim + 20] ^= 0x40;
    write_segment(image, size);
    int rc = rl_journal_scan(dir, 0, false, NULL, NULL, &result);
    CHECK(rc == -EBADMSG && result.corrupt && result.damage[0] != 0,
          "damage in a synced commit with a commit after it is refused (%d)", rc);
    /* A hole from the last record of the commit before the last through the
     * last commit's first: no record after it opens a commit, but each names
     * its commit, which began after the hole: a synced record is in it.
     * Refused (once read as the last commit cut short, dropping it). */
    memcpy(image, after, size);
    memset(image + offsets[last_open - 1], 0, offsets[last_open + 1] - offsets[last_open - 1]);
    write_segment(image, size);
    rc = rl_journal_scan(dir, 0, false, NULL, NULL, &result);
    CHECK(rc == -EBADMSG && result.corrupt && result.damage[0] != 0,
          "a hole that takes a synced commit's record with it is refused (%d): %s", rc, result.damage);
    /* The last commit's first record lost, the rest of it intact: the rest
     * names the commit the hole is in; it reads as that commit cut short. */
    memcpy(image, after, size);
    image[offsets[last_open] + 20] ^= 0x40;
    write_segment(image, size);
    rc = rl_journal_scan(dir, 0, false, NULL, NULL, &result);
    CHECK(rc == 0 && !result.corrupt && result.lost_first == original.seq[last_open] &&
              result.records == (uint64_t)last_open,
          "the last commit's first record lost: the commit is cut there (%d, %" PRIu64 " records)", rc, result.records);

    /* 3. Reopened after a hole in the middle of the last commit: the records
     * after it are cut off, the journal goes on and scans clean. */
    memcpy(image, after, size);
    size_t hole = (first_sector + sectors / 2) * SECTOR;
    memset(image + hole, 0, SECTOR);
    write_segment(image, size);
    rc = rl_journal_scan(dir, 0, false, NULL, NULL, &result);
    CHECK(rc == 0 && result.lost_first > 0, "a hole mid-commit reads as the commit cut short (%d)", rc);
    uint64_t kept = result.records;
    snprintf(tail, sizeof(tail), "%s", result.tail_segment);
    j = open_journal(result.last_seq + 1, tail, result.tail_valid_end, 0);
    push_events(j, 10, 100000);
    CHECK(rl_journal_flush(j, 10000) == 0, "flush after reopening");
    rl_journal_stop(j);
    rl_journal_close(j);
    rc = rl_journal_scan(dir, 0, false, NULL, NULL, &result);
    CHECK(rc == 0 && !result.corrupt && result.torn_tail_bytes == 0 && result.lost_first == 0 &&
              result.records == kept + 10 && result.last_seq == kept + 10,
          "reopened, it goes on after the kept records and scans clean (%d: %" PRIu64 " records, last %" PRIu64
          ", torn %" PRIu64 ")", rc, result.records, result.last_seq, result.torn_tail_bytes);

    /* 4. Damage in the last commit that a snapshot covers (synced: media
     * damage, not a power loss). Nothing is lost; the writer goes on after
     * the snapshot in the same segment, and the next restart reads it clean
     * (once refused: the records after the snapshot followed the last good
     * one with a gap, and recovering to last good lost them). */
    rc = rl_journal_scan(dir, 0, false, NULL, NULL, &result);
    uint64_t covered = result.last_seq;
    CHECK(rl_journal_write_snapshot(dir, covered, NULL, 0) == 0, "a snapshot covering %" PRIu64, covered);
    size_t tail_size;
    uint8_t *tail_image = read_all(segment_path, &tail_size);
    size_t tail_end;
    int tail_n = record_offsets(tail_image, tail_size, offsets, opens, &tail_end);
    int tail_open = 0;
    for (int i = 0; i < tail_n; i++) {
        if (opens[i]) tail_open = i;
    }
    CHECK(tail_n - tail_open >= 3, "the last commit has three records or more (%d)", tail_n - tail_open);
    tail_image[offsets[tail_open + 1] + 20] ^= 0x40;
    write_segment(tail_image, tail_size);
    rc = rl_journal_scan(dir, covered, false, NULL, NULL, &result);
    CHECK(rc == 0 && !result.corrupt && result.lost_first == 0 && result.torn_tail_bytes > 0 && result.damage[0] != 0,
          "damage the snapshot covers: torn, nothing lost (%d, lost %" PRIu64 "): %s", rc, result.lost_first,
          result.damage);
    snprintf(tail, sizeof(tail), "%s", result.tail_segment);
    size_t resumed_at = result.tail_valid_end;
    j = open_journal(covered + 1, tail, resumed_at, 40); /* one commit of 40 */
    CHECK(rl_journal_flush(j, 10000) == 0, "flush after the snapshot");
    rl_journal_stop(j);
    rl_journal_close(j);
    rc = rl_journal_scan(dir, covered, false, NULL, NULL, &result);
    CHECK(rc == 0 && !result.corrupt && result.torn_tail_bytes == 0 && result.last_seq == covered + 40 &&
              result.records == (uint64_t)(tail_open + 1) + 40,
          "the next restart reads it clean: %d, last %" PRIu64 ", %" PRIu64 " records, torn %" PRIu64 ": %s", rc,
          result.last_seq, result.records, result.torn_tail_bytes, result.damage);
    /* A later snapshot (the writer's own, before it rotates): the gap is
     * still one a snapshot covers (once refused: the jump no longer landed
     * on its sequence + 1). */
    CHECK(rl_journal_write_snapshot(dir, covered + 40, NULL, 0) == 0, "a later snapshot");
    rc = rl_journal_scan(dir, covered + 40, false, NULL, NULL, &result);
    CHECK(rc == 0 && !result.corrupt && result.torn_tail_bytes == 0 && result.last_seq == covered + 40,
          "with a later snapshot it reads clean: %d, last %" PRIu64 ": %s", rc, result.last_seq, result.damage);
    /* A power loss in that commit, losing its first sector alone (the rest
     * on disk, past the snapshot-covered records left after the hole): the
     * commit cut short, its 40 records dropped (once refused: they name a
     * commit that began after the hole). */
    uint8_t *resumed = read_all(segment_path, &size);
    tail_n = record_offsets(resumed, size, offsets, opens, &tail_end);
    CHECK(tail_n > 40 && opens[tail_n - 40] && offsets[tail_n - 40] == resumed_at,
          "the 40 records after the snapshot are one commit where the tail was cut");
    size_t lost_sector = resumed_at / SECTOR * SECTOR;
    memcpy(resumed + lost_sector, tail_image + lost_sector, SECTOR);
    write_segment(resumed, size);
    rc = rl_journal_scan(dir, covered, false, NULL, NULL, &result);
    CHECK(rc == 0 && !result.corrupt && result.lost_first == covered + 1 && result.lost_last == covered + 40 &&
              result.torn_tail_bytes > 0,
          "its first sector lost: the commit cut short (%d, lost %" PRIu64 "-%" PRIu64 "): %s", rc, result.lost_first,
          result.lost_last, result.damage);
    free(resumed);
    free(tail_image);

    free(image);
    free(before);
    free(after);
    if (failures) {
        printf("journal_torn_commit: %d FAILED\n", failures);
        return 1;
    }
    printf("journal_torn_commit: all passed\n");
    return 0;
}
