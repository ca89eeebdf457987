#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setaffinity_np */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Paths are DIR (length-checked at open) plus a short file name; snprintf
 * truncation is checked where it matters, so gcc's guesses are noise here. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include "rl_clock.h"
#include "rl_crc32c.h"
#include "rl_engine.h"
#include "rl_journal.h"
#include "rl_numa.h"

#if __has_include(<liburing.h>)
#include <liburing.h>
#define RL_HAVE_LIBURING 1
#else
#define RL_HAVE_LIBURING 0 /* built without liburing-dev: pwrite + fdatasync only */
#endif

bool rl_journal_built_with_io_uring(void) { return RL_HAVE_LIBURING; }

#ifdef RL_TEST_HOOKS
/* No fault unless a test defines its own (journal_full_disk.c). */
__attribute__((weak)) int (*rl_test_fault)(const char *point, int result) = NULL;
#endif

/* ---- Format ------------------------------------------------------------ */

static uint64_t rl_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rl_monotonic_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

static size_t rl_record_size(uint32_t length) { return (sizeof(rl_journal_record_header_t) + length + 7) & ~(size_t)7; }

/* Encode one record at `dst` (which has rl_record_size(length) bytes), with
 * its segment's salt (0 in a snapshot). */
static size_t rl_record_encode(uint8_t *dst, uint16_t type, uint64_t seq, const void *payload, uint32_t length,
                               uint64_t timestamp_ns, uint32_t salt, uint16_t flags) {
    size_t size = rl_record_size(length);
    rl_journal_record_header_t header = {0};
    header.length = length;
    header.type = type;
    header.flags = flags;
    header.salt = salt;
    header.seq = seq;
    header.timestamp_ns = timestamp_ns;
    memcpy(dst, &header, sizeof(header));
    if (length) memcpy(dst + sizeof(header), payload, length);
    memset(dst + sizeof(header) + length, 0, size - sizeof(header) - length);
    uint32_t crc = rl_crc32c(0, dst + 4, sizeof(header) - 4 + length);
    memcpy(dst, &crc, sizeof(crc));
    return size;
}

static void rl_segment_header_init(rl_journal_segment_header_t *header, uint64_t magic, uint64_t first_seq) {
    memset(header, 0, sizeof(*header));
    header->magic = magic;
    header->version = RL_JOURNAL_VERSION;
    header->header_size = sizeof(*header);
    header->first_seq = first_seq;
    header->created_ns = rl_realtime_ns();
    header->crc = rl_crc32c(0, header, offsetof(rl_journal_segment_header_t, crc));
}

/* Record the file's size (and a snapshot's record count) in its header. */
static void rl_segment_header_set_size(rl_journal_segment_header_t *header, uint64_t file_bytes, uint64_t records) {
    header->file_bytes = file_bytes;
    header->record_count = records;
    header->crc = rl_crc32c(0, header, offsetof(rl_journal_segment_header_t, crc));
}

/* 0 ok; -EBADMSG with a message otherwise. */
static int rl_segment_header_check(const rl_journal_segment_header_t *header, uint64_t magic, char *damage, size_t cap) {
    if (header->magic != magic) {
        snprintf(damage, cap, "wrong magic number 0x%016" PRIx64, header->magic);
        return -EBADMSG;
    }
    if (header->version < RL_JOURNAL_VERSION_OLDEST_READ || header->version > RL_JOURNAL_VERSION ||
        header->header_size != sizeof(*header)) {
        snprintf(damage, cap, "unsupported format version %u (this build reads %u to %u)", header->version,
                 RL_JOURNAL_VERSION_OLDEST_READ, RL_JOURNAL_VERSION);
        return -EBADMSG;
    }
    if (header->crc != rl_crc32c(0, header, offsetof(rl_journal_segment_header_t, crc))) {
        snprintf(damage, cap, "segment header checksum mismatch");
        return -EBADMSG;
    }
    return 0;
}

/* A valid record at `offset` of `data`? Returns its size, or 0. */
static int rl_write_all(int fd, const void *data, size_t size, off_t offset);

/* Make [from, end) of fd read as zeros, writing only the 64 KiB chunks that
 * are not zeros already (after the last good record: a torn write at most,
 * or a stray byte). 0 or -errno. */
static int rl_zero_from(int fd, uint64_t from, uint64_t end) {
    static const uint8_t zeros[64 * 1024];
    uint8_t chunk[64 * 1024];
    for (uint64_t at = from; at < end;) {
        size_t want = end - at < sizeof(chunk) ? (size_t)(end - at) : sizeof(chunk);
        ssize_t got = pread(fd, chunk, want, (off_t)at);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return got < 0 ? -errno : 0;
        if (memcmp(chunk, zeros, (size_t)got) != 0) {
            int rc = rl_write_all(fd, zeros, (size_t)got, (off_t)at);
            if (rc != 0) return rc;
        }
        at += (uint64_t)got;
    }
    return 0;
}

/* Where a record header of a version 2 segment's own life, at `at`, ends:
 * its salt the segment's and its sequence from `next_seq` on, whole or not
 * (a torn record's header may be all that was written). 0: not one. */
static uint64_t rl_own_record_end(const rl_journal_record_header_t *header, uint64_t at, uint32_t salt,
                                  uint64_t next_seq) {
    if (header->salt != salt || header->seq < next_seq) return 0;
    return at + (header->length <= RL_JOURNAL_MAX_PAYLOAD ? rl_record_size(header->length) : sizeof(*header));
}

/* Where the bytes of a version 2 segment's own life end past `from`: past
 * the last record header there with its salt and a sequence from `next_seq`
 * on, whole or not (what a torn commit, or records after damage that a
 * recovery to last good stepped over, left), and at least the terminator's
 * end. The rest is an earlier life's, which no record of this salt can be
 * read from: the writer need not zero it. end, or -errno. */
static int64_t rl_own_bytes_end(int fd, uint64_t from, uint64_t end, uint32_t salt, uint64_t next_seq) {
    enum { CHUNK = 64 * 1024 };
    uint8_t chunk[CHUNK + sizeof(rl_journal_record_header_t)];
    uint64_t own = from + RL_JOURNAL_TERMINATOR_BYTES;
    for (uint64_t at = from; at < end;) {
        size_t want = end - at < sizeof(chunk) ? (size_t)(end - at) : sizeof(chunk);
        ssize_t got = pread(fd, chunk, want, (off_t)at);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return -errno;
        if (got == 0) break;
        /* Headers at 8-byte steps from `from` (records are 8-aligned); one
         * that starts in this chunk is read whole (the chunk reads 32 more). */
        size_t step = (size_t)got > CHUNK ? CHUNK : (size_t)got;
        for (size_t k = 0; k + sizeof(rl_journal_record_header_t) <= (size_t)got && k < step; k += 8) {
            rl_journal_record_header_t header;
            memcpy(&header, chunk + k, sizeof(header));
            uint64_t stop = rl_own_record_end(&header, at + k, salt, next_seq);
            if (stop > own) own = stop;
        }
        at += step;
    }
    return (int64_t)(own < end ? own : end);
}

/* Allocate [offset, offset + length) of fd, extending it: fallocate, or where
 * the filesystem has none, ftruncate (sparse: the size is what matters). */
static int rl_preallocate(int fd, uint64_t offset, uint64_t length) {
    if (fallocate(fd, 0, (off_t)offset, (off_t)length) == 0) return 0;
    if (errno != EOPNOTSUPP && errno != ENOSYS) return -errno;
    return ftruncate(fd, (off_t)(offset + length)) == 0 ? 0 : -errno;
}

/* A record of this file at `offset`: its salt the file's, its sequence at
 * least min_seq, whole, its CRC right. Returns its size, or 0. */
static size_t rl_record_check(const uint8_t *data, size_t size, size_t offset, uint64_t min_seq, uint32_t salt) {
    if (size - offset < sizeof(rl_journal_record_header_t)) return 0;
    rl_journal_record_header_t header;
    memcpy(&header, data + offset, sizeof(header));
    if (header.salt != salt) return 0; /* an earlier life's record in a recycled segment */
    if (header.length > RL_JOURNAL_MAX_PAYLOAD) return 0;
    size_t record = rl_record_size(header.length);
    if (record > size - offset) return 0;
    if (header.seq < min_seq) return 0;
    uint32_t crc = rl_crc32c(0, data + offset + 4, sizeof(header) - 4 + header.length);
    return crc == header.crc ? record : 0;
}

/* ---- Directory listing ------------------------------------------------- */

typedef struct rl_file_entry {
    uint64_t seq;
    char name[96];
} rl_file_entry_t;

static int rl_file_entry_compare(const void *a, const void *b) {
    uint64_t x = ((const rl_file_entry_t *)a)->seq, y = ((const rl_file_entry_t *)b)->seq;
    return x < y ? -1 : x > y;
}

/* Files named PREFIX<20 digits>SUFFIX in DIR, sorted by the number.
 * Returns the count (>= 0) with *out malloc'ed, or -errno. */
static int rl_list_files(const char *dir, const char *prefix, const char *suffix, rl_file_entry_t **out) {
    DIR *d = opendir(dir);
    if (d == NULL) return -errno;
    size_t count = 0, cap = 16;
    rl_file_entry_t *entries = malloc(cap * sizeof(*entries));
    if (entries == NULL) {
        closedir(d);
        return -ENOMEM;
    }
    size_t plen = strlen(prefix), slen = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len != plen + 20 + slen || strncmp(e->d_name, prefix, plen) != 0 ||
            strcmp(e->d_name + plen + 20, suffix) != 0 || len >= sizeof(entries[0].name)) {
            continue;
        }
        char digits[21];
        memcpy(digits, e->d_name + plen, 20);
        digits[20] = 0;
        char *end;
        uint64_t seq = strtoull(digits, &end, 10);
        if (*end != 0) continue;
        if (count == cap) {
            rl_file_entry_t *grown = realloc(entries, 2 * cap * sizeof(*entries));
            if (grown == NULL) {
                free(entries);
                closedir(d);
                return -ENOMEM;
            }
            entries = grown;
            cap *= 2;
        }
        entries[count].seq = seq;
        snprintf(entries[count].name, sizeof(entries[count].name), "%s", e->d_name);
        count++;
    }
    closedir(d);
    qsort(entries, count, sizeof(*entries), rl_file_entry_compare);
    *out = entries;
    return (int)count;
}

static int rl_read_file(const char *path, uint8_t **data, size_t *size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    uint8_t *buffer = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    if (buffer == NULL) {
        close(fd);
        return -ENOMEM;
    }
    size_t done = 0;
    while (done < (size_t)st.st_size) {
        ssize_t n = pread(fd, buffer + done, (size_t)st.st_size - done, (off_t)done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int rc = n < 0 ? -errno : -EIO;
            free(buffer);
            close(fd);
            return rc;
        }
        done += (size_t)n;
    }
    close(fd);
    *data = buffer;
    *size = done;
    return 0;
}

/* DIR exists and is a directory we may read (and, for a writer, write). */
static int rl_check_dir_access(const char *dir, bool write) {
    struct stat st;
    if (stat(dir, &st) != 0) return -errno;
    if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
    if (access(dir, write ? R_OK | W_OK | X_OK : R_OK | X_OK) != 0) return -errno;
    return 0;
}

static int rl_check_dir(const char *dir) { return rl_check_dir_access(dir, true); }

static int rl_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

static int rl_write_all(int fd, const void *data, size_t size, off_t offset) {
    const uint8_t *p = data;
    while (size > 0) {
        ssize_t n = pwrite(fd, p, size, offset);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        p += n;
        size -= (size_t)n;
        offset += n;
    }
    return 0;
}

/* ---- The manifest ------------------------------------------------------ */

static uint32_t rl_manifest_crc(const rl_journal_manifest_t *m) {
    return rl_crc32c(0, m, offsetof(rl_journal_manifest_t, crc));
}

static bool rl_manifest_valid(const rl_journal_manifest_t *m) {
    return m->magic == RL_JOURNAL_MANIFEST_MAGIC && m->size == sizeof(*m) && m->crc == rl_manifest_crc(m);
}

/* The newest valid copy in a manifest file's bytes: 0, or -EBADMSG. */
static int rl_manifest_pick(const uint8_t *data, size_t size, rl_journal_manifest_t *out) {
    if (size == sizeof(*out)) { /* the one-copy format */
        memcpy(out, data, sizeof(*out));
        return rl_manifest_valid(out) ? 0 : -EBADMSG;
    }
    if (size != RL_JOURNAL_MANIFEST_FILE_BYTES) return -EBADMSG;
    bool found = false;
    for (size_t slot = 0; slot < 2; slot++) {
        rl_journal_manifest_t copy;
        memcpy(&copy, data + slot * RL_JOURNAL_MANIFEST_SLOT, sizeof(copy));
        if (rl_manifest_valid(&copy) && (!found || copy.generation > out->generation)) {
            *out = copy;
            found = true;
        }
    }
    return found ? 0 : -EBADMSG;
}

int rl_journal_read_manifest(const char *dir, rl_journal_manifest_t *out) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/MANIFEST", dir);
    uint8_t *data;
    size_t size;
    int rc = rl_read_file(path, &data, &size);
    if (rc != 0) return rc;
    rc = rl_manifest_pick(data, size, out);
    free(data);
    return rc;
}

/* Rewrite DIR/MANIFEST from what is on disk now: the newest segment and the
 * newest snapshot. Every value comes from a file that exists, so a writer
 * racing another (the writer thread and a snapshot) can only leave the
 * manifest a step behind, never naming a file that was not there. */
/* The writer (new segments) and the snapshot thread (snapshots, pruning) both
 * rewrite the manifest from the directory: one at a time, so the last write
 * always carries the newest listing (and each copy's generation is one
 * more than the one before). Cold path. */
static pthread_mutex_t rl_manifest_lock = PTHREAD_MUTEX_INITIALIZER;

static int rl_manifest_write_locked(const char *dir);

static int rl_manifest_write(const char *dir) {
    pthread_mutex_lock(&rl_manifest_lock);
    int rc = rl_manifest_write_locked(dir);
    pthread_mutex_unlock(&rl_manifest_lock);
    return rc;
}

static int rl_manifest_write_locked(const char *dir) {
    rl_file_entry_t *files;
    rl_journal_manifest_t m;
    memset(&m, 0, sizeof(m));
    int count = rl_list_files(dir, "segment-", ".rlj", &files);
    if (count < 0) return count;
    if (count > 0) m.newest_segment_seq = files[count - 1].seq;
    free(files);
    count = rl_list_files(dir, "snapshot-", ".rls", &files);
    if (count < 0) return count;
    if (count > 0) m.snapshot_seq = files[count - 1].seq;
    free(files);
    m.magic = RL_JOURNAL_MANIFEST_MAGIC;
    m.version = RL_JOURNAL_VERSION;
    m.size = sizeof(m);
    m.written_ns = rl_realtime_ns();
    char tmp[PATH_MAX], path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/MANIFEST", dir);
    uint8_t file[RL_JOURNAL_MANIFEST_FILE_BYTES];
    /* In place: both copies, the first, then the second, each synced before
     * the next is touched. A crash in the first leaves the second as it was
     * (the manifest before this rewrite, which nothing counted on yet); a
     * crash in the second leaves the first, synced, as the newest. Once
     * both are written they are the same, so a copy damaged later hides
     * nothing: the other says what it said. */
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        rl_journal_manifest_t newest;
        ssize_t got = pread(fd, file, sizeof(file), 0);
        struct stat st;
        if (got == (ssize_t)sizeof(file) && fstat(fd, &st) == 0 && st.st_size == (off_t)sizeof(file)) {
            /* No valid copy (both damaged): the first generation. */
            m.generation = rl_manifest_pick(file, sizeof(file), &newest) == 0 ? newest.generation + 1 : 1;
            m.crc = rl_manifest_crc(&m);
            memset(file, 0, RL_JOURNAL_MANIFEST_SLOT);
            memcpy(file, &m, sizeof(m));
            int rc = 0;
            for (int slot = 0; slot < 2 && rc == 0; slot++) {
                /* A whole slot: a device with 4 KiB physical sectors never reads one back to write part of it. */
                rc = rl_write_all(fd, file, RL_JOURNAL_MANIFEST_SLOT, (off_t)slot * RL_JOURNAL_MANIFEST_SLOT);
                if (rc == 0 && fdatasync(fd) != 0) rc = -errno;
            }
            close(fd);
            return rc;
        }
        close(fd);
    }
    /* None yet, or the one-copy format: a new two-copy file, both copies
     * this one (generation 1), made atomically. */
    m.generation = 1;
    m.crc = rl_manifest_crc(&m);
    memset(file, 0, sizeof(file));
    memcpy(file, &m, sizeof(m));
    memcpy(file + RL_JOURNAL_MANIFEST_SLOT, &m, sizeof(m));
    snprintf(tmp, sizeof(tmp), "%s/MANIFEST.%ld.tmp", dir, (long)syscall(SYS_gettid));
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? -errno : rl_write_all(fd, file, sizeof(file), 0);
    if (rc == 0 && fdatasync(fd) != 0) rc = -errno;
    if (fd >= 0) close(fd);
    if (rc == 0 && rename(tmp, path) != 0) rc = -errno;
    if (rc != 0) unlink(tmp);
    if (rc == 0) rc = rl_fsync_dir(dir);
    return rc;
}

/* The highest valid sequence in data[offset, size), probing every 8 bytes:
 * how far lost records went. */
static uint64_t rl_highest_seq(const uint8_t *data, size_t size, size_t offset, size_t probe_end, uint32_t salt) {
    uint64_t highest = 0;
    for (; offset < probe_end && offset + sizeof(rl_journal_record_header_t) <= size; offset += 8) {
        if (rl_record_check(data, size, offset, 0, salt) == 0) continue;
        rl_journal_record_header_t rh;
        memcpy(&rh, data + offset, sizeof(rh));
        if (rh.seq > highest) highest = rh.seq;
    }
    return highest;
}

static bool rl_all_zero(const uint8_t *data, size_t length) {
    for (size_t i = 0; i < length; i++) {
        if (data[i] != 0) return false;
    }
    return true;
}

/* Whether a version 2 segment's records end cleanly at `offset`: the
 * terminator's zeros there (as many as the file still holds). */
static bool rl_terminated(const uint8_t *data, size_t size, size_t offset) {
    size_t room = size - offset < RL_JOURNAL_TERMINATOR_BYTES ? size - offset : RL_JOURNAL_TERMINATOR_BYTES;
    return rl_all_zero(data + offset, room);
}

/* The torn tail after a segment's last record at `offset` (the last
 * segment's, with no valid record after it, or none but the rest of a
 * version 3 commit cut short: `cut_commit`): its bytes, or 0 when it ends
 * cleanly. A version 1 segment holds zeros after its records: everything
 * non-zero up to `written` is torn, as ever. In version 2 every commit
 * leaves the terminator's zeros after its records (and the file may end
 * there): where they are, the records end cleanly, whatever of a recycled
 * file's earlier life lies past them. Anything else there is a commit cut
 * short, or a damaged last record: torn up to the next zeros or the next
 * header that looks like an earlier life's record, and past every header
 * of the segment's own salt and a sequence from `expected` on (whole or
 * not). */
