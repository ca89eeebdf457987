/*
 * rl_journal.h - the append-only journal: every state change, durable.
 *
 *   risk thread --rl_event_t--> hot SPSC ring --+
 *   orchestrator (freeze, unfreeze, limits,     +--> writer thread --io_uring--> segment files
 *                 symbols) --cold queue---------+      (group commit: write + fdatasync)
 *
 * The risk thread never blocks on the journal: it pushes into the hot ring,
 * and when that ring is full it stops consuming its own input rings until
 * there is room (backpressure, never loss). The writer thread serialises
 * records, assigns sequence numbers, and makes batches durable with one
 * io_uring submission each (IORING_OP_WRITE linked to IORING_OP_FSYNC with
 * IORING_FSYNC_DATASYNC), or pwrite + fdatasync where io_uring is unavailable.
 *
 * On disk, all little-endian:
 *   DIR                              flock()ed (the directory itself) by the one
 *                                    engine that owns it
 *   DIR/MANIFEST                     what must be there: the newest segment and
 *                                    the newest snapshot (rl_journal_manifest_t)
 *   DIR/segment-<first seq>.rlj      64-byte segment header, then records
 *   DIR/snapshot-<seq>.rls           the same record format: a state that
 *                                    covers every record up to <seq>
 *   DIR/spare-segment-<n>.tmp        a pruned segment kept to be overwritten, or
 *                                    the next segment written with zeros ahead
 *                                    of its rotation (never read by recovery)
 * Recovery proves continuity: the segments must go on from the snapshot's
 * sequence + 1 with no gap, each starting where the one before ended, and
 * every file the manifest names must be there.
 * A record is a 32-byte header (CRC32C, payload length, type, sequence,
 * timestamp) and its payload, padded to 8 bytes. The CRC covers everything
 * after the CRC field, payload included.
 */
#ifndef RL_JOURNAL_H
#define RL_JOURNAL_H

#include "rl_platform.h"
#include "rl_events.h"
#include "rl_spsc.h"
#include "rl_position_table.h"
#include "rl_journal_format.h"

RL_EXTERN_C_BEGIN

typedef enum rl_journal_io_mode {
    RL_JOURNAL_IO_AUTO = 0,    /* io_uring, else pwrite + fdatasync with a warning */
    RL_JOURNAL_IO_URING = 1,   /* io_uring or fail with -ENOTSUP: the operator demands it */
    RL_JOURNAL_IO_PWRITE = 2,  /* pwrite + fdatasync (a forced fallback, for tests) */
} rl_journal_io_mode_t;

/* Whether this library was built with liburing (liburing-dev present at
 * build time): without it every journal writes with pwrite + fdatasync. */
bool rl_journal_built_with_io_uring(void);

/* The ring from the risk thread to the writer when hot_ring_capacity is 0,
 * and the smallest segment the writer takes (a header, a commit's block). */
#define RL_JOURNAL_HOT_RING_DEFAULT 65536u
#define RL_JOURNAL_SEGMENT_MIN_BYTES 4096u
/* Records per commit when max_commit_records is 0. */
#define RL_JOURNAL_MAX_COMMIT_DEFAULT 4096u

typedef struct rl_journal_options {
    uint32_t sync_every_records;  /* group commit: sync after this many records (0: 256) */
    uint32_t sync_every_us;       /* ... or once the oldest unsynced record is this old (0: 1000) */
    uint32_t hot_ring_capacity;   /* risk thread -> writer (0: RL_JOURNAL_HOT_RING_DEFAULT) */
    uint64_t segment_bytes;       /* rotate after this size (0: 64 MiB) */
    int32_t io_mode;              /* rl_journal_io_mode_t */
    int32_t cpu;                  /* pin the writer thread here; -1: do not */
    uint64_t snapshot_every_records; /* periodic snapshots by the writer; 0: never */
    uint32_t symbol_capacity;     /* for the writer's shadow state (0: RL_SYMBOLS_DEFAULT_CAPACITY) */
    uint32_t max_commit_records;  /* at most this many hot records per commit (0: RL_JOURNAL_MAX_COMMIT_DEFAULT): a backlog is
                                     written in bounded commits, so the durable lag stays bounded */
    int32_t realtime_priority;    /* 1..99: run the writer under SCHED_FIFO at this priority, so that
                                     spinning threads on a small machine never delay a commit
                                     (needs CAP_SYS_NICE: start fails with -EPERM); 0: normal */
    bool plain_segments;          /* true: as before spare segments: each segment is only fallocated
                                     (every sync in it also commits its extents' conversion) and
                                     pruned segments are unlinked at once (slower; for comparison) */
    bool buffered_writes;         /* true: commits go through the page cache, as before direct
                                     writes (each sync then writes the pages back; for comparison) */
    bool zero_recycled_segments;  /* true: a pruned segment recycled as the next is written with zeros
                                     first, as before salted segments (twice the disk writes; for comparison) */
    uint32_t stall_halt_ms;       /* a commit or rotation still in the kernel after this long is a
                                     failure (rl_journal_stalled): trading halts (0: RL_JOURNAL_STALL_HALT_MS) */
} rl_journal_options_t;