static size_t rl_torn_bytes(const uint8_t *data, size_t size, size_t offset, size_t written, uint32_t salt,
                            uint64_t expected, bool cut_commit) {
    if (salt == 0) return written - offset;
    /* A commit cut short may have lost its first sectors, the terminator's
     * zeros before them still there: torn all the same. */
    if (!cut_commit && rl_terminated(data, size, offset)) return 0;
    size_t end = offset + 8;
    while (end < written && end + RL_JOURNAL_TERMINATOR_BYTES <= size && !rl_all_zero(data + end, RL_JOURNAL_TERMINATOR_BYTES)) {
        /* An earlier life's record starts here (by its header alone: a CRC at
         * every step could cost minutes over 64 MiB of crafted bytes). */
        rl_journal_record_header_t header;
        memcpy(&header, data + end, sizeof(header));
        if (header.salt != 0 && header.salt != salt && header.type >= RL_JREC_EVENT &&
            header.type <= RL_JREC_OPERATOR && header.length <= RL_JOURNAL_MAX_PAYLOAD) {
            break;
        }
        end += 8;
    }
    if (end > written) end = written;
    for (size_t probe = end; probe < written && probe + sizeof(rl_journal_record_header_t) <= size; probe += 8) {
        rl_journal_record_header_t header;
        memcpy(&header, data + probe, sizeof(header));
        uint64_t stop = rl_own_record_end(&header, probe, salt, expected);
        if (stop > size) stop = size;
        if (stop > end) end = (size_t)stop;
    }
    return end > offset ? end - offset : 0;
}

/* ---- Scanning ---------------------------------------------------------- */

/* A version 3 segment's bad record at `offset`, where `expected` was due,
 * followed by valid records of its own salt: whether they are the rest of
 * the segment's last commit, cut short by a power loss that kept some of its
 * sectors and lost others. They are when none of them opens a commit and
 * each names one commit that began at or before `expected` (the hole is
 * inside it; each commit is synced before the next is written, so no
 * commit follows it). A commit that began after `expected` means the hole
 * took earlier, synced commits with it: damage. Records the snapshot covers
 * (up to `after_seq`) are not needed and are passed over: a writer that
 * went on after the snapshot (at after_seq + 1, in this segment) left them
 * past its own, so its commit may begin at after_seq + 1; after covered
 * records alone, nothing is lost. The uncovered records' first sequence
 * goes to *first, the highest of all to *last. */
static bool rl_cut_commit_after(const uint8_t *data, size_t size, size_t offset, size_t written, uint64_t expected,
                                uint64_t after_seq, const rl_journal_segment_header_t *segment, uint64_t *first,
                                uint64_t *last) {
    uint64_t due = expected > after_seq ? expected : after_seq + 1;
    bool covered_only = false;
    uint32_t salt = segment->salt;
    *first = *last = 0;
    uint64_t commit = 0; /* the sequence their commit began at */
    for (size_t probe = offset + 8; probe < written && probe + sizeof(rl_journal_record_header_t) <= size; probe += 8) {
        size_t record = rl_record_check(data, size, probe, expected + 1, salt);
        if (record == 0) continue;
        rl_journal_record_header_t header;
        memcpy(&header, data + probe, sizeof(header));
        if (header.seq <= after_seq) {
            covered_only = true;
            if (header.seq > *last) *last = header.seq;
            probe += record - 8;
            continue;
        }
        uint64_t index = header.flags >> RL_JREC_COMMIT_INDEX_SHIFT;
        if ((header.flags & RL_JREC_FLAG_COMMIT_START) || index >= RL_JREC_COMMIT_INDEX_MAX || index >= header.seq) {
            return false;
        }
        if (commit == 0) commit = header.seq - index;
        if (header.seq - index != commit) return false;
        if (*first == 0 || header.seq < *first) *first = header.seq;
        if (header.seq > *last) *last = header.seq;
        probe += record - 8; /* a whole record: the next can only start after it */
    }
    /* A commit never spans segments: the writer syncs before it rotates. */
    if (commit == 0) return covered_only;
    return commit <= due && commit >= segment->first_seq;
}

/* A segment's header, if it has a valid one: 0, or -errno / -EBADMSG. */
static int rl_segment_read_header(const char *dir, const char *name, rl_journal_segment_header_t *header,
                                  bool *has_records) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    uint8_t head[sizeof(*header) + sizeof(rl_journal_record_header_t)];
    ssize_t got = pread(fd, head, sizeof(head), 0);
    close(fd);
    if (got < (ssize_t)sizeof(*header)) return -EBADMSG;
    memcpy(header, head, sizeof(*header));
    char why[200];
    if (rl_segment_header_check(header, RL_JOURNAL_MAGIC, why, sizeof(why)) != 0) return -EBADMSG;
    bool any = false;
    for (ssize_t i = (ssize_t)sizeof(*header); i < got; i++) any |= head[i] != 0;
    /* A first record of another salt is a recycled file's earlier life. */
    rl_journal_record_header_t first;
    if (got == (ssize_t)sizeof(head)) {
        memcpy(&first, head + sizeof(*header), sizeof(first));
        if (first.salt != header->salt) any = false;
    }
    *has_records = any;
    return 0;
}

/* Records from `expected` on are lost at `offset` in `segment`: report it, and
 * either go on from there (recovery to last good) or refuse. */
static void rl_scan_lost_from(rl_journal_scan_result_t *out, const char *segment, size_t offset, uint64_t expected,
                              bool recover_to_last_good, int *result) {
    out->corrupt = true;
    out->corrupt_seq_after = expected - 1;
    out->lost_first = expected;
    out->lost_last = 0;
    if (recover_to_last_good) {
        snprintf(out->tail_segment, sizeof(out->tail_segment), "%s", segment);
        out->tail_valid_end = offset;
    } else {
        *result = -EBADMSG;
    }
}

/* The highest sequence in the segments from `from` on (0: none readable):
 * how far a loss goes. */
static uint64_t rl_highest_in(const char *dir, const rl_file_entry_t *segments, int from, int count) {
    uint64_t highest = 0;
    for (int k = from; k < count; k++) {
        char later[PATH_MAX];
        uint8_t *more;
        size_t more_size;
        snprintf(later, sizeof(later), "%s/%s", dir, segments[k].name);
        if (rl_read_file(later, &more, &more_size) != 0) continue;
        size_t more_written = more_size;
        while (more_written > sizeof(rl_journal_segment_header_t) && more[more_written - 1] == 0) more_written--;
        /* Its salt as written, even where its header is damaged: at worst
         * none of its records is found, and the loss's end is unknown. */
        uint32_t salt = 0;
        if (more_size >= sizeof(rl_journal_segment_header_t)) {
            memcpy(&salt, more + offsetof(rl_journal_segment_header_t, salt), sizeof(salt));
        }
        uint64_t h = rl_highest_seq(more, more_size, sizeof(rl_journal_segment_header_t), more_written, salt);
        if (h > highest) highest = h;
        free(more);
    }
    return highest;
}

/* Segment i's header is cut short or damaged (out->damage says which): what
 * follows cannot be trusted to continue. Recovering to last good goes on
 * from the end of the segment before it (it and the ones after are set
 * aside); with none before it, from the snapshot alone, and with no
 * snapshot either, there is nothing to start from: refused even then. */
static int rl_scan_bad_header(const char *dir, const rl_file_entry_t *segments, int i, int count, uint64_t expected,
                              uint64_t after_seq, size_t tail_end_before, bool recover_to_last_good,
                              rl_journal_scan_result_t *out) {
    out->corrupt = true;
    out->corrupt_seq_after = out->last_seq > after_seq ? out->last_seq : after_seq;
    /* What the snapshot covers is not lost (a stale segment before it may have set `expected`). */
    out->lost_first = expected > after_seq + 1 ? expected : after_seq + 1;
    uint64_t highest = rl_highest_in(dir, segments, i, count);
    out->lost_last = highest >= out->lost_first ? highest : 0;
    out->torn_tail_bytes = 0;
    if (recover_to_last_good && i > 0) {
        snprintf(out->tail_segment, sizeof(out->tail_segment), "%s", segments[i - 1].name);
        out->tail_valid_end = tail_end_before;
        return 0;
    }
    out->tail_segment[0] = 0;
    out->tail_valid_end = 0;
    return recover_to_last_good && after_seq > 0 ? 0 : -EBADMSG;
}

int rl_journal_scan(const char *dir, uint64_t after_seq, bool recover_to_last_good, rl_journal_visit_fn visit,
                    void *context, rl_journal_scan_result_t *out) {
    memset(out, 0, sizeof(*out));
    int rc = rl_check_dir_access(dir, false);
    if (rc != 0) return rc;
    rl_journal_manifest_t manifest;
    int has_manifest = rl_journal_read_manifest(dir, &manifest);
    bool manifest_damaged = has_manifest == -EBADMSG;
    if (manifest_damaged && !recover_to_last_good) {
        snprintf(out->damage, sizeof(out->damage),
                 "MANIFEST is damaged or truncated: which files the journal must have is unknown");
        out->corrupt = true;
        return -EBADMSG;
    }
    /* Recovering to last good: go on as without one (what is there is
     * checked as ever); that no newer segment is missing cannot be proven,
     * and the damage says so. */
    if (manifest_damaged) has_manifest = -ENOENT;
    if (has_manifest != 0 && has_manifest != -ENOENT) return has_manifest;
    rl_file_entry_t *segments;
    int count = rl_list_files(dir, "segment-", ".rlj", &segments);
    if (count < 0) return count;
    if (count > 0 && !(has_manifest == 0 && manifest.newest_segment_seq >= segments[count - 1].seq)) {
        /* A newest segment the manifest does not name, with no record in it
         * (or not even a whole header): a creation cut short, or one that
         * failed and could not be removed. Nothing in it was ever durable:
         * leave it out (a writer sets it aside). */
        rl_journal_segment_header_t header;
        bool has_records = true;
        int h = rl_segment_read_header(dir, segments[count - 1].name, &header, &has_records);
        if (h == -EBADMSG || (h == 0 && !has_records)) count--;
    }
    /* Every file the manifest names must be there: the newest segment (or a
     * newer one, made after the manifest was written). */
    bool missing_tail = has_manifest == 0 && manifest.newest_segment_seq > 0 &&
                        (count == 0 || segments[count - 1].seq < manifest.newest_segment_seq);
    uint64_t expected = 0; /* the next sequence, once known */
    size_t tail_end_before = 0; /* where the valid data of the previous segment ended */
    int result = 0;
    for (int i = 0; i < count && result == 0; i++) {
        bool last = i == count - 1;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, segments[i].name);
        uint8_t *data;
        size_t size;
        if ((rc = rl_read_file(path, &data, &size)) != 0) {
            result = rc;
            break;
        }
        out->segments++;
        if (last) {
            snprintf(out->tail_segment, sizeof(out->tail_segment), "%s", segments[i].name);
            out->tail_valid_end = 0;
        }
        rl_journal_segment_header_t header;
        bool named = has_manifest == 0 && manifest.newest_segment_seq >= segments[i].seq;
        if (size < sizeof(header)) {
            if (last && !named) { /* a crash while creating the segment: nothing in it was ever durable */
                out->torn_tail_bytes = size;
                free(data);
                break;
            }
            snprintf(out->damage, sizeof(out->damage), "%s: truncated segment header (%zu bytes)%s", segments[i].name,
                     size, named ? ", although MANIFEST names it: it was cut after it was made" : "");
            free(data);
            result = rl_scan_bad_header(dir, segments, i, count, expected, after_seq, tail_end_before,
                                        recover_to_last_good, out);
            break;
        }
        memcpy(&header, data, sizeof(header));
        if ((rc = rl_segment_header_check(&header, RL_JOURNAL_MAGIC, out->damage, sizeof(out->damage))) != 0 &&
            last && !named) {
            /* Preallocated, then killed before its header was durable: it was
             * never named, so nothing in it was durable either. */
            out->damage[0] = 0;
            out->torn_tail_bytes = sizeof(header);
            free(data);
            break;
        }
        if (rc != 0) {
            char why[200];
            snprintf(why, sizeof(why), "%s", out->damage);
            snprintf(out->damage, sizeof(out->damage), "%s: %s", segments[i].name, why);
            free(data);
            result = rc == -EBADMSG ? rl_scan_bad_header(dir, segments, i, count, expected, after_seq, tail_end_before,
                                                         recover_to_last_good, out)
                                    : rc;
            break;
        }
        if (header.first_seq != segments[i].seq) {
            /* Named for one sequence, holding another: a file copied or
             * renamed in, not one the writer made (it names each segment for
             * its first sequence). Nothing after it can be trusted to follow. */
            snprintf(out->damage, sizeof(out->damage),
                     "%s: its header says it starts at sequence %" PRIu64 ", its name says %" PRIu64
                     ": a file copied or renamed into the journal", segments[i].name, header.first_seq, segments[i].seq);
            free(data);
            result = rl_scan_bad_header(dir, segments, i, count, expected, after_seq, tail_end_before,
                                        recover_to_last_good, out);
            break;
        }
        if (expected == 0 && header.first_seq > after_seq + 1) {
            /* The first segment must go on from what the snapshot covers (or
             * from 1): otherwise records were pruned under a snapshot that is
             * now missing or damaged, or a segment was deleted. */
            snprintf(out->damage, sizeof(out->damage),
                     "sequences %" PRIu64 "-%" PRIu64 " are in no file: %s starts at %" PRIu64
                     " and the %s covers up to %" PRIu64,
                     after_seq + 1, header.first_seq - 1, segments[i].name, header.first_seq,
                     after_seq ? "newest readable snapshot" : "journal (with no readable snapshot)", after_seq);
            out->corrupt = true;
            out->corrupt_seq_after = after_seq;
            out->lost_first = after_seq + 1;
            out->lost_last = 0;
            /* Nothing after the gap can be replayed: a recovery starts a new
             * segment from the snapshot. With no snapshot there is nothing to
             * start from: refused even then, never an empty engine. */
            out->tail_segment[0] = 0;
            out->tail_valid_end = 0;
            free(data);
            result = recover_to_last_good && after_seq > 0 ? 0 : -EBADMSG;
            break;
        }
        if (expected != 0 && header.first_seq > expected && header.first_seq <= after_seq + 1) {
            /* A gap the snapshot covers: segments its prune removed, and an
             * older one whose removal a crash undid (a live writer's prune
             * does not sync its renames at once). Nothing in it is replayed. */
            expected = header.first_seq;
        }
        if (expected != 0 && header.first_seq != expected) {
            if (header.first_seq < expected) {
                snprintf(out->damage, sizeof(out->damage),
                         "%s starts at sequence %" PRIu64 ", inside what the segments before it hold (up to %" PRIu64
                         "): two segments overlap", segments[i].name, header.first_seq, expected - 1);
            } else {
                snprintf(out->damage, sizeof(out->damage),
                         "%s starts at sequence %" PRIu64 ", expected %" PRIu64 ": sequences %" PRIu64 "-%" PRIu64
                         " are in no file (a segment is missing)",
                         segments[i].name, header.first_seq, expected, expected, header.first_seq - 1);
            }
            out->corrupt = true;
            out->corrupt_seq_after = out->last_seq;
            out->lost_first = expected;
            out->lost_last = 0;
            if (recover_to_last_good) {
                /* Go on from the end of the segment before the gap. */
                snprintf(out->tail_segment, sizeof(out->tail_segment), "%s", segments[i - 1].name);
                out->tail_valid_end = tail_end_before;
            }
            free(data);
            result = recover_to_last_good ? 0 : -EBADMSG;
            break;
        }
        if (expected == 0) expected = header.first_seq;
        size_t offset = sizeof(header);
        if (last) out->tail_valid_end = offset;
        /* A preallocated segment is zeros past its last write: records end
         * where the zeros begin, and only what is before them can be torn. */
        size_t written = size;
        if (header.file_bytes != 0) {
            while (written > offset && data[written - 1] == 0) written--;
        }
        /* The newest segment must still be the size it was created at: one
         * cut short (even at a record boundary) has lost records. */
        bool cut = last && header.file_bytes != 0 && size != header.file_bytes;
        while (offset < size && offset < (header.file_bytes != 0 ? written : size)) {
            size_t record = rl_record_check(data, size, offset, expected, header.salt);
            rl_journal_record_header_t rh;
            if (record != 0) memcpy(&rh, data + offset, sizeof(rh));
            if (record != 0 && rh.seq > expected && expected <= after_seq && rh.seq <= after_seq + 1) {
                /* A gap the snapshot covers, inside a segment: a writer went
                 * on after a snapshot from a tail cut short at records it
                 * covers (damage to synced records read as a torn tail), and
                 * may have snapshotted since, as between segments. Nothing
                 * in the gap is needed. */
                expected = rh.seq;
            }
            if (record == 0 || rh.seq != expected) {
                /* A torn tail, or damage? Damage if any valid record follows. */
                bool later_valid = false;
                /* Records start before the zeros (they may end in zero bytes). */
                for (size_t probe = offset + 8; probe < written && probe + sizeof(rl_journal_record_header_t) <= size && !later_valid; probe += 8) {
                    later_valid = rl_record_check(data, size, probe, expected + 1, header.salt) != 0;
                }
                /* Version 2: the terminator ends the records, as version 1's
                 * zeros end its loop above; what lies past it is an earlier
                 * life's. What comes next is for the segments after (a gap
                 * a snapshot covers is no loss) and the size check below. */
                if (!later_valid && header.salt != 0 && rl_terminated(data, size, offset)) break;
                /* Version 3: a hole in the last commit, with the rest of that
                 * commit after it and no commit after that, is the commit cut
                 * short (a power loss mid-commit). Never synced whole, so
                 * never acknowledged as durable: dropped with the torn tail,
                 * and said. Anything after it that opens a commit makes the
                 * hole damage in a synced commit: refused, as before. */
                uint64_t torn_first = 0, torn_last = 0;
                bool torn_commit = later_valid && last && !cut && record == 0 && header.version >= 3 &&
                                   rl_cut_commit_after(data, size, offset, written, expected, after_seq, &header, &torn_first,
                                                       &torn_last);
                rl_journal_segment_header_t next_header;
                bool next_records;
                if (last && (!later_valid || torn_commit) && !cut) {
                    /* What this segment's own writes left after its last
                     * record (none: its records simply end there). */
                    out->torn_tail_bytes = rl_torn_bytes(data, size, offset, written, header.salt, expected, torn_commit);
                    if (torn_commit && torn_last > after_seq) {
                        /* The hole's own records too: from `expected` on (the
                         * snapshot's are not lost: it holds them). */
                        out->lost_first = expected > after_seq ? expected : after_seq + 1;
                        out->lost_last = torn_last;
                        snprintf(out->damage, sizeof(out->damage),
                                 "%s: the last commit was cut short at offset %zu after sequence %" PRIu64
                                 " (a power loss mid-commit kept later parts of it, %" PRIu64 "-%" PRIu64
                                 "): its records %" PRIu64 "-%" PRIu64
                                 " were never durable as a whole and are dropped with the torn tail",
                                 segments[i].name, offset, expected - 1, torn_first, torn_last, out->lost_first,
                                 torn_last);
                    } else if (torn_commit) {
                        /* Synced (a snapshot covers them): damage, not a power
                         * loss, in records the snapshot holds. Nothing is lost;
                         * a writer goes on after the snapshot (the gap above). */
                        snprintf(out->damage, sizeof(out->damage),
                                 "%s: records %" PRIu64 "-%" PRIu64 " of the last commit are damaged at offset %zu; the"
                                 " snapshot covers them (up to %" PRIu64 "), so nothing is lost",
                                 segments[i].name, expected, torn_last, offset, after_seq);
                    }
                } else if (!last && !later_valid && header.file_bytes != 0 &&
                           rl_segment_read_header(dir, segments[i + 1].name, &next_header, &next_records) == 0 &&
                           next_header.first_seq == expected) {
                    /* Bytes in the unused, preallocated end of an older segment,
                     * and the next segment goes on from here: nothing is lost. */
                } else {
                    /* How far the loss goes: the highest valid sequence after it. */
                    uint64_t highest = rl_highest_seq(data, size, offset, written, header.salt);
                    uint64_t after = rl_highest_in(dir, segments, i + 1, count);
                    if (after > highest) highest = after;
                    if (later_valid || !cut) {
                        snprintf(out->damage, sizeof(out->damage),
                                 "%s: bad record at offset %zu after sequence %" PRIu64
                                 " with valid data after it: sequences %" PRIu64 "-%" PRIu64 " cannot be replayed",
                                 segments[i].name, offset, expected - 1, expected, highest > expected ? highest : expected);
                    } else {
                        snprintf(out->damage, sizeof(out->damage),
                                 "%s is %zu bytes but was created at %" PRIu64 " and ends in a broken record: it was"
                                 " cut short, so records from sequence %" PRIu64 " on are lost",
                                 segments[i].name, size, header.file_bytes, expected);
                    }
                    rl_scan_lost_from(out, segments[i].name, offset, expected, recover_to_last_good, &result);
                    out->lost_last = highest > expected ? highest : expected;
                    if (recover_to_last_good) out->torn_tail_bytes = size - offset;
                }
                break;
            }
            if (rh.seq > after_seq && visit != NULL) {
                int v = visit(context, &rh, data + offset + sizeof(rh));
                if (v == -EBADMSG) {
                    /* Whole, but the visitor cannot apply it: damage here, like a
                     * bad record (the visitor keeps the reason). */
                    snprintf(out->damage, sizeof(out->damage),
                             "%s: record %" PRIu64 " at offset %zu reads whole but cannot be applied: sequences %"
                             PRIu64 " on cannot be replayed", segments[i].name, rh.seq, offset, rh.seq);
                    rl_scan_lost_from(out, segments[i].name, offset, expected, recover_to_last_good, &result);
                    break;
                }
                if (v != 0) {
                    result = v;
                    break;
                }
            }
            if (out->first_seq == 0) out->first_seq = rh.seq;
            out->last_seq = rh.seq;
            out->records++;
            expected = rh.seq + 1;
            offset += record;
            if (last) out->tail_valid_end = offset;
        }
        tail_end_before = offset;
        if (cut && result == 0 && !out->corrupt) {
            snprintf(out->damage, sizeof(out->damage),
                     "%s is %zu bytes but was created at %" PRIu64 ": it was cut short, so records after sequence %"
                     PRIu64 " may be lost", segments[i].name, size, header.file_bytes, expected - 1);
            rl_scan_lost_from(out, segments[i].name, offset, expected, recover_to_last_good, &result);
        }
        free(data);
        if (out->corrupt) break;
    }
    if (result == 0 && !out->corrupt && missing_tail) {
        snprintf(out->damage, sizeof(out->damage),
                 "MANIFEST names segment-%020" PRIu64 ".rlj as the newest segment, but %s%s: "
                 "everything after sequence %" PRIu64 " is lost",
                 manifest.newest_segment_seq, count == 0 ? "no segment is left" : "the newest left is ",
                 count == 0 ? "" : segments[count - 1].name, out->last_seq > after_seq ? out->last_seq : after_seq);
        out->corrupt = true;
        out->corrupt_seq_after = out->last_seq > after_seq ? out->last_seq : after_seq;
        out->lost_first = out->corrupt_seq_after + 1;
        out->lost_last = 0;
        /* Nothing left to recover at all is refused even when asked to recover. */
        if (!recover_to_last_good || out->corrupt_seq_after == 0) result = -EBADMSG;
    }
    if (result == 0 && has_manifest == -ENOENT) {
        /* Only a journal that never held a record may lack its manifest (a
         * crash between creating the first segment and naming it). Any other
         * lost it: which newest files it must have is unknown. */
        rl_file_entry_t *snapshots;
        int snaps = rl_list_files(dir, "snapshot-", ".rls", &snapshots);
        if (snaps > 0) free(snapshots);
        if (manifest_damaged || snaps != 0 || count > 1 || (count == 1 && (segments[0].seq > 1 || out->records > 0))) {
            char why[400];
            snprintf(why, sizeof(why),
                     "MANIFEST is %s: that its newest files are all there (and none was truncated) cannot be "
                     "proven; anything after sequence %" PRIu64 " that was in a lost file is lost",
                     manifest_damaged ? "damaged or truncated" : "missing from a journal that holds records",
                     out->last_seq > after_seq ? out->last_seq : after_seq);
            /* After other damage (recovering to last good), both are said. */
            size_t used = out->corrupt ? strnlen(out->damage, sizeof(out->damage)) : 0;
            snprintf(out->damage + used, sizeof(out->damage) - used, "%s%s", used ? "; and " : "", why);
            if (!out->corrupt) out->corrupt_seq_after = out->last_seq > after_seq ? out->last_seq : after_seq;
            out->corrupt = true;
            if (!recover_to_last_good) result = -EBADMSG;
        }
    }
    free(segments);
    return result;
}