typedef struct rl_journal_stats {
    uint64_t records;          /* records made durable since open */
    uint64_t bytes;
    uint64_t syncs;            /* fdatasync (or IORING_OP_FSYNC) completions */
    uint64_t durable_seq;
    uint64_t next_seq;         /* the sequence the next record will get */
    uint64_t segments_created;
    uint64_t snapshots;        /* periodic snapshots written */
    uint64_t last_snapshot_seq;
    int32_t io_mode;           /* the mode in use: RL_JOURNAL_IO_URING or RL_JOURNAL_IO_PWRITE */
    int32_t last_error;        /* -errno while the last write or sync failed (0 once one succeeds again) */
    uint64_t failures;         /* failed write or sync attempts since open (each retried) */
    int32_t snapshot_error;    /* -errno of the last failed periodic snapshot, 0 if none */
    uint64_t prunes_deferred;  /* prunes put off because a reader held READERS */
    uint64_t segments_prepared; /* segments that were a spare written ahead (the rest: fallocated) */
    uint64_t spares_recycled;  /* spares made ready from a pruned segment as it was (no zeros written) */
    uint64_t direct_commits;   /* commits written O_DIRECT (the rest of `syncs`: through the page cache) */
    uint32_t writer_phase;     /* rl_journal_writer_phase_t: what the writer is doing now */
    uint64_t writer_phase_us;  /* ... and for how long (microseconds) */
    uint64_t writer_passes;    /* passes of the writer's loop since start: moving, it is alive */
    uint64_t hot_pushed;       /* records the risk side handed over (the hot ring's pushes) */
    uint64_t hot_taken;        /* ... the writer took from the ring */
    uint64_t hot_durable;      /* ... durable */
} rl_journal_stats_t;

/* What the writer thread is doing, for a wait that timed out to say why
 * (a device that does not complete a sync, a rotation stuck in the
 * filesystem, a disk that keeps failing, or a writer that is merely behind). */
typedef enum rl_journal_writer_phase {
    RL_JOURNAL_PHASE_TAKING = 0,  /* taking records and deciding when to commit (or idle) */
    RL_JOURNAL_PHASE_COMMITTING,  /* a commit's write and fdatasync are in the kernel */
    RL_JOURNAL_PHASE_ROTATING,    /* making the next segment (file, header, rename, MANIFEST) */
    RL_JOURNAL_PHASE_RETRYING,    /* a write or sync failed: pausing, then trying again */
    RL_JOURNAL_PHASE_STOPPED,     /* the writer has exited */
    RL_JOURNAL_PHASE_SNAPSHOTTING, /* encoding a snapshot of its shadow state for the snapshot thread */
} rl_journal_writer_phase_t;

/* DIR/spare-segment-<n>.tmp: segments pruned by a snapshot are renamed to a
 * spare instead of being deleted (at most RL_JOURNAL_SPARES; the rest are
 * deleted), and a background thread writes the next segment's spare with
 * zeros while the current segment fills; the writer renames it into place.
 * Removed at stop and at open; never read by recovery. */
#define RL_JOURNAL_SPARE_PREFIX "spare-segment-"
#define RL_JOURNAL_SPARES 2
/* Pruned segments beyond the spares are renamed spare-segment-retired-<n>.tmp
 * and cut down RL_JOURNAL_TRIM_BYTES at a time, one step every
 * RL_JOURNAL_TRIM_PAUSE_MS (at most RL_JOURNAL_RETIRED_MAX wait; more are
 * unlinked at once). */
#define RL_JOURNAL_RETIRED_MAX 4
/* A commit that fails with io_uring requests still owed waits for them
 * (1 ms apart) at most this many times; a ring that never gives them back
 * fails the journal for good (EIO): no batch is written or grown again. */