int rl_journal_read_snapshot(const char *path, rl_journal_visit_fn visit, void *context, uint64_t *covered_seq) {
    uint8_t *data;
    size_t size;
    int rc = rl_read_file(path, &data, &size);
    if (rc != 0) return rc;
    rl_journal_segment_header_t header;
    char damage[200];
    if (size < sizeof(header)) {
        free(data);
        return -EBADMSG;
    }
    memcpy(&header, data, sizeof(header));
    if ((rc = rl_segment_header_check(&header, RL_JOURNAL_SNAPSHOT_MAGIC, damage, sizeof(damage))) != 0) {
        free(data);
        return rc;
    }
    *covered_seq = header.first_seq;
    if (header.file_bytes != 0 && header.file_bytes != size) {
        free(data); /* cut short (or grown): not the snapshot that was written */
        return -EBADMSG;
    }
    size_t offset = sizeof(header);
    int result = 0;
    uint64_t records = 0;
    while (offset < size && result == 0) {
        size_t record = rl_record_check(data, size, offset, 0, header.salt);
        if (record == 0) {
            result = -EBADMSG;
            break;
        }
        rl_journal_record_header_t rh;
        memcpy(&rh, data + offset, sizeof(rh));
        result = visit(context, &rh, data + offset + sizeof(rh));
        offset += record;
        records++;
    }
    if (result == 0 && header.file_bytes != 0 && records != header.record_count) result = -EBADMSG;
    free(data);
    return result;
}

/* Encode a snapshot into one malloc'd buffer (the caller frees it). */
static int rl_snapshot_encode(uint64_t covered_seq, const rl_journal_snapshot_record_t *records, uint64_t count,
                              uint8_t **out, size_t *out_len) {
    size_t total = sizeof(rl_journal_segment_header_t);
    for (uint64_t i = 0; i < count; i++) {
        if (records[i].length > RL_JOURNAL_MAX_PAYLOAD) return -EINVAL;
        total += rl_record_size(records[i].length);
    }
    uint8_t *buffer = malloc(total);
    if (buffer == NULL) return -ENOMEM;
    rl_journal_segment_header_t header;
    rl_segment_header_init(&header, RL_JOURNAL_SNAPSHOT_MAGIC, covered_seq);
    /* A snapshot is whole or refused: a cut at a record boundary is seen. */
    rl_segment_header_set_size(&header, total, count);
    memcpy(buffer, &header, sizeof(header));
    size_t offset = sizeof(header);
    uint64_t now_ns = rl_realtime_ns();
    for (uint64_t i = 0; i < count; i++) {
        offset += rl_record_encode(buffer + offset, records[i].type, i + 1, records[i].payload, records[i].length, now_ns, 0, 0);
    }
    *out = buffer;
    *out_len = total;
    return 0;
}

/* Write an encoded snapshot durably: temp file, fdatasync, rename, fsync DIR,
 * and with `manifest` the manifest (which recovery does not need for
 * snapshots: it lists them). Each sync here is a filesystem commit, with a
 * device flush on a disk without FUA, that a live writer's commit waits
 * behind: the snapshot thread leaves the manifest to the next rotation. */
static int rl_snapshot_write_file(const char *dir, uint64_t covered_seq, const uint8_t *buffer, size_t length,
                                  bool manifest) {
    char tmp[PATH_MAX], path[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s/snapshot.%ld.tmp", dir, (long)syscall(SYS_gettid));
    snprintf(path, sizeof(path), "%s/snapshot-%020" PRIu64 ".rls", dir, covered_seq);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? -errno : rl_write_all(fd, buffer, length, 0);
    if (rc == 0 && fdatasync(fd) != 0) rc = -errno;
    if (fd >= 0) close(fd);
    if (rc == 0 && rename(tmp, path) != 0) rc = -errno;
    if (rc != 0) unlink(tmp);
    if (rc == 0) rc = rl_fsync_dir(dir);
    if (rc == 0 && manifest) rc = rl_manifest_write(dir);
    return rc;
}

int rl_journal_write_snapshot(const char *dir, uint64_t covered_seq, const rl_journal_snapshot_record_t *records,
                              uint64_t count) {
    uint8_t *buffer;
    size_t length;
    int rc = rl_snapshot_encode(covered_seq, records, count, &buffer, &length);
    if (rc != 0) return rc;
    rc = rl_snapshot_write_file(dir, covered_seq, buffer, length, true);
    free(buffer);
    return rc;
}

/* What becomes of a pruned segment: 0 if it is gone from its name. */
typedef int (*rl_prune_dispose_fn)(void *context, const char *path);
static int rl_prune_unlink(void *context, const char *path) {
    (void)context;
    return unlink(path) == 0 ? 0 : -errno;
}

/* Remove what a snapshot covering `covered_seq` makes unneeded: segments go
 * through `dispose` (a live writer recycles them), snapshots are unlinked.
 * Segments from `keep_from` on are never taken: a live writer's own (a
 * rotation that fails after naming its successor goes back to it). With
 * `sync`, the removals are made durable (with the manifest's directory
 * sync). A live writer's prune does without: nothing needs them durable
 * (a removal a crash undoes brings back a file the snapshot covers, which
 * recovery passes over), and a recycled segment's rename is synced before
 * the file is overwritten or cut (rl_spare_prepare, rl_retired_trim). */
static int rl_prune(const char *dir, uint64_t covered_seq, uint64_t keep_from, rl_prune_dispose_fn dispose,
                    void *context, bool sync) {
    rl_file_entry_t *segments, *snapshots;
    int count = rl_list_files(dir, "segment-", ".rlj", &segments);
    if (count < 0) return count;
    int removed = 0;
    /* A segment holds sequences [its first, the next segment's first). */
    for (int i = 0; i + 1 < count; i++) {
        if (segments[i + 1].seq - 1 <= covered_seq && segments[i].seq < keep_from) {
            char path[PATH_MAX];
            snprintf(path, sizeof(path), "%s/%s", dir, segments[i].name);
            if (dispose(context, path) == 0) {
                removed++;
            }
        }
    }
    free(segments);
    int snaps = rl_list_files(dir, "snapshot-", ".rls", &snapshots);
    if (snaps > 0) {
        for (int i = 0; i < snaps; i++) {
            if (snapshots[i].seq < covered_seq) {
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "%s/%s", dir, snapshots[i].name);
                if (unlink(path) == 0) removed++;
            }
        }
        free(snapshots);
    }
    /* Best effort: it already names the newest of each. The removals are
     * made durable by the directory's sync (a manifest rewritten in place
     * syncs no directory). */
    if (sync) {
        rl_manifest_write(dir);
        rl_fsync_dir(dir);
    }
    return removed;
}

int rl_journal_prune(const char *dir, uint64_t covered_seq) {
    return rl_prune(dir, covered_seq, UINT64_MAX, rl_prune_unlink, NULL, true);
}

/* ---- Writing ----------------------------------------------------------- */

typedef struct rl_cold_record {
    struct rl_cold_record *next;
    uint64_t ticket;
    uint32_t length;
    uint16_t type;
    bool sync_now;
    uint8_t payload[];
} rl_cold_record_t;

struct rl_journal {
    /* Written by the writer thread; read by any thread. */
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(uint64_t) durable_seq;
    _Atomic(uint64_t) hot_durable;     /* hot records made durable */
    _Atomic(uint64_t) cold_durable;    /* highest cold ticket made durable */
    _Atomic(uint64_t) records, bytes, syncs, segments_created, next_seq_published;
    _Atomic(int32_t) last_error;       /* -errno while the last write or sync failed, else 0 */
    _Atomic(int32_t) snapshot_error;   /* -errno of the last failed periodic snapshot, else 0 */
    _Atomic(uint64_t) failures;        /* failed write or sync attempts */
    _Atomic(uint32_t) writer_phase;    /* rl_journal_writer_phase_t */
    _Atomic(uint64_t) writer_phase_since_us;
    /* Written by the controlling thread. */
    RL_ALIGNAS(RL_CACHE_LINE) _Atomic(uint32_t) stop_requested;
    _Atomic(uint32_t) running;
    /* Cold queue, under cold_lock (cold path: a lock is fine here). */
    RL_ALIGNAS(RL_CACHE_LINE) pthread_mutex_t cold_lock;
    rl_cold_record_t *cold_head, *cold_tail;
    uint64_t cold_tickets;
    /* The writer thread's own state. */
    RL_ALIGNAS(RL_CACHE_LINE) uint64_t next_seq;
    int seg_fd;
    uint64_t seg_offset;
    uint64_t seg_capacity;             /* the current segment's size: records never go past it */
    uint32_t seg_salt;                 /* the current segment's salt, in each of its records (0: version 1) */
    uint32_t seg_version;              /* the current segment's format version (a tail goes on in its own) */
    uint64_t state_ahead_word;         /* the newest state record written ahead of its place (full disk) */
    bool stopped;                      /* rl_journal_stop ran: threads joined, files closed */
    /* The batch: its records start `buffer_head` bytes into an aligned
     * block (rl_batch), after the segment's bytes before seg_offset in its
     * last block (already on disk). With seg_direct_fd a
     * commit writes whole blocks from buffer_block through O_DIRECT: no
     * page-cache copy, no writeback in the sync. Measured at 1 M orders/s,
     * buffered commits kept the io_uring worker a third of the risk
     * thread's core busy, and the risk thread fell milliseconds behind. */
    uint8_t *buffer_block;
    size_t buffer_head, buffer_len, buffer_cap; /* buffer_cap: bytes from buffer_block */
    int seg_direct_fd;                 /* the segment opened O_DIRECT, or -1 (buffered writes) */
    uint64_t batch_records, batch_hot, batch_cold_ticket, batch_last_seq, batch_started_us, batch_started_ns;
    /* For the lag samples: orders accepted in this batch that carry their
     * acceptance time (rl_clock_cycles), and the oldest such time. */
    uint64_t batch_accepted, batch_oldest_accept;
    uint64_t batch_backlog;            /* the most records seen waiting in the ring while this batch formed */
    /* CLOCK_REALTIME read once per writer pass for the records' headers: a
     * reading per record cost a fifth of the writer's time. */
    uint64_t pass_realtime_ns;
    _Atomic(rl_spsc_t *) lag_ring;
    /* The shadow: the state of every record made durable, for periodic snapshots. */
    rl_engine_t *shadow;
    uint8_t *limits_payload;
    uint32_t limits_length;
    struct rl_history_record { uint16_t type; uint32_t length; uint8_t *payload; } *history;
    uint64_t history_count, history_cap;
    struct rl_open_orders {             /* orders working in the shadow, by id (open addressing) */
        rl_journal_open_order_payload_t *slots; /* order_id 0: empty */
        uint64_t capacity, count;       /* capacity: a power of two, or 0 */
    } open_orders;
    uint64_t records_since_snapshot;
    _Atomic(uint64_t) snapshot_requests;  /* asked for by rl_journal_snapshot_now */
    _Atomic(uint64_t) snapshot_served;    /* requests the writer has answered */
    _Atomic(int32_t) snapshot_result;     /* the last answer: 0 or -errno */
    _Atomic(uint32_t) waiters;            /* threads waiting for durability: sync without delay */
    _Atomic(uint64_t) snapshots, last_snapshot_seq;
    bool batch_sync_now;
    /* The snapshot thread writes, syncs and prunes what the writer encoded, so
     * that a snapshot (tens of ms of file I/O) never stalls the commits.
     * Hand-off under snap_lock (cold path). */
    pthread_mutex_t snap_lock;
    pthread_cond_t snap_cond;
    pthread_t snap_thread;
    bool snap_thread_started, snap_pending, snap_stop;
    uint8_t *snap_buffer;
    size_t snap_length;
    uint64_t snap_covered, snap_ticket;   /* ticket: an rl_journal_snapshot_now request, or 0 */
    _Atomic(uint32_t) snap_busy;          /* handed off and not yet written */
    /* Spare segments, kept by the same thread (under snap_lock): files that
     * pruned segments were renamed to, or new ones, written with zeros and
     * synced; the writer renames one into the next segment. Overwriting
     * blocks already written changes no metadata, so each commit's fdatasync
     * is a data flush alone; in a merely fallocated segment every sync also
     * waits for its extents' conversion. */
    struct rl_spare {
        bool present;                     /* the file exists (recycled or prepared) */
        bool taken;                       /* the writer took it and is renaming it away */
        bool preparing;                   /* the background thread is writing it */
        int fd;                           /* >= 0: prepared (zeros, synced, rl_segment_capacity), the writer may take it */
    } spares[RL_JOURNAL_SPARES];
    bool spare_wanted;                    /* asked for by the writer */
    /* Pruned segments no spare slot took, renamed out of the way and cut
     * down a few MiB at a time by the same thread: freeing 64 MiB at once
     * (unlink) issues one large discard that holds up commits for 10-30 ms. */
    uint64_t retired[RL_JOURNAL_RETIRED_MAX]; /* under snap_lock: the writer frees them on a full disk */
    uint32_t retired_count, retired_next;
    uint64_t retired_trimmed_us;          /* the background thread's: when it last cut one down */
    uint64_t retired_synced;              /* ... and the id + 1 of the one whose rename it made durable */
    /* The first sequence of the segment the writer appends to, published
     * once a rotation has fully succeeded: a prune never takes it, even when
     * a newer segment already has a name (a rotation that then fails goes
     * back to it). */
    _Atomic(uint64_t) live_segment_seq;
    bool spare_asked;                     /* the writer's: asked for during this segment */
    _Atomic(uint64_t) segments_prepared;  /* segments that were a prepared spare */
    _Atomic(uint64_t) spares_recycled;    /* spares readied from a pruned segment as it was */
    _Atomic(uint64_t) writer_passes;      /* the writer's loop passes (diagnostics: it is alive) */
    _Atomic(uint64_t) direct_commits;     /* commits written O_DIRECT */
    /* Per-order lag samples (the lag ring): acceptance stamps of this batch's
     * sampled orders, one in RL_JOURNAL_LAG_SAMPLE_EVERY. */
    uint64_t *lag_stamps;
    uint32_t lag_count, lag_cap;
    uint64_t accepted_seen;
    uint32_t prunes_deferred;             /* the snapshot thread's: in a row, for a reader */
    uint64_t prunes_deferred_since_us;    /* ... since the first of them */
    _Atomic(uint64_t) prunes_deferred_total;
    /* Set at open. */
    rl_journal_options_t options;
    int32_t io_mode;
    int lock_fd;
    rl_spsc_t *hot;
    pthread_t thread;
    char dir[PATH_MAX];
#if RL_HAVE_LIBURING
    struct io_uring ring;
    uint64_t uring_commits;  /* the writer's: commits submitted, the tag of each one's two SQEs */
    uint32_t uring_inflight; /* the writer's: completions owed (SQEs queued or submitted, not reaped) */
    bool uring_broken;       /* the ring never gave them back: no batch is written or grown again */
#endif
};

/* A segment's size on disk: its records' room plus the reserve for halts. */
static uint64_t rl_segment_capacity(const rl_journal_t *j) { return j->options.segment_bytes + RL_JOURNAL_STATE_RESERVE; }

/* The writer enters `phase` (its thread alone stores these). */
static void rl_writer_phase(rl_journal_t *j, rl_journal_writer_phase_t phase) {
    /* relaxed: this thread's own store; stored only on a change. */
    if (atomic_load_explicit(&j->writer_phase, memory_order_relaxed) == (uint32_t)phase) return;
    /* relaxed, then release: pairs with rl_journal_stalled's acquire load of
     * the phase, which then reads this start or a later one, never the
     * previous phase's (an idle writer's old start would look like a stall). */
    atomic_store_explicit(&j->writer_phase_since_us, rl_monotonic_us(), memory_order_relaxed);
    atomic_store_explicit(&j->writer_phase, (uint32_t)phase, memory_order_release);
}

/* Where the batch's records begin (buffered writes write from here). */
static uint8_t *rl_batch(const rl_journal_t *j) { return j->buffer_block + j->buffer_head; }

static void rl_spare_path(const rl_journal_t *j, int slot, char *out) {
    snprintf(out, PATH_MAX, "%s/" RL_JOURNAL_SPARE_PREFIX "%d.tmp", j->dir, slot);
}

/* Make spare `slot` ready. A recycled segment of the right size is ready as
 * it is: its blocks are written already (overwriting them changes no
 * metadata), and what it still holds carries its earlier salt, which the
 * next segment's header replaces. Otherwise `capacity` bytes of zeros,
 * synced, into a new file (or a recycled one of another size), so that its
 * blocks are written too. Written in 64 KiB direct writes where the
 * filesystem takes them, one at a time, so the device queue never holds
 * much of it ahead of the writer's commits. Stops early (-ECANCELED) when
 * the journal stops. The file descriptor, or -errno (nothing left behind). */
static int rl_spare_prepare(rl_journal_t *j, int slot, uint64_t capacity) {
    char path[PATH_MAX];
    rl_spare_path(j, slot, path);
    /* A segment recycled by the last prune is overwritten where it is, once
     * its rename away from its segment name is durable: otherwise a power
     * loss could bring that name back on a file of zeros. */
    int rc0 = rl_fsync_dir(j->dir);
    if (rc0 != 0) return rc0;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    struct stat st;
    int rc = fstat(fd, &st) == 0 ? 0 : -errno;
    /* Recycled whole: every block allocated and written (st_blocks counts
     * 512-byte units; a file whose zeros were cut short by a stop has fewer). */
    if (rc == 0 && (uint64_t)st.st_size == capacity && (uint64_t)st.st_blocks * 512 >= capacity &&
        !j->options.zero_recycled_segments) {
        /* relaxed: statistics. */
        atomic_fetch_add_explicit(&j->spares_recycled, 1, memory_order_relaxed);
        return fd;
    }
    if (rc == 0 && (uint64_t)st.st_size != capacity && ftruncate(fd, 0) != 0) rc = -errno;
    if (rc == 0 && (uint64_t)st.st_size != capacity) rc = rl_preallocate(fd, 0, capacity); /* a full disk fails here */
    enum { CHUNK = 64 << 10 };
    void *zeros = NULL;
    if (rc == 0 && posix_memalign(&zeros, 4096, CHUNK) != 0) rc = -ENOMEM;
    int direct = rc == 0 ? open(path, O_WRONLY | O_DIRECT | O_CLOEXEC) : -1; /* tmpfs has no O_DIRECT */
    if (zeros != NULL) memset(zeros, 0, CHUNK);
    for (uint64_t at = 0; rc == 0 && at < capacity;) {
        size_t n = capacity - at < CHUNK ? (size_t)(capacity - at) : CHUNK;
        int use = direct >= 0 && n % 4096 == 0 ? direct : fd;
        ssize_t put = pwrite(use, zeros, n, (off_t)at);
        if (put < 0 && errno == EINTR) continue;
        if (put <= 0) rc = put < 0 ? -errno : -EIO;
        else at += (uint64_t)put;
        pthread_mutex_lock(&j->snap_lock);
        if (j->snap_stop) rc = -ECANCELED;
        pthread_mutex_unlock(&j->snap_lock);
    }
    if (direct >= 0) close(direct);
    free(zeros);
    if (rc == 0 && fdatasync(fd) != 0) rc = -errno;
    if (rc != 0) {
        close(fd);
        unlink(path);
        return rc;
    }
    return fd;
}

/* A prepared spare: its descriptor (its path in `path`, its slot in *slot),
 * or -1. The slot stays taken until rl_spare_release: the
 * background thread must not make a new spare under that path while the
 * writer still renames the file away from it. */
static int rl_spare_take(rl_journal_t *j, char *path, int *slot) {
    pthread_mutex_lock(&j->snap_lock);
    int fd = -1;
    for (int k = 0; k < RL_JOURNAL_SPARES && fd < 0; k++) {
        struct rl_spare *spare = &j->spares[k];
        if (spare->fd >= 0) {
            fd = spare->fd;
            spare->fd = -1;
            spare->taken = true;
            rl_spare_path(j, k, path);
            *slot = k;
        }
    }
    pthread_mutex_unlock(&j->snap_lock);
    return fd;
}

/* The writer renamed (or removed) the file it took: the slot is free. */
static void rl_spare_release(rl_journal_t *j, int slot) {
    pthread_mutex_lock(&j->snap_lock);
    j->spares[slot].taken = false;
    j->spares[slot].present = false;
    pthread_mutex_unlock(&j->snap_lock);
}

/* The background thread's part: make one spare ready, unless one is. */
static void rl_spare_make_ready(rl_journal_t *j) {
    uint64_t capacity = rl_segment_capacity(j);
    int chosen = -1;
    pthread_mutex_lock(&j->snap_lock);
    bool ready = false;
    for (int slot = 0; slot < RL_JOURNAL_SPARES; slot++) ready |= j->spares[slot].fd >= 0;
    /* A recycled segment first: overwriting it allocates nothing. */
    for (int slot = 0; slot < RL_JOURNAL_SPARES && !ready && chosen < 0; slot++) {
        if (j->spares[slot].present && !j->spares[slot].taken) chosen = slot;
    }
    for (int slot = 0; slot < RL_JOURNAL_SPARES && !ready && chosen < 0; slot++) {
        if (!j->spares[slot].present) chosen = slot;
    }
    if (chosen >= 0) j->spares[chosen].preparing = true;
    pthread_mutex_unlock(&j->snap_lock);
    if (chosen < 0) return;
    /* A slot being prepared is this thread's alone: no lock while writing. */
    int fd = rl_spare_prepare(j, chosen, capacity);
    pthread_mutex_lock(&j->snap_lock);
    j->spares[chosen].preparing = false;
    /* A failure removes what it wrote; a recycled file it never opened stays,
     * and is still this slot's (the writer may give its space back). */
    char path[PATH_MAX];
    rl_spare_path(j, chosen, path);
    j->spares[chosen].present = fd >= 0 || access(path, F_OK) == 0;
    j->spares[chosen].fd = fd;
    pthread_mutex_unlock(&j->snap_lock);
}

static void rl_retired_path(const rl_journal_t *j, uint64_t id, char *out) {
    snprintf(out, PATH_MAX, "%s/" RL_JOURNAL_SPARE_PREFIX "retired-%" PRIu64 ".tmp", j->dir, id);
}

/* The background thread's disposal of a pruned segment: a free spare slot
 * takes it, else it is retired (cut down later), else (too many) unlinked. */
static int rl_prune_recycle(void *context, const char *path) {
    rl_journal_t *j = context;
    if (j->options.plain_segments) return rl_prune_unlink(NULL, path);
    char to[PATH_MAX];
    int slot = -1;
    pthread_mutex_lock(&j->snap_lock);
    for (int k = 0; k < RL_JOURNAL_SPARES && slot < 0; k++) {
        if (!j->spares[k].present) slot = k;
    }
    pthread_mutex_unlock(&j->snap_lock);
    if (slot >= 0) {
        rl_spare_path(j, slot, to);
        if (rename(path, to) == 0) {
            pthread_mutex_lock(&j->snap_lock);
            j->spares[slot].present = true; /* only this thread fills slots */
            pthread_mutex_unlock(&j->snap_lock);
            return 0;
        }
    }
    pthread_mutex_lock(&j->snap_lock);
    bool room = j->retired_count < RL_JOURNAL_RETIRED_MAX;
    uint64_t id = j->retired_next++;
    pthread_mutex_unlock(&j->snap_lock);
    if (room) {
        rl_retired_path(j, id, to);
        if (rename(path, to) == 0) {
            pthread_mutex_lock(&j->snap_lock);
            j->retired[j->retired_count++] = id; /* only this thread adds */
            pthread_mutex_unlock(&j->snap_lock);
            return 0;
        }
    }
    return rl_prune_unlink(NULL, path);
}

/* A segment that cannot be made for want of space (ENOSPC, EDQUOT): give
 * back what spares hold that is not ready to use (recycled segments not yet
 * rewritten, retired ones being cut down), as unlinking them would have
 * before spares. The writer's, on that failure path only. */
static bool rl_spares_free_space(rl_journal_t *j) {
    char paths[RL_JOURNAL_SPARES + RL_JOURNAL_RETIRED_MAX][PATH_MAX];
    int slots[RL_JOURNAL_SPARES];
    int n = 0, freed_slots = 0;
    pthread_mutex_lock(&j->snap_lock);
    for (int slot = 0; slot < RL_JOURNAL_SPARES; slot++) {
        struct rl_spare *spare = &j->spares[slot];
        if (!spare->present || spare->taken || spare->preparing || spare->fd >= 0) continue;
        rl_spare_path(j, slot, paths[n++]);
        spare->taken = true; /* until unlinked: the background thread must not open it meanwhile */
        slots[freed_slots++] = slot;
    }
    for (uint32_t k = 0; k < j->retired_count; k++) rl_retired_path(j, j->retired[k], paths[n++]);
    j->retired_count = 0;
    pthread_mutex_unlock(&j->snap_lock);
    for (int k = 0; k < n; k++) unlink(paths[k]);
    for (int k = 0; k < freed_slots; k++) rl_spare_release(j, slots[k]);
    return n > 0;
}

/* Whether the background thread is writing a spare now. */
static bool rl_spare_in_preparation(rl_journal_t *j) {
    pthread_mutex_lock(&j->snap_lock);
    bool preparing = false;
    for (int slot = 0; slot < RL_JOURNAL_SPARES; slot++) preparing |= j->spares[slot].preparing;
    pthread_mutex_unlock(&j->snap_lock);
    return preparing;
}

/* Cut the oldest retired segment down by RL_JOURNAL_TRIM_BYTES and sync, so
 * that each filesystem commit frees (and discards) only that much; unlink it
 * once empty. */
static void rl_retired_trim(rl_journal_t *j) {
    pthread_mutex_lock(&j->snap_lock);
    uint64_t id = j->retired[0];
    bool any = j->retired_count > 0;
    pthread_mutex_unlock(&j->snap_lock);
    if (!any) return;
    char path[PATH_MAX];
    rl_retired_path(j, id, path);
    /* Its rename must be durable before it is cut: a power loss must never
     * bring back a segment name on a shortened file. Once per file. */
    if (j->retired_synced != id + 1) {
        if (rl_fsync_dir(j->dir) != 0) return;
        j->retired_synced = id + 1;
    }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    struct stat st;
    bool gone = fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0;
    if (!gone) {
        off_t size = st.st_size > RL_JOURNAL_TRIM_BYTES ? st.st_size - RL_JOURNAL_TRIM_BYTES : 0;
        gone = ftruncate(fd, size) != 0 || fdatasync(fd) != 0 || size == 0;
    }
    if (fd >= 0) close(fd);
    if (gone) {
        unlink(path); /* empty, or failing: either way nothing large is freed here */
        pthread_mutex_lock(&j->snap_lock);
        /* The writer may have emptied the list meanwhile (a full disk). */
        if (j->retired_count > 0 && j->retired[0] == id) {
            j->retired_count--;
            memmove(j->retired, j->retired + 1, j->retired_count * sizeof(j->retired[0]));
        }
        pthread_mutex_unlock(&j->snap_lock);
    }
}

/* Ask the background thread for a spare (once per segment, a quarter in: a
 * journal that never fills one never writes one). */
static void rl_spare_ask(rl_journal_t *j) {
    if (j->spare_asked || j->options.plain_segments || !j->snap_thread_started) return;
    if (j->seg_offset < (j->seg_capacity - RL_JOURNAL_STATE_RESERVE) / 4) return;
    j->spare_asked = true;
    pthread_mutex_lock(&j->snap_lock);
    j->spare_wanted = true;
    pthread_cond_signal(&j->snap_cond);
    pthread_mutex_unlock(&j->snap_lock);
}

/* Close the segment the writer appends to. */
static void rl_segment_detach(rl_journal_t *j) {
    if (j->seg_direct_fd >= 0) close(j->seg_direct_fd);
    if (j->seg_fd >= 0) close(j->seg_fd);
    j->seg_fd = j->seg_direct_fd = -1;
}

/* Make `fd` (at `path`, synced up to `offset`) the segment the writer appends
 * to from `offset`: the batch buffer starts with the bytes before it in its
 * block, and the segment is opened O_DIRECT too where that can work (a
 * preallocated segment of whole blocks: a write never grows it; a
 * filesystem that refuses O_DIRECT keeps buffered writes). */
static void rl_segment_attach(rl_journal_t *j, int fd, const char *path, uint64_t offset, uint64_t capacity,
                              bool preallocated) {
    if (fd != j->seg_fd) rl_segment_detach(j);
    j->seg_fd = fd;
    j->seg_offset = offset;
    j->seg_capacity = capacity;
    size_t head = (size_t)(offset % RL_JOURNAL_DIRECT_BLOCK);
    /* The block's bytes before offset, as on disk (read before any direct
     * write, through the page cache that holds them). A failed read leaves
     * buffered writes, which need none of them. */
    bool head_read = pread(fd, j->buffer_block, head, (off_t)(offset - head)) == (ssize_t)head;
    j->buffer_head = head;
    /* Only where the filesystem's block is ours: on smaller blocks (ext4
     * below 512 MB makes 1 KiB ones) a whole 4 KiB would rewrite durable
     * blocks that page writeback leaves alone; larger ones may refuse it. */
    struct stat st;
    bool blocks = fstat(fd, &st) == 0 && st.st_blksize == RL_JOURNAL_DIRECT_BLOCK;
    if (preallocated && head_read && blocks && capacity % RL_JOURNAL_DIRECT_BLOCK == 0 && !j->options.buffered_writes) {
        j->seg_direct_fd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
    }
}

/* A new segment's salt: random, never 0 (version 1's, and a recycled
 * version 1 segment's records'). */
static uint32_t rl_segment_salt(uint64_t first_seq) {
    uint32_t salt = 0;
    if (getrandom(&salt, sizeof(salt), GRND_NONBLOCK) != (ssize_t)sizeof(salt)) {
        uint64_t mix = rl_realtime_ns() ^ (first_seq * 0x9E3779B97F4A7C15ull);
        mix ^= mix >> 31;
        mix *= 0xBF58476D1CE4E5B9ull;
        salt = (uint32_t)(mix ^ (mix >> 32));
    }
    return salt != 0 ? salt : 1;
}

static int rl_journal_make_segment(rl_journal_t *j) {
    char path[PATH_MAX], temp[PATH_MAX];
    snprintf(path, sizeof(path), "%s/segment-%020" PRIu64 ".rlj", j->dir, j->next_seq);
    /* Preallocated to its full size before its header says so: the space is
     * taken now (a full disk fails here, not mid-trading), and a segment cut
     * short later is seen by its size. A prepared spare is that already, and
     * written. Either way it gets its header under a temporary name and only
     * then its own: a reader (or a restart after a kill) never finds a
     * segment without a header. */
    uint64_t capacity = rl_segment_capacity(j);
    int slot = -1;
    char spare_path[PATH_MAX];
    int fd = rl_spare_take(j, temp, &slot);
    bool prepared = fd >= 0;
    int rc = 0;
    if (!prepared) {
        snprintf(temp, sizeof(temp), "%s/" RL_JOURNAL_SPARE_PREFIX "new.tmp", j->dir);
        fd = open(temp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644); /* read back by rl_segment_attach */
        if (fd < 0) return -errno;
        rc = rl_preallocate(fd, 0, capacity);
        if (rc == -ENOSPC || rc == -EDQUOT) {
            /* No room: give back what unready spares hold, and wait (bounded)
             * for a spare being written, which needs no new space. A file
             * another thread still has open frees its space when closed:
             * retry a few times. */
            rl_spares_free_space(j);
            for (int attempt = 0; attempt < RL_JOURNAL_FULL_DISK_WAIT_MS && (rc == -ENOSPC || rc == -EDQUOT); attempt++) {
                int ready = rl_spare_take(j, spare_path, &slot);
                if (ready >= 0) {
                    close(fd);
                    unlink(temp);
                    fd = ready;
                    snprintf(temp, sizeof(temp), "%s", spare_path);
                    prepared = true;
                    rc = 0;
                    break;
                }
                if (attempt > 8 && !rl_spare_in_preparation(j)) break;
                struct timespec pause = {0, 1000000};
                nanosleep(&pause, NULL);
                rc = rl_preallocate(fd, 0, capacity);
            }
        }
        if (rc != 0) {
            /* Ask again for a spare: one rewritten in place needs no new space. */
            j->spare_asked = false;
            rl_spare_ask(j);
        }
    }
    rl_journal_segment_header_t header;
    rl_segment_header_init(&header, RL_JOURNAL_MAGIC, j->next_seq);
    /* A recycled spare still holds its earlier life's records: a new salt
     * tells them from this segment's (set before the size, which seals the CRC). */
    header.salt = rl_segment_salt(j->next_seq);
    rl_segment_header_set_size(&header, capacity, 0);
    /* The header and zeros to the end of its block: the first terminator
     * (a recycled file holds its earlier life's first records there). */
    uint8_t first_block[RL_JOURNAL_DIRECT_BLOCK] = {0};
    memcpy(first_block, &header, sizeof(header));
    size_t first_len = capacity < sizeof(first_block) ? (size_t)capacity : sizeof(first_block);
    if (rc == 0) rc = rl_write_all(fd, first_block, first_len, 0);
    if (rc == 0 && fdatasync(fd) != 0) rc = -errno;
    /* Named, the name made durable and the manifest rewritten, all under the
     * manifest's lock: a rewrite from another thread (a snapshot written
     * outside the writer) lists the directory, and must never name this
     * segment while its rename could still be lost (the in-place rewrite
     * syncs no directory; helper-49). */
    pthread_mutex_lock(&rl_manifest_lock);
    bool named = rc == 0 && rename(temp, path) == 0;
    if (rc == 0 && !named) rc = -errno;
    if (rc == 0) rc = rl_fsync_dir(j->dir);
    /* The manifest names it before any record in it counts as durable. */
    if (rc == 0) rc = rl_manifest_write_locked(j->dir);
    if (rc != 0) {
        /* Not made: no file may stay behind claiming sequence next_seq (a
         * halt written ahead into the current segment's reserve takes it).
         * If the manifest already named it, name what is left again. */
        close(fd);
        unlink(named ? path : temp);
        if (named && rl_fsync_dir(j->dir) == 0) rl_manifest_write_locked(j->dir);
    }
    pthread_mutex_unlock(&rl_manifest_lock);
    if (rc != 0) {
        if (prepared) rl_spare_release(j, slot);
        return rc;
    }
    if (prepared) rl_spare_release(j, slot);
    /* release: pairs with the prune's acquire load; the old segment may go now. */
    atomic_store_explicit(&j->live_segment_seq, j->next_seq, memory_order_release);
    rl_segment_attach(j, fd, path, sizeof(header), capacity, true);
    j->seg_salt = header.salt;
    j->seg_version = header.version;
    j->spare_asked = false;
    /* relaxed: statistics. */
    atomic_fetch_add_explicit(&j->segments_created, 1, memory_order_relaxed);
    if (prepared) atomic_fetch_add_explicit(&j->segments_prepared, 1, memory_order_relaxed);
    return 0;
}