#define RL_JOURNAL_URING_SETTLE_TRIES 2000
#define RL_JOURNAL_TRIM_BYTES (4 << 20)
#define RL_JOURNAL_TRIM_PAUSE_MS 10
/* On a full disk, how long a rotation waits for a spare being written before
 * the journal reports the failure (and trading halts). */
#define RL_JOURNAL_FULL_DISK_WAIT_MS 2000
/* A commit or rotation this long in the kernel halts trading (rl_journal_stalled):
 * a healthy one takes well under a millisecond (the worst device flush seen:
 * 13 ms), and a rotation on a full disk gives up within the 2 s above, which
 * is a failure with its own errno. */
#define RL_JOURNAL_STALL_HALT_MS 5000
/* What rl_journal_stalled returns, negated: ETIMEDOUT (110) with bit 16 set,
 * so that a stall is told apart from a write or sync that itself failed with
 * ETIMEDOUT (a soft network mount), which drops what it cannot write.
 * Anything that names an errno names it ETIMEDOUT. */
#define RL_JOURNAL_STALLED 65646

/* Commits into a preallocated segment are written O_DIRECT in whole blocks
 * of this size (aligned in memory and on disk); the block a commit ends in
 * is written again, with the same bytes up to its end, by the next one. */
#define RL_JOURNAL_DIRECT_BLOCK 4096

/* One accepted order in this many gets its own durable-lag sample. */
#define RL_JOURNAL_LAG_SAMPLE_EVERY 16

typedef struct rl_journal rl_journal_t;

/* One record of a snapshot, for rl_journal_write_snapshot and rl_journal_seed_shadow. */
typedef struct rl_journal_snapshot_record {
    uint16_t type;
    uint32_t length;
    const void *payload;
} rl_journal_snapshot_record_t;

/* Open DIR for appending after its last valid record. DIR must exist and
 * hold nothing but a journal (or nothing). The caller has already recovered
 * (rl_journal_scan) and passes what it found: `tail_segment` (the scan's
 * tail_segment, a file name in DIR; NULL or "" to start a new segment) and
 * `truncate_at` (the scan's tail_valid_end), where a torn tail is cut off.
 * Segments after the tail segment (left by a recover-to-last-good) are
 * renamed to *.damaged, never deleted.
 * Returns 0, -EINVAL (an option it cannot honour: segment_bytes under
 * RL_JOURNAL_SEGMENT_MIN_BYTES (0 is the default),
 * max_commit_records above the ring, realtime_priority outside 0..99, an
 * unknown io_mode, cpu below -1 or a CPU that does not exist), -ENOENT / -ENOTDIR / -EACCES
 * (DIR), -EBUSY (another engine holds DIR's lock), -ENOTSUP (io_uring
 * demanded but unavailable), -ENOMEM. */
int rl_journal_open(const char *dir, const rl_journal_options_t *options, uint64_t next_seq,
                    const char *tail_segment, uint64_t truncate_at, int lock_fd, rl_journal_t **out);

/* Take DIR's lock before recovering, so a second engine is turned away before
 * it reads anything. Returns the lock's file descriptor (pass it to
 * rl_journal_open, which then owns it), -EBUSY if another engine holds it, or
 * -errno. rl_journal_open with lock_fd < 0 takes the lock itself. */
int rl_journal_lock(const char *dir);
/* Release a lock taken by rl_journal_lock that was not handed to rl_journal_open. */
void rl_journal_unlock(int lock_fd);
/* Whether an engine holds DIR's lock now: 1 live, 0 not, or -errno. Read-only
 * (a shared flock, released at once): for readers that must tell a journal
 * being written from a damaged one. */
int rl_journal_is_live(const char *dir);

/* DIR/READERS: a reader holds a shared flock on it while it reads, and the
 * writer prunes only when it can take it exclusively (otherwise the next
 * snapshot prunes). So a live journal's files do not vanish under a read. */
#define RL_JOURNAL_READERS_FILE "READERS"
/* How long a reader may hold off pruning, at the least: pruning waits for two
 * snapshots in a row and this long before it goes ahead under a reader. */
#define RL_JOURNAL_READER_GRACE_MS 3000
/* Hold DIR's files against pruning: a descriptor to pass to
 * rl_journal_release_hold, or -errno (-ENOENT: a journal without the file;
 * read without a hold). Read-only: needs no write permission. */