/* Rotate to a new segment, seen as such by a timed-out wait. */
static int rl_journal_create_segment(rl_journal_t *j) {
    rl_writer_phase(j, RL_JOURNAL_PHASE_ROTATING);
    int rc = rl_journal_make_segment(j);
    rl_writer_phase(j, RL_JOURNAL_PHASE_TAKING);
    return rc;
}

/* What a commit writes through the page cache: its records and, after them,
 * the terminator's zeros (RL_JOURNAL_TERMINATOR_BYTES, as many as the
 * segment still holds), which the next commit overwrites. Zeroes them in
 * the buffer (it has room: see rl_journal_add). */
static size_t rl_commit_bytes(rl_journal_t *j) {
    uint64_t end = j->seg_offset + j->buffer_len;
    /* Version 2 only: a version 1 tail (zeros past its records where it is
     * preallocated, its end where it is not) is continued as it was written. */
    size_t terminator = j->seg_salt == 0 || end >= j->seg_capacity ? 0
                        : j->seg_capacity - end < RL_JOURNAL_TERMINATOR_BYTES ? (size_t)(j->seg_capacity - end)
                                                                              : RL_JOURNAL_TERMINATOR_BYTES;
    memset(rl_batch(j) + j->buffer_len, 0, terminator);
    return j->buffer_len + terminator;
}

/* A direct write that failed (res < 0: -errno) or came up short: the batch is
 * written through the page cache instead, which completes it or names the
 * errno (ENOSPC, EDQUOT). EINVAL is O_DIRECT itself refused (an alignment
 * this filesystem does not take): the segment is written buffered from now
 * on. 0 or -errno. */
static int rl_direct_fell_short(rl_journal_t *j, int res) {
    if (res == -EINVAL) {
        close(j->seg_direct_fd);
        j->seg_direct_fd = -1;
    }
    return rl_write_all(j->seg_fd, rl_batch(j), rl_commit_bytes(j), (off_t)j->seg_offset);
}

#if RL_HAVE_LIBURING
/* One completion from the ring, a signal's EINTR waited through. */
static int rl_uring_reap(rl_journal_t *j, struct io_uring_cqe **cqe) {
    for (;;) {
        int w = io_uring_wait_cqe(&j->ring, cqe);
        w = RL_FAULT("uring:wait", w);
        if (w != -EINTR) return w;
    }
}

/* Every completion owed comes back before the batch buffer is touched again
 * (a write in flight reads it; rl_journal_add may grow and free it): SQEs
 * a failed or short submit left queued are submitted (a failed commit turns
 * its own into NOPs first: the kernel reads an SQE only when it takes it),
 * and everything owed is reaped and dropped. Retried for a while; a ring
 * that never settles marks the journal broken, and it fails closed. */
static int rl_uring_settle(rl_journal_t *j) {
    if (j->uring_broken) return -EIO;
    for (int attempt = 0; j->uring_inflight > 0; attempt++) {
        if (attempt >= RL_JOURNAL_URING_SETTLE_TRIES) {
            j->uring_broken = true;
            return -EIO;
        }
        int rc = 0;
        while (rc >= 0 && io_uring_sq_ready(&j->ring) > 0) {
            rc = io_uring_submit(&j->ring);
            if (rc == 0) rc = -EBUSY;
        }
        while (rc >= 0 && j->uring_inflight > 0) {
            struct io_uring_cqe *cqe;
            rc = rl_uring_reap(j, &cqe);
            if (rc < 0) break;
            RL_HOOK("journal:uring_stale_cqe");
            io_uring_cqe_seen(&j->ring, cqe);
            j->uring_inflight--;
        }
        if (rc < 0) {
            struct timespec pause = {0, 1000000};
            nanosleep(&pause, NULL);
        }
    }
    return 0;
}
#endif

/* Write the batch and sync it: one io_uring submission (write linked to fsync)
 * or pwrite + fdatasync. Publishes the durable sequence. */
static int rl_journal_commit_batch(rl_journal_t *j) {
    int rc = 0;
    /* Direct: whole blocks from the start of the one seg_offset is in, the
     * last padded with zeros (what the preallocated segment holds there).
     * Cleared when it falls back to the page cache. */
#if RL_HAVE_LIBURING
    /* Nothing of an earlier commit still in flight over the buffer. */
    if (j->io_mode == RL_JOURNAL_IO_URING && (rc = rl_uring_settle(j)) != 0) return rc;
#endif
    bool direct = j->seg_direct_fd >= 0;
    size_t used = j->buffer_head + j->buffer_len;
    /* Whole blocks, the terminator's zeros after the records included. */
    size_t terminator = j->seg_salt != 0 ? RL_JOURNAL_TERMINATOR_BYTES : 0;
    size_t write_len = (used + terminator + RL_JOURNAL_DIRECT_BLOCK - 1) & ~(size_t)(RL_JOURNAL_DIRECT_BLOCK - 1);
    uint64_t write_at = j->seg_offset - j->buffer_head;
    if (direct && write_at + write_len > j->seg_capacity) direct = false; /* never past its end */
    size_t buffered_len = rl_commit_bytes(j); /* what a write through the page cache takes */
    if (direct) memset(j->buffer_block + used, 0, write_len - used);
#if RL_HAVE_LIBURING
    if (j->io_mode == RL_JOURNAL_IO_URING) {
        /* Each SQE is tagged with its commit (user_data: commit << 1, +1 for
         * the fsync), and only this commit's two completions count for it.
         * Once two were read blindly: a wait cut short (a signal's EINTR)
         * left them in the ring, and every later commit published durability
         * on the one before's fsync (helper-46). The settle above left the
         * ring empty, so both SQEs are there and nothing else is queued. */
        struct io_uring_sqe *sqes[2] = {io_uring_get_sqe(&j->ring), NULL};
        if (sqes[0] != NULL) sqes[1] = io_uring_get_sqe(&j->ring);
        if (sqes[1] == NULL) return -EBUSY; /* cannot be; and nothing was prepared */
        uint64_t tag = ++j->uring_commits << 1;
        if (direct) io_uring_prep_write(sqes[0], j->seg_direct_fd, j->buffer_block, (unsigned)write_len, write_at);
        else io_uring_prep_write(sqes[0], j->seg_fd, rl_batch(j), (unsigned)buffered_len, j->seg_offset);
        io_uring_sqe_set_data64(sqes[0], tag);
        sqes[0]->flags |= IOSQE_IO_LINK; /* the fsync runs only after the write completes */
        io_uring_prep_fsync(sqes[1], j->seg_fd, IORING_FSYNC_DATASYNC);
        io_uring_sqe_set_data64(sqes[1], tag | 1);
        j->uring_inflight += 2; /* owed until reaped, here or by a settle */
        rc = io_uring_submit_and_wait(&j->ring, 2);
        int taken = rc < 0 ? 0 : rc > 2 ? 2 : rc;
        if (taken < 2) {
            /* Refused, or only the write taken: what the kernel did not take
             * becomes a NOP (never a stale write of this buffer later), and
             * the commit fails once all it owes is back. */
            for (int k = taken; k < 2; k++) {
                io_uring_prep_nop(sqes[k]);
                io_uring_sqe_set_data64(sqes[k], tag | (uint64_t)k);
            }
            int settled = rl_uring_settle(j);
            return rc < 0 ? rc : settled != 0 ? settled : -EAGAIN;
        }
        rc = 0;
        for (int seen = 0; seen < 2;) {
            struct io_uring_cqe *cqe;
            int w = rl_uring_reap(j, &cqe);
            if (w < 0) {
                /* This commit fails, once what it still owes is back. */
                int settled = rl_uring_settle(j);
                rc = settled != 0 ? settled : w;
                break;
            }
            uint64_t data = io_uring_cqe_get_data64(cqe);
            int res = cqe->res;
            io_uring_cqe_seen(&j->ring, cqe);
            j->uring_inflight--;
            if ((data & ~(uint64_t)1) != tag) {
                RL_HOOK("journal:uring_stale_cqe"); /* not after the settle above; never counted as ours */
                continue;
            }
            int i = (int)(data & 1); /* 0: the write, 1: the fsync (posted after it: linked) */
            seen++;
            res = RL_FAULT(i == 0 ? "uring:write" : "uring:fsync", res);
            if (i == 0 && direct && rc == 0 && (res < 0 || (size_t)res != write_len)) {
                /* A direct write refused or short: the batch through the page cache. */
                rc = rl_direct_fell_short(j, res);
                direct = false;
                if (rc == 0) rc = -EAGAIN; /* written now, but the linked sync was cut short: sync below */
            } else if (res < 0 && rc == 0) {
                /* A write or fsync failed or cancelled. (A write cut short
                 * above set rc: its fsync's cancellation is expected.) */
                rc = res;
            } else if (i == 0 && !direct && res >= 0 && (size_t)res != buffered_len && rc == 0) {
                /* A short write (a full disk writes what fits): write the rest
                 * directly, which either completes it or names the real errno
                 * (ENOSPC, EDQUOT), instead of a vague EIO. */
                size_t done = (size_t)res;
                rc = rl_write_all(j->seg_fd, rl_batch(j) + done, buffered_len - done, (off_t)(j->seg_offset + done));
                if (rc == 0) rc = -EAGAIN; /* written now, but the linked sync was cut short: sync below */
            }
        }
        if (rc == -EAGAIN) rc = fdatasync(j->seg_fd) != 0 ? -errno : 0;
    } else
#endif
    {
        if (direct) {
            ssize_t put = pwrite(j->seg_direct_fd, j->buffer_block, write_len, (off_t)write_at);
            rc = 0;
            if (put != (ssize_t)write_len) {
                rc = rl_direct_fell_short(j, put < 0 ? -errno : (int)put);
                direct = false;
            }
        } else {
            rc = rl_write_all(j->seg_fd, rl_batch(j), buffered_len, (off_t)j->seg_offset);
        }
        if (rc == 0 && fdatasync(j->seg_fd) != 0) rc = -errno;
    }
    if (rc != 0) {
        /* release: pairs with rl_journal_error's acquire; the risk side halts on it. */
        atomic_store_explicit(&j->last_error, rc, memory_order_release);
        return rc; /* the writer's loop counts it and retries */
    }
    j->seg_offset += j->buffer_len;
    /* The next batch starts with the bytes of the block it starts in. */
    size_t head = (size_t)(j->seg_offset % RL_JOURNAL_DIRECT_BLOCK);
    memmove(j->buffer_block, j->buffer_block + used - head, head);
    j->buffer_head = head;
    /* relaxed: statistics. */
    atomic_fetch_add_explicit(&j->records, j->batch_records, memory_order_relaxed);
    atomic_fetch_add_explicit(&j->bytes, j->buffer_len, memory_order_relaxed);
    atomic_fetch_add_explicit(&j->syncs, 1, memory_order_relaxed);
    if (direct) atomic_fetch_add_explicit(&j->direct_commits, 1, memory_order_relaxed); /* written O_DIRECT */
    /* release, all: pair with the acquire loads of waiters; what they wait
     * for is on disk. The sequence first, so that a waiter woken by the
     * counts also reads a durable_seq that covers its record. */
    atomic_store_explicit(&j->durable_seq, j->batch_last_seq, memory_order_release);
    atomic_fetch_add_explicit(&j->hot_durable, j->batch_hot, memory_order_release);
    if (j->batch_cold_ticket) atomic_store_explicit(&j->cold_durable, j->batch_cold_ticket, memory_order_release);
    /* acquire: pairs with the release store in rl_journal_set_lag_ring (the ring is initialised). */
    rl_spsc_t *lag_ring = atomic_load_explicit(&j->lag_ring, memory_order_acquire);
    if (lag_ring != NULL) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        rl_event_t sample = {0};
        sample.type = RL_EVENT_HEARTBEAT;
        sample.value = (int64_t)((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - j->batch_started_ns);
        sample.qty = (int64_t)j->batch_records;
        sample.order_id = j->batch_accepted;
        sample.symbol = j->batch_backlog > UINT32_MAX ? UINT32_MAX : (uint32_t)j->batch_backlog;
        sample.price = j->batch_accepted ? (int64_t)(rl_clock_cycles() - j->batch_oldest_accept) : 0;
        rl_spsc_push(lag_ring, &sample); /* a full ring skips the sample; it is counted there */
        uint64_t now = rl_clock_cycles();
        for (uint32_t i = 0; i < j->lag_count; i++) {
            rl_event_t order = {0};
            order.type = RL_EVENT_ORDER_ACCEPTED;
            order.price = (int64_t)(now - j->lag_stamps[i]);
            order.qty = RL_JOURNAL_LAG_SAMPLE_EVERY;
            rl_spsc_push(lag_ring, &order);
        }
    }
    j->lag_count = 0;
    rl_spare_ask(j);
    j->buffer_len = 0;
    j->batch_records = j->batch_hot = j->batch_cold_ticket = 0;
    j->batch_accepted = j->batch_oldest_accept = j->batch_backlog = 0;
    j->batch_sync_now = false;
    return 0;
}

int rl_journal_decode_position(const uint8_t *payload, uint32_t length, uint32_t *symbol, rl_position_view_t *view) {
    memset(view, 0, sizeof(*view));
    if (length == sizeof(rl_journal_position_payload_t)) {
        memcpy(symbol, payload, 4);
        memcpy(view, payload + offsetof(rl_journal_position_payload_t, view), sizeof(*view));
        return 0;
    }
    if (length == RL_JOURNAL_POSITION_V1_BYTES) {
        memcpy(symbol, payload, 4);
        memcpy(view, payload + 8, 48);
        view->buy_price = view->sell_price = view->mark;
        return 0;
    }
    return -EINVAL;
}

/* ---- The shadow's open orders ---------------------------------------------- */

static uint64_t rl_order_hash(uint64_t id) {
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL;
    return id ^ (id >> 33);
}

/* The slot holding `id`, or the empty slot where it would go. capacity > 0. */
static uint64_t rl_open_orders_find(const struct rl_open_orders *t, uint64_t id) {
    uint64_t mask = t->capacity - 1, i = rl_order_hash(id) & mask;
    while (t->slots[i].order_id != 0 && t->slots[i].order_id != id) i = (i + 1) & mask;
    return i;
}

/* Room for one more order: the table grows at half full (rehashed into
 * twice the room). 0, or -ENOMEM with the table as it was. */
static int rl_open_orders_make_room(struct rl_open_orders *t) {
    if ((t->count + 1) * 2 <= t->capacity) return 0;
    uint64_t capacity = t->capacity ? t->capacity * 2 : 1024;
    rl_journal_open_order_payload_t *slots =
        RL_FAULT("journal:open_orders_grow", 0) == 0 ? calloc(capacity, sizeof(*slots)) : NULL;
    if (slots == NULL) return -ENOMEM;
    struct rl_open_orders grown = {slots, capacity, 0};
    for (uint64_t i = 0; i < t->capacity; i++) {
        if (t->slots[i].order_id != 0) {
            grown.slots[rl_open_orders_find(&grown, t->slots[i].order_id)] = t->slots[i];
            grown.count++;
        }
    }
    free(t->slots);
    *t = grown;
    return 0;
}

static int rl_open_orders_put(struct rl_open_orders *t, const rl_journal_open_order_payload_t *order) {
    int rc = rl_open_orders_make_room(t);
    if (rc != 0) return rc;
    uint64_t i = rl_open_orders_find(t, order->order_id);
    if (t->slots[i].order_id == 0) t->count++;
    t->slots[i] = *order;
    return 0;
}

/* Remove by shifting the cluster after it back (no tombstones). */
static void rl_open_orders_remove(struct rl_open_orders *t, uint64_t id) {
    if (t->capacity == 0) return;
    uint64_t mask = t->capacity - 1, i = rl_open_orders_find(t, id);
    if (t->slots[i].order_id == 0) return;
    t->slots[i].order_id = 0;
    t->count--;
    for (uint64_t j = (i + 1) & mask; t->slots[j].order_id != 0; j = (j + 1) & mask) {
        uint64_t home = rl_order_hash(t->slots[j].order_id) & mask;
        /* Move j back to i if its home is not in (i, j]. */
        bool between = i < j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            t->slots[i] = t->slots[j];
            t->slots[j].order_id = 0;
            i = j;
        }
    }
}

/* Whether an event puts an order among the open ones (rl_open_orders_apply). */
static bool rl_open_orders_adds(const rl_event_t *event) {
    return event->order_id != 0 &&
           (event->type == RL_EVENT_ORDER_ACCEPTED || event->type == RL_EVENT_ORDER_ADOPTED);
}

/* An order event the shadow made durable: who is still working. */
static int rl_open_orders_apply(struct rl_open_orders *t, const rl_event_t *event) {
    if (rl_open_orders_adds(event)) {
        rl_journal_open_order_payload_t order = {event->order_id, event->symbol, event->side, {0}, event->qty,
                                                 event->price};
        return rl_open_orders_put(t, &order);
    }
    if (event->order_id == 0) return 0;
    switch (event->type) {
    case RL_EVENT_FILL: {
        if (t->capacity == 0) return 0;
        uint64_t i = rl_open_orders_find(t, event->order_id);
        if (t->slots[i].order_id == 0) return 0;
        t->slots[i].remaining -= event->qty;
        if (t->slots[i].remaining <= 0) rl_open_orders_remove(t, event->order_id);
        return 0;
    }
    case RL_EVENT_CANCEL_ACK:
    case RL_EVENT_REJECT:
    case RL_EVENT_EXPIRE:
        rl_open_orders_remove(t, event->order_id);
        return 0;
    default:
        return 0;
    }
}

/* ---- The shadow state ----------------------------------------------------- */

/* A record every snapshot carries on (trading-state changes, strategy halts). */
static int rl_shadow_keep_history(rl_journal_t *j, uint16_t type, const uint8_t *payload, uint32_t length) {
    if (j->history_count == j->history_cap) {
        uint64_t cap = j->history_cap ? j->history_cap * 2 : 16;
        void *grown = realloc(j->history, cap * sizeof(*j->history));
        if (grown == NULL) return -ENOMEM;
        j->history = grown;
        j->history_cap = cap;
    }
    uint8_t *copy = malloc(length);
    if (copy == NULL) return -ENOMEM;
    memcpy(copy, payload, length);
    j->history[j->history_count++] = (struct rl_history_record){type, length, copy};
    return 0;
}

/* Whether a record's type and payload have a shape the writer can apply:
 * -EINVAL if not. Checked before a cold record is queued: one the writer
 * refused would stay at the head of the queue, retried for ever, and no
 * record behind it would ever be written (helper-46). */
static int rl_record_shape(uint16_t type, const uint8_t *payload, uint32_t length, uint32_t symbols) {
    switch (type) {
    case RL_JREC_EVENT: return length == sizeof(rl_event_t) ? 0 : -EINVAL;
    case RL_JREC_OPEN_ORDER: {
        if (length != sizeof(rl_journal_open_order_payload_t)) return -EINVAL;
        rl_journal_open_order_payload_t order;
        memcpy(&order, payload, sizeof(order));
        return order.order_id != 0 ? 0 : -EINVAL;
    }
    case RL_JREC_SYMBOL: {
        /* An id past the shadow's capacity never fits it (the writer would
         * refuse the record at the head of its queue for ever). */
        uint32_t id;
        if (length <= 4 || length - 4 > RL_SYMBOL_NAME_MAX) return -EINVAL;
        memcpy(&id, payload, 4);
        return id < symbols && rl_symbols_valid_name_n((const char *)payload + 4, length - 4) ? 0 : -EINVAL;
    }
    case RL_JREC_LIMITS: return 0;
    case RL_JREC_FREEZE:
    case RL_JREC_UNFREEZE: return length >= 8 ? 0 : -EINVAL;
    case RL_JREC_OPERATOR: return length > 0 ? 0 : -EINVAL;
    case RL_JREC_POSITION: {
        uint32_t symbol;
        rl_position_view_t view;
        return rl_journal_decode_position(payload, length, &symbol, &view) == 0 && symbol < symbols ? 0 : -EINVAL;
    }
    default: return -EINVAL;
    }
}

static int rl_shadow_apply(rl_journal_t *j, uint16_t type, const uint8_t *payload, uint32_t length) {
    if (j->shadow == NULL) return 0;
    int shape = rl_record_shape(type, payload, length, j->options.symbol_capacity);
    if (shape != 0) return shape;
    switch (type) {
    case RL_JREC_EVENT: {
        rl_event_t event;
        memcpy(&event, payload, sizeof(event));
        /* A strategy's own halt is history only: the snapshot keeps it, as it keeps the freezes. */
        if (event.type == RL_EVENT_STRATEGY_HALT) return rl_shadow_keep_history(j, type, payload, length);
        /* The order's room first: nothing may fail after the replay, or the
         * writer's retry of this record replays it twice (a reservation
         * doubled in the shadow, then in every later snapshot). */
        if (rl_open_orders_adds(&event)) {
            int room = rl_open_orders_make_room(&j->open_orders);
            if (room != 0) return room;
        }
        rl_engine_replay_event(j->shadow, &event);
        return rl_open_orders_apply(&j->open_orders, &event); /* cannot fail now: the room is there */
    }
    case RL_JREC_OPEN_ORDER: {
        rl_journal_open_order_payload_t order;
        memcpy(&order, payload, sizeof(order));
        return rl_open_orders_put(&j->open_orders, &order);
    }
    case RL_JREC_SYMBOL: {
        char name[RL_SYMBOL_NAME_MAX + 1];
        memcpy(name, payload + 4, length - 4);
        name[length - 4] = 0;
        int64_t id = rl_engine_add_symbol(j->shadow, name, 0);
        return id >= 0 || id == -EEXIST ? 0 : (int)id;
    }
    case RL_JREC_LIMITS: {
        uint8_t *copy = malloc(length ? length : 1);
        if (copy == NULL) return -ENOMEM;
        memcpy(copy, payload, length);
        free(j->limits_payload);
        j->limits_payload = copy;
        j->limits_length = length;
        return 0;
    }
    case RL_JREC_FREEZE:
    case RL_JREC_UNFREEZE: {
        uint64_t word;
        memcpy(&word, payload, 8);
        /* History first: it may fail (ENOMEM, the record retried); the restore cannot. */
        int rc = rl_shadow_keep_history(j, type, payload, length);
        if (rc == 0) rl_engine_restore_trading(j->shadow, word);
        return rc;
    }
    case RL_JREC_OPERATOR:
        /* The audit trail: history only, kept by snapshots as the freezes are. */
        return rl_shadow_keep_history(j, type, payload, length);
    case RL_JREC_POSITION: {
        uint32_t symbol;
        rl_position_view_t view;
        int rc = rl_journal_decode_position(payload, length, &symbol, &view);
        return rc != 0 ? rc : rl_position_table_restore(rl_engine_table(j->shadow), symbol, &view);
    }
    default:
        return -EINVAL;
    }
}

int rl_journal_seed_shadow(rl_journal_t *j, const rl_journal_snapshot_record_t *records, uint64_t count) {
    /* acquire: pairs with the release store in start; seeding races the writer otherwise. */
    if (atomic_load_explicit(&j->running, memory_order_acquire)) return -EBUSY;
    for (uint64_t i = 0; i < count; i++) {
        int rc = rl_shadow_apply(j, records[i].type, records[i].payload, records[i].length);
        if (rc != 0) return rc;
    }
    return 0;
}

/* Commit the batch, if any, seen as such by a timed-out wait. */
static int rl_journal_sync_batch(rl_journal_t *j) {
    if (j->batch_records == 0) return 0;
    rl_writer_phase(j, RL_JOURNAL_PHASE_COMMITTING);
    int rc = rl_journal_commit_batch(j);
    rl_writer_phase(j, RL_JOURNAL_PHASE_TAKING);
    return rc;
}

/* Encode the shadow as a snapshot covering the durable sequence and hand it to
 * the snapshot thread (which must be idle). ticket: the rl_journal_snapshot_now
 * request it answers, or 0. Writer thread. */