int rl_journal_hold(const char *dir);
void rl_journal_release_hold(int hold_fd);
/* Flush, sync, stop the writer and the snapshot thread, close the files and
 * release the lock; the memory stays, so an engine still attached only sees
 * the journal fail (-ESHUTDOWN: it halts) and waiters fail. Idempotent. */
void rl_journal_stop(rl_journal_t *journal);
/* rl_journal_stop, then free it. Detach it from any engine first. */
void rl_journal_close(rl_journal_t *journal);

/* Periodic snapshots. The writer keeps a shadow of the state it has made
 * durable: it applies every record it syncs to a private engine. Every
 * snapshot_every_records it writes that shadow as a snapshot covering the
 * durable sequence, then prunes what the snapshot covers. Nothing else is
 * paused: the shadow is exactly the journal's state at that sequence.
 * Before start, seed the shadow with the recovered state (the records a
 * snapshot of it would hold). 0 or -errno; after a failure, close the
 * journal rather than seed it again (the history seeded so far would be
 * kept twice). */
int rl_journal_seed_shadow(rl_journal_t *journal, const rl_journal_snapshot_record_t *records, uint64_t count);

/* Any thread, while the writer runs: wait until everything handed over so far
 * is durable, then have the writer snapshot its shadow (which is exactly the
 * durable state, open orders included) and prune. *covered_seq receives the
 * sequence it covers. 0, -ETIMEDOUT, or -errno. */
int rl_journal_snapshot_now(rl_journal_t *journal, uint32_t timeout_ms, uint64_t *covered_seq);

/* Start the writer thread, pinned to options.cpu if set. 0, -EINVAL (the
 * kernel will not run it on that CPU), -EPERM (SCHED_FIFO without the right
 * to it), or -errno. */
int rl_journal_start(rl_journal_t *journal);

/* The ring the risk thread pushes journaled events into (rl_engine_attach_journal). */
rl_spsc_t *rl_journal_hot_ring(rl_journal_t *journal);

/* Any thread: queue a cold record. `sync_now` makes the writer sync as soon as
 * it is written. *ticket receives a number to pass to rl_journal_wait_cold.
 * Returns 0, -EINVAL (payload over RL_JOURNAL_MAX_PAYLOAD, or a type or
 * payload the writer cannot apply: an unknown type, an empty operator
 * record, a symbol record without a name or with an id at or past
 * symbol_capacity, a position record (snapshots only), ...), -EMSGSIZE (more than one
 * segment holds: the header and the record over segment_bytes), -ENOMEM or
 * -EPIPE (journal closed). */
int rl_journal_append_cold(rl_journal_t *journal, uint16_t type, const void *payload, uint32_t length,
                           bool sync_now, uint64_t *ticket);

/* Wait up to timeout_ms for a cold record to be durable. 0, -ETIMEDOUT, or
 * the writer's -errno if the journal failed. */
int rl_journal_wait_cold(rl_journal_t *journal, uint64_t ticket, uint32_t timeout_ms);

/* The writer's -errno while it cannot make records durable (its last write
 * or sync failed and has not succeeded since), else 0. Any thread. */
int32_t rl_journal_error(const rl_journal_t *journal);

/* -RL_JOURNAL_STALLED while the writer has been in one commit or one rotation (a
 * write, sync, file or directory call in the kernel) for options.stall_halt_ms
 * or longer, else 0: a device that stopped completing (a frozen filesystem,
 * a lost path) reports no errno, and nothing becomes durable meanwhile. The
 * risk side halts on it as on rl_journal_error, and refuses an unfreeze, until
 * the call returns; unlike an error, it keeps backpressure (the writer may
 * come back, and nothing must be dropped meanwhile). Any thread; reads the
 * clock only during a commit. */
int32_t rl_journal_stalled(const rl_journal_t *journal);

/* Wait until every hot record pushed so far (the risk step's) is durable:
 * the writer syncs at once while anyone waits. 0, -ETIMEDOUT or the
 * writer's -errno. For strict durability (OrderRouter's .durableBeforeSubmit). */
int rl_journal_wait_hot(rl_journal_t *journal, uint32_t timeout_ms);

/* Every record with a sequence <= this is on disk and synced. */
uint64_t rl_journal_durable_seq(const rl_journal_t *journal);

/* Wait until everything handed over so far is durable (hot and cold). 0 or -errno. */
int rl_journal_flush(rl_journal_t *journal, uint32_t timeout_ms);

void rl_journal_read_stats(const rl_journal_t *journal, rl_journal_stats_t *out);

/* After every sync the writer pushes into `ring` (from the writer thread: one
 * producer):
 *  - one RL_EVENT_HEARTBEAT for the commit: value = nanoseconds from the
 *    batch's first record to its sync completing, qty = records in the batch,
 *    order_id = the orders accepted in it that carry their acceptance time (an
 *    RL_EVENT_ORDER_ACCEPTED's timestamp_ns, in rl_clock_cycles, as
 *    OrderRouter stamps it), price = rl_clock_cycles() from the oldest of them
 *    to the sync completing, symbol = the most records seen waiting in the
 *    writer's ring meanwhile;
 *  - one RL_EVENT_ORDER_ACCEPTED per sampled order in it (one accepted order
 *    in RL_JOURNAL_LAG_SAMPLE_EVERY): price = rl_clock_cycles() from that
 *    order's acceptance to the sync completing (its durable lag, ring waits
 *    included), qty = RL_JOURNAL_LAG_SAMPLE_EVERY (the orders it stands for).
 * A full ring skips a sample and counts it in full_count. Any time; NULL to stop. */
void rl_journal_set_lag_ring(rl_journal_t *journal, rl_spsc_t *ring);

/* ---- Reading ---------------------------------------------------------- */

/* Called for every valid record in sequence order. Return 0 to go on,
 * anything else to stop the scan with that value. */
typedef int (*rl_journal_visit_fn)(void *context, const rl_journal_record_header_t *header, const uint8_t *payload);

typedef struct rl_journal_scan_result {
    uint64_t segments;
    uint64_t records;              /* valid records visited */
    uint64_t first_seq, last_seq;  /* of the valid records; 0 when none */
    uint64_t torn_tail_bytes;      /* bytes after the last valid record of the last segment */
    uint64_t tail_valid_end;       /* offset in the last segment where valid data ends */
    char tail_segment[128];        /* file name (in DIR) of the last segment, "" when none */
    bool corrupt;                  /* damage before the tail: a valid record follows a bad one,
                                      a gap, or a missing file */
    uint64_t corrupt_seq_after;    /* the last valid sequence before the damage */
    uint64_t lost_first, lost_last; /* with corrupt: the sequences that cannot be replayed
                                       (lost_last 0: to the end, unknown). Without it: the
                                       records of a commit cut short (format version 3: a
                                       hole in the last commit, valid records of it after the
                                       hole) that the torn tail drops; 0 when none */
    char damage[512];              /* what was wrong, for humans (and a commit cut short) */
} rl_journal_scan_result_t;

/* Visit every valid record of DIR's segments with a sequence > after_seq
 * (the sequence the snapshot recovery started from covers; 0: none).
 * A torn tail (a crash mid-write) is reported in the result, not an error.
 * Read-only: needs only read access to DIR, takes no lock, writes nothing.
 * Returns 0; -ENOENT / -ENOTDIR / -EACCES for DIR; -EBADMSG for a bad magic,
 * version or header, damage before the tail, a first segment that does not
 * go on from after_seq + 1, a gap between segments, a damaged manifest, or a
 * file the manifest names that is missing (unless `recover_to_last_good`,
 * which stops at the damage and reports what is lost; a damaged manifest is
 * refused even then); or the visitor's non-zero value. */
int rl_journal_scan(const char *dir, uint64_t after_seq, bool recover_to_last_good, rl_journal_visit_fn visit,
                    void *context, rl_journal_scan_result_t *out);

/* Read one snapshot file (the same record format). Returns 0, -ENOENT,
 * -EBADMSG (any damage: a snapshot is written whole or not at all), or the
 * visitor's value. *covered_seq receives the sequence the snapshot covers. */
int rl_journal_read_snapshot(const char *path, rl_journal_visit_fn visit, void *context, uint64_t *covered_seq);

/* Write a snapshot covering `covered_seq` from `count` records, durably
 * (temp file, fdatasync, rename, fsync of DIR). 0 or -errno. */
int rl_journal_write_snapshot(const char *dir, uint64_t covered_seq, const rl_journal_snapshot_record_t *records,
                              uint64_t count);

/* Remove segments whose records all have sequences <= covered_seq, and older
 * snapshots. Only call after a snapshot covering `covered_seq` is durable.
 * Returns the number of files removed, or -errno. */
int rl_journal_prune(const char *dir, uint64_t covered_seq);


RL_EXTERN_C_END

#endif /* RL_JOURNAL_H */