static int rl_journal_periodic_snapshot(rl_journal_t *j, uint64_t ticket) {
    uint32_t symbols = rl_engine_symbol_count(j->shadow);
    uint64_t count = 1 + 2 * (uint64_t)symbols + j->open_orders.count + j->history_count;
    rl_journal_snapshot_record_t *records = malloc(count * sizeof(*records));
    rl_journal_position_payload_t *positions = calloc((size_t)symbols + 1, sizeof(*positions));
    uint8_t *names = malloc((size_t)symbols * (4 + RL_SYMBOL_NAME_MAX) + 1);
    int rc = 0;
    if (records == NULL || positions == NULL || names == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    uint64_t n = 0;
    if (j->limits_payload != NULL) records[n++] = (rl_journal_snapshot_record_t){RL_JREC_LIMITS, j->limits_length, j->limits_payload};
    for (uint32_t id = 0; id < symbols; id++) {
        uint8_t *name = names + (size_t)id * (4 + RL_SYMBOL_NAME_MAX);
        const char *symbol = rl_engine_symbol_name(j->shadow, id);
        size_t len = strlen(symbol);
        memcpy(name, &id, 4);
        memcpy(name + 4, symbol, len);
        records[n++] = (rl_journal_snapshot_record_t){RL_JREC_SYMBOL, (uint32_t)(4 + len), name};
        positions[id].symbol = id;
        rl_position_table_read(rl_engine_table(j->shadow), id, &positions[id].view);
        records[n++] = (rl_journal_snapshot_record_t){RL_JREC_POSITION, sizeof(positions[id]), &positions[id]};
    }
    for (uint64_t i = 0; i < j->open_orders.capacity; i++) {
        const rl_journal_open_order_payload_t *order = &j->open_orders.slots[i];
        if (order->order_id != 0) records[n++] = (rl_journal_snapshot_record_t){RL_JREC_OPEN_ORDER, sizeof(*order), order};
    }
    for (uint64_t i = 0; i < j->history_count; i++) {
        records[n++] = (rl_journal_snapshot_record_t){j->history[i].type, j->history[i].length, j->history[i].payload};
    }
    /* relaxed: the writer's own store of it, after the sync that made it durable. */
    uint64_t covered = atomic_load_explicit(&j->durable_seq, memory_order_relaxed);
    uint8_t *buffer;
    size_t length;
    rc = rl_snapshot_encode(covered, records, n, &buffer, &length);
    if (rc == 0) {
        pthread_mutex_lock(&j->snap_lock);
        j->snap_buffer = buffer;
        j->snap_length = length;
        j->snap_covered = covered;
        j->snap_ticket = ticket;
        j->snap_pending = true;
        /* relaxed: the writer's own flag; the snapshot thread clears it with release. */
        atomic_store_explicit(&j->snap_busy, 1, memory_order_relaxed);
        pthread_cond_signal(&j->snap_cond);
        pthread_mutex_unlock(&j->snap_lock);
        j->records_since_snapshot = 0; /* the snapshot thread reports a failure; retried after another N */
    }
done:
    free(records);
    free(positions);
    free(names);
    return rc;
}

/* The snapshot thread: write each handed-off snapshot, then prune what it covers. */
static void *rl_journal_snapshot_main(void *arg) {
    rl_journal_t *j = arg;
    for (;;) {
        /* A retired segment is cut down every RL_JOURNAL_TRIM_PAUSE_MS, even
         * while snapshots and spares keep this thread busy. */
        if (rl_monotonic_us() - j->retired_trimmed_us >= RL_JOURNAL_TRIM_PAUSE_MS * 1000u) {
            j->retired_trimmed_us = rl_monotonic_us();
            rl_retired_trim(j);
        }
        pthread_mutex_lock(&j->snap_lock);
        bool trim = false;
        while (!j->snap_pending && !j->spare_wanted && !j->snap_stop && !trim) {
            if (j->retired_count == 0) {
                pthread_cond_wait(&j->snap_cond, &j->snap_lock);
                continue;
            }
            /* Retired segments to cut down: a step every RL_JOURNAL_TRIM_PAUSE_MS. */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += RL_JOURNAL_TRIM_PAUSE_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            trim = pthread_cond_timedwait(&j->snap_cond, &j->snap_lock, &until) == ETIMEDOUT;
        }
        if (trim && !j->snap_pending && !j->spare_wanted && !j->snap_stop) {
            pthread_mutex_unlock(&j->snap_lock);
            continue; /* the trim at the top of the loop is due */
        }
        if (j->snap_stop && !j->snap_pending) {
            pthread_mutex_unlock(&j->snap_lock);
            break;
        }
        if (!j->snap_pending) {
            /* The writer wants a spare segment ready for its next rotation. */
            j->spare_wanted = false;
            pthread_mutex_unlock(&j->snap_lock);
            rl_spare_make_ready(j);
            continue;
        }
        uint8_t *buffer = j->snap_buffer;
        size_t length = j->snap_length;
        uint64_t covered = j->snap_covered, ticket = j->snap_ticket;
        j->snap_pending = false;
        j->snap_buffer = NULL;
        pthread_mutex_unlock(&j->snap_lock);
        int rc = rl_snapshot_write_file(j->dir, covered, buffer, length, false);
        free(buffer);
        if (rc == 0) {
            /* Not while a reader holds the journal's files (rl_journal_hold):
             * the next snapshot prunes what this one would have. */
            char hold_path[PATH_MAX];
            snprintf(hold_path, sizeof(hold_path), "%s/" RL_JOURNAL_READERS_FILE, j->dir);
            int hold = open(hold_path, O_RDONLY | O_CLOEXEC);
            /* A reader that holds it through two snapshots in a row and
             * RL_JOURNAL_READER_GRACE_MS is not let stop pruning (and fill the
             * disk): the next snapshot prunes anyway. Both, so that frequent
             * snapshots do not cut a slow reader short. */
            bool unread = hold < 0 || flock(hold, LOCK_EX | LOCK_NB) == 0;
            if (!unread && j->prunes_deferred == 0) j->prunes_deferred_since_us = rl_monotonic_us();
            bool overdue = j->prunes_deferred >= 2 &&
                           rl_monotonic_us() - j->prunes_deferred_since_us >= RL_JOURNAL_READER_GRACE_MS * 1000ull;
            if (unread || overdue) {
                /* With a reader still there, pruned segments are unlinked, not
                 * recycled: its open files keep what they held. */
                /* acquire: pairs with the writer's release store after a rotation. */
                uint64_t live = atomic_load_explicit(&j->live_segment_seq, memory_order_acquire);
                rl_prune(j->dir, covered, live, unread ? rl_prune_recycle : rl_prune_unlink, j, false);
                j->prunes_deferred = 0;
            } else {
                j->prunes_deferred++;
                /* relaxed: a statistic. */
                atomic_fetch_add_explicit(&j->prunes_deferred_total, 1, memory_order_relaxed);
            }
            if (hold >= 0) close(hold); /* releases the lock */
            /* relaxed: statistics, published by the release stores below. */
            atomic_fetch_add_explicit(&j->snapshots, 1, memory_order_relaxed);
            atomic_store_explicit(&j->last_snapshot_seq, covered, memory_order_relaxed);
        }
        /* A failed snapshot loses nothing: the segments stay. relaxed: an error code. */
        atomic_store_explicit(&j->snapshot_error, rc, memory_order_relaxed);
        if (ticket != 0) {
            /* relaxed: published by the release store of snapshot_served just below. */
            atomic_store_explicit(&j->snapshot_result, rc, memory_order_relaxed);
            /* release: pairs with rl_journal_snapshot_now's acquire load; result and stats visible. */
            atomic_store_explicit(&j->snapshot_served, ticket, memory_order_release);
        }
        /* release: pairs with the writer's acquire load; snapshot_served is updated before. */
        atomic_store_explicit(&j->snap_busy, 0, memory_order_release);
    }
    return NULL;
}

static int rl_journal_add(rl_journal_t *j, uint16_t type, const void *payload, uint32_t length);

/* A trading-state change (RL_EVENT_STATE_CHANGE) as its record: the word,
 * for a halt or REDUCING the value of its cause, and, when an event of a
 * strategy caused it, {"strategy":N} (RTS 6 attribution; the orchestrator's
 * own record of it adds the whole detail). */
static int rl_journal_add_state(rl_journal_t *j, const rl_event_t *event) {
    uint64_t word = event->order_id;
    bool active = rl_freeze_word_state(word) == RL_STATE_ACTIVE;
    uint8_t payload[sizeof(rl_journal_state_payload_t) + 32];
    memcpy(payload, &word, sizeof(word));
    uint32_t length = sizeof(word);
    if (!active) {
        memcpy(payload + length, &event->value, sizeof(event->value));
        length += sizeof(event->value);
    }
    if (event->strategy != 0) {
        length += (uint32_t)snprintf((char *)payload + length, sizeof(payload) - length, "{\"strategy\":%u}",
                                     (unsigned)event->strategy);
    }
    return rl_journal_add(j, active ? RL_JREC_UNFREEZE : RL_JREC_FREEZE, payload, length);
}

/* Append one record to the batch, rotating the segment when it would overflow. */
static int rl_journal_add(rl_journal_t *j, uint16_t type, const void *payload, uint32_t length) {
#if RL_HAVE_LIBURING
    if (j->uring_broken) return -EIO; /* a write may still read the buffer: fail closed */
#endif
    size_t size = rl_record_size(length);
    uint64_t end = j->seg_offset + j->buffer_len + size;
    bool state = type == RL_JREC_FREEZE || type == RL_JREC_UNFREEZE;
    if (end > j->seg_capacity - RL_JOURNAL_STATE_RESERVE &&
        j->seg_offset + j->buffer_len > sizeof(rl_journal_segment_header_t)) {
        int rc = rl_journal_sync_batch(j);
        if (rc == 0) rc = rl_journal_create_segment(j);
        /* No new segment (a full disk): a halt or unfreeze still goes into
         * this one's reserve, so the state is on disk whatever follows. */
        if (rc != 0 && !(rc != -ENOMEM && state && j->seg_offset + j->buffer_len + size <= j->seg_capacity)) return rc;
    }
    /* Room for the record, its terminator, and a direct write's padding to a whole block. */
    size_t need = j->buffer_head + j->buffer_len + size + RL_JOURNAL_TERMINATOR_BYTES + RL_JOURNAL_DIRECT_BLOCK;
    if (need > j->buffer_cap) {
        size_t cap = j->buffer_cap * 2 > need ? j->buffer_cap * 2 : need;
        void *grown;
        if (posix_memalign(&grown, RL_JOURNAL_DIRECT_BLOCK, cap) != 0) return -ENOMEM;
        memcpy(grown, j->buffer_block, j->buffer_head + j->buffer_len);
        free(j->buffer_block);
        j->buffer_block = grown;
        j->buffer_cap = cap;
    }
    int shadow_rc = rl_shadow_apply(j, type, payload, length);
    if (shadow_rc != 0) return shadow_rc;
    if (j->batch_records == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        j->batch_started_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        j->batch_started_us = j->batch_started_ns / 1000;
    }
    if (j->pass_realtime_ns == 0) j->pass_realtime_ns = rl_realtime_ns();
    /* Version 3: where the record is in its commit, the batch (a failed
     * commit keeps its records, so a retry's batch opens with its first). */
    uint16_t flags = 0;
    if (j->seg_version >= 3) {
        uint64_t index = j->batch_records < RL_JREC_COMMIT_INDEX_MAX ? j->batch_records : RL_JREC_COMMIT_INDEX_MAX;
        flags = (uint16_t)(index << RL_JREC_COMMIT_INDEX_SHIFT) | (j->batch_records == 0 ? RL_JREC_FLAG_COMMIT_START : 0);
    }
    j->buffer_len += rl_record_encode(rl_batch(j) + j->buffer_len, type, j->next_seq, payload, length,
                                      j->pass_realtime_ns, j->seg_salt, flags);
    j->batch_last_seq = j->next_seq++;
    j->batch_records++;
    j->records_since_snapshot++;
    /* relaxed: statistics. */
    atomic_store_explicit(&j->next_seq_published, j->next_seq, memory_order_relaxed);
    return 0;
}

static void *rl_journal_main(void *arg) {
    rl_journal_t *j = arg;
    /* A commit holds at most max_commit_records: a full one syncs, or the
     * record trigger could never fire and the writer would take nothing more
     * until the timer. */
    uint32_t n_max = j->options.sync_every_records < j->options.max_commit_records ? j->options.sync_every_records
                                                                                    : j->options.max_commit_records;
    for (;;) {
        /* relaxed, both: a diagnostic with one writer, this thread. */
        atomic_store_explicit(&j->writer_passes, atomic_load_explicit(&j->writer_passes, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        /* acquire: pairs with the release store in rl_journal_close. */
        bool stopping = atomic_load_explicit(&j->stop_requested, memory_order_acquire) != 0;
        bool took = false;
        int rc = 0;
        j->pass_realtime_ns = 0; /* read again by the first record of this pass */
        /* Cold records first: a freeze is synced at once. */
        pthread_mutex_lock(&j->cold_lock);
        rl_cold_record_t *cold = j->cold_head;
        j->cold_head = j->cold_tail = NULL;
        pthread_mutex_unlock(&j->cold_lock);
        while (cold != NULL) {
            rl_cold_record_t *next = cold->next;
            if ((rc = rl_journal_add(j, cold->type, cold->payload, cold->length)) != 0) {
                /* Not written: put it and the rest back in front, to retry. */
                pthread_mutex_lock(&j->cold_lock);
                rl_cold_record_t *last = cold;
                while (last->next != NULL) last = last->next;
                last->next = j->cold_head;
                if (j->cold_head == NULL) j->cold_tail = last;
                j->cold_head = cold;
                pthread_mutex_unlock(&j->cold_lock);
                break;
            }
            j->batch_cold_ticket = cold->ticket;
            j->batch_sync_now |= cold->sync_now;
            free(cold);
            cold = next;
            took = true;
        }
        /* Hot records from the risk thread: everything waiting joins this group
         * commit (N triggers a sync; it does not cap a backlog). */
        /* Capped, so that one commit never takes a whole backlog: the lag of
         * the first record in it stays bounded by one commit's write and sync. */
        uint64_t room = j->batch_records < j->options.max_commit_records ? j->options.max_commit_records - j->batch_records : 0;
        uint64_t available = rc == 0 ? rl_spsc_readable(j->hot, room) : 0;
        if (available == room && room > 0) {
            /* A backlog beyond one commit: how deep, for the lag samples. */
            uint64_t waiting = rl_spsc_readable(j->hot, UINT64_MAX);
            if (waiting > j->batch_backlog) j->batch_backlog = waiting;
        } else if (available > j->batch_backlog) {
            j->batch_backlog = available;
        }
        uint64_t added = 0;
        for (uint64_t i = 0; i < available && rc == 0; i++) {
            const rl_event_t *event = rl_spsc_peek(j->hot, i);
            if (event->type == RL_EVENT_STATE_CHANGE && j->state_ahead_word != 0 &&
                rl_freeze_word_epoch(event->order_id) <= rl_freeze_word_epoch(j->state_ahead_word)) {
                /* Already written ahead of the records before it (see below):
                 * leaves the ring with them, counted once, below. */
                added++;
                continue;
            }
            if (event->type == RL_EVENT_STATE_CHANGE) {
                /* The controller changed the trading state: journal it, synced at once. */
                rc = rl_journal_add_state(j, event);
                j->batch_sync_now = true;
            } else {
                rc = rl_journal_add(j, RL_JREC_EVENT, event, sizeof(*event));
                if (rc == 0 && event->type == RL_EVENT_ORDER_ACCEPTED && event->timestamp_ns != 0) {
                    /* In ring order, but strategies differ: keep the oldest. */
                    if (j->batch_accepted == 0 || event->timestamp_ns < j->batch_oldest_accept) {
                        j->batch_oldest_accept = event->timestamp_ns;
                    }
                    j->batch_accepted++;
                    if (j->accepted_seen++ % RL_JOURNAL_LAG_SAMPLE_EVERY == 0 && j->lag_count < j->lag_cap) {
                        j->lag_stamps[j->lag_count++] = event->timestamp_ns;
                    }
                }
            }
            if (rc == 0) added++;
        }
        if (rc != 0 && rc != -ENOMEM) {
            /* The disk refuses (no new segment: it is full). The halt this
             * causes waits in the ring behind records that cannot be written:
             * write it ahead of them, into the segment's reserve, so that the
             * halt is on disk even if the process ends before space returns. */
            uint64_t waiting = rl_spsc_readable(j->hot, UINT64_MAX);
            for (uint64_t k = added; k < waiting; k++) {
                const rl_event_t *event = rl_spsc_peek(j->hot, k);
                if (event->type != RL_EVENT_STATE_CHANGE) continue;
                uint64_t word = event->order_id;
                if (j->state_ahead_word != 0 && rl_freeze_word_epoch(word) <= rl_freeze_word_epoch(j->state_ahead_word)) continue;
                int ahead = rl_journal_add_state(j, event);
                if (ahead != 0) break;
                /* In the batch now: a failed sync retries the batch, so it is
                 * never added twice (EIO retries once wrote one halt 160 times). */
                j->state_ahead_word = word;
                if (rl_journal_sync_batch(j) != 0) break;
            }
        }
        if (added) {
            /* Only what was written leaves the ring: the rest is retried. */
            rl_spsc_release(j->hot, added);
            if (j->batch_records == 0) {
                /* Nothing pending (all synced, or only state records written
                 * ahead were skipped): durable now. release: as in
                 * rl_journal_sync_batch. */
                atomic_fetch_add_explicit(&j->hot_durable, added, memory_order_release);
            } else {
                j->batch_hot += added;
            }
            took = true;
        }
        /* relaxed: a hint; a waiter that arrives just after is served by the next pass. */
        bool waited_for = atomic_load_explicit(&j->waiters, memory_order_relaxed) != 0;
        /* acquire: pairs with the snapshot thread's release store; its
         * snapshot_served store is visible once it reads idle. */
        bool snapshotter_idle = atomic_load_explicit(&j->snap_busy, memory_order_acquire) == 0;
        /* A snapshot that is due forces the sync it needs: a writer kept busy by
         * segment rotations (each syncs inside rl_journal_add) might otherwise
         * never reach an empty batch, and never snapshot. */
        bool snapshot_due = snapshotter_idle && j->shadow != NULL && j->options.snapshot_every_records != 0 &&
                            j->records_since_snapshot >= j->options.snapshot_every_records;
        /* A snapshot asked for (rl_journal_snapshot_now), once all is synced.
         * acquire: pairs with the release increment in rl_journal_snapshot_now. */
        uint64_t asked = atomic_load_explicit(&j->snapshot_requests, memory_order_acquire);
        /* relaxed: the snapshot thread's store, ordered by the acquire load of snap_busy. */
        bool snapshot_asked = snapshotter_idle && asked > atomic_load_explicit(&j->snapshot_served, memory_order_relaxed);
        if (rc == 0 && j->batch_records > 0 &&
            (j->batch_records >= n_max || j->batch_sync_now || stopping || waited_for || snapshot_due ||
             snapshot_asked || rl_monotonic_us() - j->batch_started_us >= j->options.sync_every_us)) {
            rc = rl_journal_sync_batch(j);
        }
        /* The shadow equals the durable state only when nothing is pending. */
        if (rc == 0 && (snapshot_due || snapshot_asked) && j->batch_records == 0) {
            rl_writer_phase(j, RL_JOURNAL_PHASE_SNAPSHOTTING);
            int snap = rl_journal_periodic_snapshot(j, snapshot_asked ? asked : 0);
            rl_writer_phase(j, RL_JOURNAL_PHASE_TAKING);
            if (snap != 0) {
                /* Not handed off (no memory): the segments stay; retried after
                 * another snapshot_every_records. relaxed: an error code. */
                j->records_since_snapshot = 0;
                atomic_store_explicit(&j->snapshot_error, snap, memory_order_relaxed);
                if (snapshot_asked) {
                    /* relaxed, then release: as the snapshot thread answers. */
                    atomic_store_explicit(&j->snapshot_result, snap, memory_order_relaxed);
                    atomic_store_explicit(&j->snapshot_served, asked, memory_order_release);
                }
            }
            took = true;
        }
        /* relaxed: the writer is the only thread that stores it. */
        if (rc == 0 && j->batch_records == 0 && atomic_load_explicit(&j->last_error, memory_order_relaxed) != 0) {
            /* A whole pass went through with nothing left unsynced: durable
             * again, and the risk side may let an operator unfreeze. Never
             * cleared by a sync alone: a halt written ahead syncs while the
             * records before it still cannot be written. release: pairs with
             * rl_journal_error's acquire. */
            atomic_store_explicit(&j->last_error, 0, memory_order_release);
        }
        if (rc != 0) {
            /* release: as in rl_journal_sync_batch (a failed segment or record). */
            atomic_store_explicit(&j->last_error, rc, memory_order_release);
            /* relaxed: a statistic. */
            atomic_fetch_add_explicit(&j->failures, 1, memory_order_relaxed);
            if (stopping) break; /* closing on a failing disk: waiters already see the error */
            rl_writer_phase(j, RL_JOURNAL_PHASE_RETRYING);
            struct timespec pause = {0, 1000000}; /* a failing disk: do not spin; retry */
            nanosleep(&pause, NULL);
        } else {
            rl_writer_phase(j, RL_JOURNAL_PHASE_TAKING);
        }
        if (!took) {
            if (stopping && j->batch_records == 0 && rl_spsc_readable(j->hot, 1) == 0) {
                pthread_mutex_lock(&j->cold_lock);
                bool empty = j->cold_head == NULL;
                pthread_mutex_unlock(&j->cold_lock);
                if (empty) break;
            }
            struct timespec pause = {0, 20000}; /* idle: 20 us, well under the group-commit window */
            nanosleep(&pause, NULL);
        }
    }
    rl_writer_phase(j, RL_JOURNAL_PHASE_STOPPED);
    return NULL;
}

/* A segment recovery did not go on into, at open: set aside as *.damaged
 * (kept for an operator), unless the MANIFEST never named it and it holds no
 * record. A segment is named before any record goes into it, so that is what
 * a kill between a rotation's rename and its MANIFEST write leaves: nothing
 * lost, and a crash loop would otherwise pile up whole segments. One with
 * records (a MANIFEST restored from an old copy) is kept. */
static void rl_set_aside_segment(const char *dir, const char *name, uint64_t first_seq) {
    char path[PATH_MAX], damaged[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    rl_journal_manifest_t manifest;
    rl_journal_segment_header_t header;
    bool has_records = true;
    if (rl_journal_read_manifest(dir, &manifest) == 0 && first_seq > manifest.newest_segment_seq &&
        rl_segment_read_header(dir, name, &header, &has_records) == 0 && !has_records) {
        unlink(path);
        return;
    }
    /* Never over an earlier one: a recovery reuses the lost sequences, so a
     * second recovery can set aside a segment of the same name (helper-35). */
    for (int n = 0; n < 1000; n++) {
        if (n == 0) snprintf(damaged, sizeof(damaged), "%s.damaged", path);
        else snprintf(damaged, sizeof(damaged), "%s.%d.damaged", path, n);
        if (renameat2(AT_FDCWD, path, AT_FDCWD, damaged, RENAME_NOREPLACE) == 0) return;
        if (errno == EEXIST) continue;
        /* No RENAME_NOREPLACE here (EINVAL: the filesystem; ENOSYS, EPERM:
         * an old kernel or a sandbox): look first, then a plain rename. */
        if (access(damaged, F_OK) != 0) {
            rename(path, damaged);
            return;
        }
    }
}

int rl_journal_lock(const char *dir) {
    int rc = rl_check_dir(dir);
    if (rc != 0) return rc;
    /* The directory itself, not a file in it: nothing in DIR can be removed
     * to let a second engine in (rm LOCK once did). */
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    /* A reader's probe (rl_journal_is_live) holds a shared lock for an
     * instant: try for a while before calling the journal taken. A second
     * engine holds it for good, so the wait changes nothing for it. */
    for (int attempt = 0;; attempt++) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
        if (errno != EWOULDBLOCK || attempt == 100) break;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
    close(fd);
    return rc;
}

void rl_journal_unlock(int lock_fd) {
    if (lock_fd >= 0) close(lock_fd); /* closing releases the flock */
}

int rl_journal_hold(const char *dir) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/" RL_JOURNAL_READERS_FILE, dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    if (flock(fd, LOCK_SH) != 0) { /* waits out a prune in progress (milliseconds) */
        int rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

void rl_journal_release_hold(int hold_fd) {
    if (hold_fd >= 0) close(hold_fd);
}

int rl_journal_is_live(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    /* A shared lock needs no write permission and excludes only the writer's
     * exclusive one: taken at once means no engine holds the journal. */
    int rc = flock(fd, LOCK_SH | LOCK_NB) == 0 ? 0 : (errno == EWOULDBLOCK ? 1 : -errno);
    close(fd); /* releases it */
    return rc;
}

/* Options the writer cannot honour are refused, never bent (0 still means
 * "the default" where the header says so): a writer pinned nowhere because
 * its CPU does not exist, a segment too small to hold a commit, a commit
 * larger than the ring it is taken from. */
static int rl_journal_check_options(const rl_journal_options_t *o) {
    uint32_t ring = o->hot_ring_capacity != 0 ? o->hot_ring_capacity : RL_JOURNAL_HOT_RING_DEFAULT;
    uint32_t commit = o->max_commit_records != 0 ? o->max_commit_records : RL_JOURNAL_MAX_COMMIT_DEFAULT;
    if ((o->segment_bytes != 0 && o->segment_bytes < RL_JOURNAL_SEGMENT_MIN_BYTES) || ring < 2 ||
        (ring & (ring - 1)) != 0 || commit > ring ||
        o->realtime_priority < 0 || o->realtime_priority > 99 || o->cpu < -1 || o->io_mode < RL_JOURNAL_IO_AUTO ||
        o->io_mode > RL_JOURNAL_IO_PWRITE) {
        return -EINVAL;
    }
    /* Only a CPU that does not exist is refused here: one outside the
     * opener's own affinity may still be the writer's, whose creation pins
     * it (rl_journal_start fails if the kernel will not). */
    return o->cpu >= 0 && rl_cpu_check(o->cpu) == -EINVAL ? -EINVAL : 0;
}

int rl_journal_open(const char *dir, const rl_journal_options_t *options, uint64_t next_seq,
                    const char *tail_segment, uint64_t truncate_at, int lock_fd, rl_journal_t **out) {
    /* Every early return releases a lock the caller handed over. */
    int rc = rl_journal_check_options(options);
    if (rc == 0) rc = strlen(dir) >= PATH_MAX - 64 ? -ENAMETOOLONG : rl_check_dir(dir);
    if (rc != 0) {
        rl_journal_unlock(lock_fd);
        return rc;
    }
    /* The file readers hold to keep pruning off while they read. */
    char readers[PATH_MAX];
    snprintf(readers, sizeof(readers), "%s/" RL_JOURNAL_READERS_FILE, dir);
    int readers_fd = open(readers, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
    if (readers_fd >= 0) close(readers_fd);
    rl_journal_t *j = rl_numa_alloc(sizeof(*j), -1);
    if (j == NULL) {
        rl_journal_unlock(lock_fd);
        return -ENOMEM;
    }
    j->options = *options;
    if (j->options.sync_every_records == 0) j->options.sync_every_records = 256;
    if (j->options.sync_every_us == 0) j->options.sync_every_us = 1000;
    if (j->options.hot_ring_capacity == 0) j->options.hot_ring_capacity = RL_JOURNAL_HOT_RING_DEFAULT;
    if (j->options.segment_bytes == 0) j->options.segment_bytes = 64ull << 20;
    if (j->options.max_commit_records == 0) j->options.max_commit_records = RL_JOURNAL_MAX_COMMIT_DEFAULT;
    /* The shadow's (rl_engine_create's default), and what a record's symbol id is checked against. */
    if (j->options.symbol_capacity == 0) j->options.symbol_capacity = RL_SYMBOLS_DEFAULT_CAPACITY;
    snprintf(j->dir, sizeof(j->dir), "%s", dir);
    j->seg_fd = j->seg_direct_fd = -1;
    for (int slot = 0; slot < RL_JOURNAL_SPARES; slot++) j->spares[slot].fd = -1;
    j->next_seq = next_seq ? next_seq : 1;
    pthread_mutex_init(&j->cold_lock, NULL);
    pthread_mutex_init(&j->snap_lock, NULL);
    pthread_cond_init(&j->snap_cond, NULL);

    j->lock_fd = lock_fd >= 0 ? lock_fd : rl_journal_lock(dir);
    if (j->lock_fd < 0) {
        rc = j->lock_fd;
        goto fail;
    }
    /* Temp files a killed writer left (a snapshot or a manifest being
     * written, spare segments): never read, and a whole snapshot's or
     * segment's worth of space on the very disks that fill up. Only the lock
     * holder removes them: here, once it holds the lock. */
    DIR *listing = opendir(dir);
    if (listing != NULL) {
        struct dirent *entry;
        while ((entry = readdir(listing)) != NULL) {
            size_t n = strlen(entry->d_name);
            bool temp = (n > 4 && strcmp(entry->d_name + n - 4, ".tmp") == 0 &&
                         (strncmp(entry->d_name, "snapshot.", 9) == 0 || strncmp(entry->d_name, "MANIFEST.", 9) == 0)) ||
                        (strncmp(entry->d_name, RL_JOURNAL_SPARE_PREFIX, strlen(RL_JOURNAL_SPARE_PREFIX)) == 0 &&
                         n > 4 && strcmp(entry->d_name + n - 4, ".tmp") == 0);
            if (temp) unlinkat(dirfd(listing), entry->d_name, 0);
        }
        closedir(listing);
    }
    if ((rc = rl_spsc_create(j->options.hot_ring_capacity, &j->hot)) != 0) goto fail;
    /* The shadow always runs: periodic snapshots and snapshots on demand both write it. */
    rl_engine_config_t shadow_config = {j->options.symbol_capacity, RL_FP_MAX_LIMIT, RL_FP_MAX_LIMIT, 0, 0, 1, 0};
    if ((rc = rl_engine_create(&shadow_config, &j->shadow)) != 0) goto fail;
    j->lag_cap = j->options.max_commit_records / RL_JOURNAL_LAG_SAMPLE_EVERY + 2;
    if ((j->lag_stamps = calloc(j->lag_cap, sizeof(*j->lag_stamps))) == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    j->buffer_cap = 64 * 1024;
    void *block;
    if (posix_memalign(&block, RL_JOURNAL_DIRECT_BLOCK, j->buffer_cap) != 0) {
        rc = -ENOMEM;
        goto fail;
    }
    j->buffer_block = block;

    j->io_mode = RL_JOURNAL_IO_PWRITE;
    if (options->io_mode != RL_JOURNAL_IO_PWRITE) {
        /* REDLINE_JOURNAL_NO_IO_URING=1 makes io_uring look unavailable, as a
         * seccomp profile or io_uring_disabled=2 would: for testing both paths. */
        const char *blocked = getenv("REDLINE_JOURNAL_NO_IO_URING");
        bool uring_blocked = blocked != NULL && blocked[0] == '1';
#if RL_HAVE_LIBURING
        if (!uring_blocked && io_uring_queue_init(8, &j->ring, 0) == 0) j->io_mode = RL_JOURNAL_IO_URING;
#else
        (void)uring_blocked;
#endif
        if (j->io_mode != RL_JOURNAL_IO_URING && options->io_mode == RL_JOURNAL_IO_URING) {
            rc = -ENOTSUP;
            goto fail;
        }
    }

    if (tail_segment != NULL && tail_segment[0] != 0) {
        /* Append to the last segment, cutting a torn tail off first. Segments
         * after it (only after a recover-to-last-good) are set aside, not deleted. */
        rl_file_entry_t *segments;
        int count = rl_list_files(dir, "segment-", ".rlj", &segments);
        if (count < 0) {
            rc = count;
            goto fail;
        }
        const char *base = tail_segment;
        char tail_path[PATH_MAX];
        snprintf(tail_path, sizeof(tail_path), "%s/%s", dir, tail_segment);
        bool after = false;
        for (int i = 0; i < count; i++) {
            if (after) rl_set_aside_segment(dir, segments[i].name, segments[i].seq);
            if (strcmp(segments[i].name, base) == 0) after = true;
        }
        free(segments);
        j->seg_fd = open(tail_path, O_RDWR | O_CLOEXEC);
        if (j->seg_fd < 0) {
            rc = -errno;
            goto fail;
        }
        if (truncate_at < sizeof(rl_journal_segment_header_t)) {
            /* The header itself was torn: start this segment afresh. */
            close(j->seg_fd);
            j->seg_fd = -1;
            unlink(tail_path);
            if ((rc = rl_journal_create_segment(j)) != 0) goto fail;
        } else {
            /* Go on in it: cut what follows the last good record, and give a
             * preallocated segment back its size (zeros from there on). */
            rl_journal_segment_header_t header;
            ssize_t got = pread(j->seg_fd, &header, sizeof(header), 0);
            uint64_t capacity = got == (ssize_t)sizeof(header) ? header.file_bytes : 0;
            j->seg_salt = got == (ssize_t)sizeof(header) ? header.salt : 0; /* its records go on with it */
            j->seg_version = got == (ssize_t)sizeof(header) ? header.version : 1;
            /* relaxed: not shared yet. 0 (no header read) keeps every segment from pruning. */
            atomic_store_explicit(&j->live_segment_seq, got == (ssize_t)sizeof(header) ? header.first_seq : 0,
                                  memory_order_relaxed);
            struct stat st;
            if (fstat(j->seg_fd, &st) != 0) {
                rc = -errno;
                goto fail;
            }
            if (capacity == 0) {
                /* From before preallocation: it ends where its records end. */
                if ((uint64_t)st.st_size != truncate_at && ftruncate(j->seg_fd, (off_t)truncate_at) != 0) rc = -errno;
            } else {
                /* Preallocated: zero what follows the last good record in place,
                 * so its size never changes (a crash here leaves it whole), and
                 * give back what a recovery to last good found cut short. */
                uint64_t zero_to = (uint64_t)st.st_size < capacity ? (uint64_t)st.st_size : capacity;
                if (j->seg_salt != 0 && zero_to > truncate_at) {
                    /* Version 2: only this life's bytes (an earlier life's
                     * are never read as this segment's, and a recycled tail
                     * would otherwise be rewritten whole at every open). */
                    int64_t own = rl_own_bytes_end(j->seg_fd, truncate_at, zero_to, j->seg_salt, j->next_seq);
                    if (own < 0) rc = (int)own;
                    else zero_to = (uint64_t)own;
                }
                if (rc == 0) rc = rl_zero_from(j->seg_fd, truncate_at, zero_to);
                if (rc == 0 && (uint64_t)st.st_size < capacity) {
                    rc = rl_preallocate(j->seg_fd, (uint64_t)st.st_size, capacity - (uint64_t)st.st_size);
                }
            }
            if (rc == 0 && fdatasync(j->seg_fd) != 0) rc = -errno;
            if (rc != 0) goto fail;
            /* A segment from before preallocation grows by appending, to the usual size. */
            rl_segment_attach(j, j->seg_fd, tail_path, truncate_at, capacity > 0 ? capacity : rl_segment_capacity(j),
                              capacity > 0);
        }
    } else {
        /* No tail to go on from: any segments left (only after a recovery that
         * stopped at a gap before them) are set aside, not deleted. */
        rl_file_entry_t *segments;
        int count = rl_list_files(dir, "segment-", ".rlj", &segments);
        if (count < 0) {
            rc = count;
            goto fail;
        }
        for (int i = 0; i < count; i++) rl_set_aside_segment(dir, segments[i].name, segments[i].seq);
        free(segments);
        if ((rc = rl_journal_create_segment(j)) != 0) goto fail;
    }
    /* What this open renamed or removed (segments set aside, a torn header's
     * segment, temp files) is durable before any record counts as durable:
     * a power loss must not bring back a set-aside segment after new records
     * took its sequences (helper-48; the manifest's rewrite in place syncs
     * no directory). */
    if ((rc = rl_fsync_dir(dir)) != 0) goto fail;
    /* A new journal, or one recovered to last good without one, gets one now. */
    if ((rc = rl_manifest_write(dir)) != 0) goto fail;
    /* Snapshots keep up across restarts: count from the newest on disk. */
    rl_file_entry_t *snapshots;
    int snaps = rl_list_files(dir, "snapshot-", ".rls", &snapshots);
    if (snaps < 0) {
        rc = snaps;
        goto fail;
    }
    uint64_t covered = snaps > 0 ? snapshots[snaps - 1].seq : 0;
    free(snapshots);
    j->records_since_snapshot = j->next_seq - 1 > covered ? j->next_seq - 1 - covered : 0;
    /* relaxed: not shared yet. */
    atomic_store_explicit(&j->durable_seq, j->next_seq - 1, memory_order_relaxed);
    atomic_store_explicit(&j->next_seq_published, j->next_seq, memory_order_relaxed);
    /* No writer until rl_journal_start (the segment made above passed through phases). */
    atomic_store_explicit(&j->writer_phase, RL_JOURNAL_PHASE_STOPPED, memory_order_relaxed);
    *out = j;
    return 0;
fail:
#if RL_HAVE_LIBURING
    if (j->io_mode == RL_JOURNAL_IO_URING) io_uring_queue_exit(&j->ring);
#endif
    if (j->hot) rl_spsc_destroy(j->hot);
    rl_engine_destroy(j->shadow);
    free(j->buffer_block);
    free(j->lag_stamps);
    rl_segment_detach(j);
    if (j->lock_fd >= 0) close(j->lock_fd);
    pthread_mutex_destroy(&j->cold_lock);
    pthread_mutex_destroy(&j->snap_lock);
    pthread_cond_destroy(&j->snap_cond);
    free(j->snap_buffer);
    rl_numa_free(j);
    return rc;
}

int rl_journal_start(rl_journal_t *j) {
    /* acquire: pairs with the release stores below and in close. */
    if (atomic_load_explicit(&j->running, memory_order_acquire)) return -EBUSY;
    /* relaxed: the thread does not exist yet; pthread_create orders it. */
    atomic_store_explicit(&j->stop_requested, 0, memory_order_relaxed);
    atomic_store_explicit(&j->writer_phase_since_us, rl_monotonic_us(), memory_order_relaxed); /* relaxed: as above */
    atomic_store_explicit(&j->writer_phase, RL_JOURNAL_PHASE_TAKING, memory_order_relaxed);    /* relaxed: as above */
    int rc = 0;
    if (!j->snap_thread_started) {
        j->snap_stop = false;
        rc = pthread_create(&j->snap_thread, NULL, rl_journal_snapshot_main, j);
        if (rc != 0) return -rc;
        j->snap_thread_started = true;
    }
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    if (j->options.cpu >= 0) {
        /* Pinned as it is created, never left where its creator runs: a CPU
         * the kernel refuses fails the start (EINVAL). */
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(j->options.cpu, &set);
        rc = pthread_attr_setaffinity_np(&attributes, sizeof(set), &set);
        if (rc != 0) {
            pthread_attr_destroy(&attributes);
            return -rc;
        }
    }
    if (j->options.realtime_priority > 0) {
        struct sched_param param = {.sched_priority = j->options.realtime_priority};
        pthread_attr_setinheritsched(&attributes, PTHREAD_EXPLICIT_SCHED);
        pthread_attr_setschedpolicy(&attributes, SCHED_FIFO);
        rc = pthread_attr_setschedparam(&attributes, &param);
        if (rc != 0) {
            pthread_attr_destroy(&attributes);
            return -rc;
        }
    }
    rc = pthread_create(&j->thread, &attributes, rl_journal_main, j);
    pthread_attr_destroy(&attributes);
    if (rc != 0) return -rc; /* EPERM: SCHED_FIFO without CAP_SYS_NICE; EINVAL: a CPU it may not use */
    /* release: pairs with the acquire loads of running. */
    atomic_store_explicit(&j->running, 1, memory_order_release);
    return 0;
}

/* Whether a ring that never settled (rl_uring_settle gave up: the journal
 * failed closed) may still owe a write: it reads the batch buffer and lands
 * in a segment whenever the kernel gets to it, and closing the ring does
 * not wait for it. Read once the writer has exited. */
static bool rl_journal_write_owed(const rl_journal_t *j) {
#if RL_HAVE_LIBURING
    return j->io_mode == RL_JOURNAL_IO_URING && j->uring_inflight > 0;
#else
    (void)j;
    return false;
#endif
}

void rl_journal_stop(rl_journal_t *j) {
    if (j == NULL || j->stopped) return;
    /* acquire: pairs with the release store in start. */
    if (atomic_load_explicit(&j->running, memory_order_acquire)) {
        /* release: pairs with the writer's acquire load; it drains, syncs, exits. */
        atomic_store_explicit(&j->stop_requested, 1, memory_order_release);
        pthread_join(j->thread, NULL);
        atomic_store_explicit(&j->running, 0, memory_order_release);
    }
    if (j->snap_thread_started) {
        /* The writer is gone: the snapshot thread finishes what it holds, then exits. */
        pthread_mutex_lock(&j->snap_lock);
        j->snap_stop = true;
        pthread_cond_signal(&j->snap_cond);
        pthread_mutex_unlock(&j->snap_lock);
        pthread_join(j->snap_thread, NULL);
        j->snap_thread_started = false;
    }
    for (int slot = 0; slot < RL_JOURNAL_SPARES; slot++) {
        /* Not left behind: a spare is only worth its space to a running writer. */
        struct rl_spare *spare = &j->spares[slot];
        if (spare->fd >= 0) close(spare->fd);
        if (spare->present) {
            char path[PATH_MAX];
            rl_spare_path(j, slot, path);
            unlink(path);
        }
        spare->fd = -1;
        spare->present = false;
    }
    for (uint32_t k = 0; k < j->retired_count; k++) {
        char path[PATH_MAX];
        rl_retired_path(j, j->retired[k], path);
        unlink(path);
    }
    j->retired_count = 0;
    rl_segment_detach(j);
    /* Closing releases the flock: another engine may open the journal. Not
     * while a write may still land in it: that engine could append where
     * the write then overwrites its records. The lock is then held (its
     * descriptor left open) until the process exits. */
    if (j->lock_fd >= 0 && !rl_journal_write_owed(j)) close(j->lock_fd);
    j->lock_fd = -1;
    /* Nothing more becomes durable: a risk side still attached halts on it,
     * and waiters fail instead of waiting for a writer that is gone. release:
     * pairs with rl_journal_error's acquire. */
    int32_t none = 0;
    atomic_compare_exchange_strong_explicit(&j->last_error, &none, -ESHUTDOWN, memory_order_release,
                                            memory_order_relaxed);
    j->stopped = true;
}

void rl_journal_close(rl_journal_t *j) {
    if (j == NULL) return;
    rl_journal_stop(j);
    pthread_mutex_lock(&j->cold_lock);
    while (j->cold_head) {
        rl_cold_record_t *next = j->cold_head->next;
        free(j->cold_head);
        j->cold_head = next;
    }
    pthread_mutex_unlock(&j->cold_lock);
    /* A write still owed reads the batch buffer: it is left to the process,
     * never freed and reused under a write of the journal. */
    bool buffer_read_in_flight = rl_journal_write_owed(j);
#if RL_HAVE_LIBURING
    if (j->io_mode == RL_JOURNAL_IO_URING) io_uring_queue_exit(&j->ring);
#endif
    rl_spsc_destroy(j->hot);
    rl_engine_destroy(j->shadow);
    free(j->limits_payload);
    for (uint64_t i = 0; i < j->history_count; i++) free(j->history[i].payload);
    free(j->history);
    free(j->open_orders.slots);
    if (!buffer_read_in_flight) free(j->buffer_block);
    free(j->lag_stamps);
    pthread_mutex_destroy(&j->cold_lock);
    pthread_mutex_destroy(&j->snap_lock);
    pthread_cond_destroy(&j->snap_cond);
    free(j->snap_buffer);
    rl_numa_free(j);
}

rl_spsc_t *rl_journal_hot_ring(rl_journal_t *j) { return j->hot; }

void rl_journal_set_lag_ring(rl_journal_t *j, rl_spsc_t *ring) {
    /* release: pairs with the writer's acquire load; the ring is set up before it is used. */
    atomic_store_explicit(&j->lag_ring, ring, memory_order_release);
}

int rl_journal_append_cold(rl_journal_t *j, uint16_t type, const void *payload, uint32_t length, bool sync_now,
                           uint64_t *ticket) {
    if (length > RL_JOURNAL_MAX_PAYLOAD) return -EINVAL;
    /* A record no segment can hold would be written past a new segment's
     * end, and recovery would refuse the journal as cut short. */
    if (sizeof(rl_journal_segment_header_t) + rl_record_size(length) > j->options.segment_bytes) return -EMSGSIZE;
    /* A position is a snapshot's record only: the shadow takes one for a
     * symbol it has and a view it can restore, which an append cannot see. */
    if (type == RL_JREC_POSITION) return -EINVAL;
    int shape = rl_record_shape(type, payload, length, j->options.symbol_capacity);
    if (shape != 0) return shape;
    rl_cold_record_t *record = malloc(sizeof(*record) + length);
    if (record == NULL) return -ENOMEM;
    record->next = NULL;
    record->type = type;
    record->length = length;
    record->sync_now = sync_now;
    if (length) memcpy(record->payload, payload, length);
    pthread_mutex_lock(&j->cold_lock);
    uint64_t issued = record->ticket = ++j->cold_tickets;
    if (j->cold_tail) j->cold_tail->next = record;
    else j->cold_head = record;
    j->cold_tail = record;
    pthread_mutex_unlock(&j->cold_lock);
    /* Never record->ticket from here on: once unlocked, the writer may have
     * written and freed the record (glibc then keeps its tcache key where
     * the ticket was, and the caller waited 10 s for a ticket never issued). */
    RL_HOOK("journal:cold_queued");
    *ticket = issued;
    return 0;
}

static bool rl_journal_durable(const rl_journal_t *j, uint64_t cold_ticket, uint64_t hot_count) {
    /* acquire: pairs with the writer's release stores after each sync. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&j->cold_durable, memory_order_acquire) >= cold_ticket &&
           atomic_load_explicit((_Atomic(uint64_t) *)&j->hot_durable, memory_order_acquire) >= hot_count;
}

static int rl_journal_wait(rl_journal_t *j, uint64_t cold_ticket, uint64_t hot_count, uint32_t timeout_ms) {
    if (rl_journal_durable(j, cold_ticket, hot_count)) return 0;
    uint64_t deadline = rl_monotonic_us() + (uint64_t)timeout_ms * 1000;
    /* relaxed: a hint to the writer to sync without waiting out its window. */
    atomic_fetch_add_explicit(&j->waiters, 1, memory_order_relaxed);
    int rc = 0;
    for (uint32_t spins = 0;; spins++) {
        if (rl_journal_durable(j, cold_ticket, hot_count)) break;
        /* relaxed: an error code, nothing else is read through it. */
        int error = atomic_load_explicit(&j->last_error, memory_order_relaxed);
        if (error != 0) {
            rc = error;
            break;
        }
        if (rl_monotonic_us() >= deadline) {
            rc = -ETIMEDOUT;
            break;
        }
        /* A sync takes hundreds of microseconds: yield first, then sleep briefly. */
        if (spins < 64) {
            sched_yield();
        } else {
            struct timespec pause = {0, 10000};
            nanosleep(&pause, NULL);
        }
    }
    atomic_fetch_sub_explicit(&j->waiters, 1, memory_order_relaxed); /* relaxed: the hint above */
    return rc;
}

int rl_journal_wait_hot(rl_journal_t *j, uint32_t timeout_ms) {
    return rl_journal_wait(j, 0, rl_spsc_pushed(j->hot), timeout_ms);
}

int rl_journal_wait_cold(rl_journal_t *j, uint64_t ticket, uint32_t timeout_ms) {
    return rl_journal_wait(j, ticket, 0, timeout_ms);
}

int rl_journal_flush(rl_journal_t *j, uint32_t timeout_ms) {
    pthread_mutex_lock(&j->cold_lock);
    uint64_t ticket = j->cold_tickets;
    pthread_mutex_unlock(&j->cold_lock);
    return rl_journal_wait(j, ticket, rl_spsc_pushed(j->hot), timeout_ms);
}

int rl_journal_snapshot_now(rl_journal_t *j, uint32_t timeout_ms, uint64_t *covered_seq) {
    int rc = rl_journal_flush(j, timeout_ms);
    if (rc != 0) return rc;
    /* release: pairs with the writer's acquire load; everything flushed above precedes the request. */
    uint64_t ticket = atomic_fetch_add_explicit(&j->snapshot_requests, 1, memory_order_release) + 1;
    uint64_t deadline = rl_monotonic_us() + (uint64_t)timeout_ms * 1000;
    /* acquire: pairs with the writer's release store; its result is visible after. */
    while (atomic_load_explicit(&j->snapshot_served, memory_order_acquire) < ticket) {
        int error = rl_journal_error(j);
        if (error != 0) return error;
        if (rl_monotonic_us() >= deadline) return -ETIMEDOUT;
        struct timespec pause = {0, 20000};
        nanosleep(&pause, NULL);
    }
    /* relaxed: ordered by the acquire load above. */
    rc = atomic_load_explicit(&j->snapshot_result, memory_order_relaxed);
    if (rc == 0 && covered_seq != NULL) {
        *covered_seq = atomic_load_explicit(&j->last_snapshot_seq, memory_order_relaxed);
    }
    return rc;
}

int32_t rl_journal_error(const rl_journal_t *j) {
    /* acquire: pairs with the writer's release stores of last_error. */
    return atomic_load_explicit((_Atomic(int32_t) *)&j->last_error, memory_order_acquire);
}

int32_t rl_journal_stalled(const rl_journal_t *j) {
    /* acquire: pairs with rl_writer_phase's release store, so the start read
     * next is this phase's or a later one's (a later one only shortens it). */
    uint32_t phase = atomic_load_explicit((_Atomic(uint32_t) *)&j->writer_phase, memory_order_acquire);
    if (phase != RL_JOURNAL_PHASE_COMMITTING && phase != RL_JOURNAL_PHASE_ROTATING) return 0;
    /* relaxed: ordered by the acquire load above. */
    uint64_t since = atomic_load_explicit((_Atomic(uint64_t) *)&j->writer_phase_since_us, memory_order_relaxed);
    uint64_t bound_us = (uint64_t)(j->options.stall_halt_ms != 0 ? j->options.stall_halt_ms : RL_JOURNAL_STALL_HALT_MS) * 1000;
    uint64_t now = rl_monotonic_us();
    return since != 0 && now > since && now - since >= bound_us ? -RL_JOURNAL_STALLED : 0;
}
_Static_assert(RL_JOURNAL_STALLED == (0x10000 | ETIMEDOUT), "a stall is ETIMEDOUT with bit 16");

uint64_t rl_journal_durable_seq(const rl_journal_t *j) {
    /* acquire: pairs with the writer's release store after each sync. */
    return atomic_load_explicit((_Atomic(uint64_t) *)&j->durable_seq, memory_order_acquire);
}

void rl_journal_read_stats(const rl_journal_t *j, rl_journal_stats_t *out) {
    /* relaxed, all: monitoring reads. */
    out->records = atomic_load_explicit((_Atomic(uint64_t) *)&j->records, memory_order_relaxed);
    out->bytes = atomic_load_explicit((_Atomic(uint64_t) *)&j->bytes, memory_order_relaxed);
    out->syncs = atomic_load_explicit((_Atomic(uint64_t) *)&j->syncs, memory_order_relaxed);
    out->segments_created = atomic_load_explicit((_Atomic(uint64_t) *)&j->segments_created, memory_order_relaxed);
    out->next_seq = atomic_load_explicit((_Atomic(uint64_t) *)&j->next_seq_published, memory_order_relaxed);
    out->last_error = atomic_load_explicit((_Atomic(int32_t) *)&j->last_error, memory_order_relaxed);
    out->durable_seq = rl_journal_durable_seq(j);
    out->snapshots = atomic_load_explicit((_Atomic(uint64_t) *)&j->snapshots, memory_order_relaxed);
    out->last_snapshot_seq = atomic_load_explicit((_Atomic(uint64_t) *)&j->last_snapshot_seq, memory_order_relaxed);
    out->io_mode = j->io_mode;
    out->failures = atomic_load_explicit((_Atomic(uint64_t) *)&j->failures, memory_order_relaxed);
    out->snapshot_error = atomic_load_explicit((_Atomic(int32_t) *)&j->snapshot_error, memory_order_relaxed);
    out->prunes_deferred = atomic_load_explicit((_Atomic(uint64_t) *)&j->prunes_deferred_total, memory_order_relaxed);
    out->segments_prepared = atomic_load_explicit((_Atomic(uint64_t) *)&j->segments_prepared, memory_order_relaxed);
    out->spares_recycled = atomic_load_explicit((_Atomic(uint64_t) *)&j->spares_recycled, memory_order_relaxed);
    out->direct_commits = atomic_load_explicit((_Atomic(uint64_t) *)&j->direct_commits, memory_order_relaxed);
    /* relaxed: diagnostics; a read that races a change may pair the new
     * phase with the old one's start (a wait's message, nothing more). */
    /* acquire: as in rl_journal_stalled (the start read next is this phase's or later). */
    out->writer_phase = atomic_load_explicit((_Atomic(uint32_t) *)&j->writer_phase, memory_order_acquire);
    uint64_t since = atomic_load_explicit((_Atomic(uint64_t) *)&j->writer_phase_since_us, memory_order_relaxed);
    uint64_t now = rl_monotonic_us();
    out->writer_phase_us = since != 0 && now > since ? now - since : 0;
    out->writer_passes = atomic_load_explicit((_Atomic(uint64_t) *)&j->writer_passes, memory_order_relaxed);
    out->hot_pushed = rl_spsc_pushed(j->hot);
    out->hot_taken = rl_spsc_consumed(j->hot);
    out->hot_durable = atomic_load_explicit((_Atomic(uint64_t) *)&j->hot_durable, memory_order_relaxed);
}
