/*
 * rl_journal_format.h - the journal's on-disk format, in one place: record
 * types, payload layouts, file headers and the manifest. The C writer, its
 * shadow state and Swift's JournalRecord all use these structs; a layout
 * change shows up here and in its static assertion, nowhere else.
 *
 * All little-endian. A record is a 32-byte rl_journal_record_header_t and
 * its payload, padded to 8 bytes.
 */
#ifndef RL_JOURNAL_FORMAT_H
#define RL_JOURNAL_FORMAT_H

#include "rl_platform.h"
#include "rl_order_rules.h"
#include "rl_strategy.h"
#include "rl_events.h"
#include "rl_position_table.h"

RL_EXTERN_C_BEGIN

#define RL_JOURNAL_MAGIC 0x4C4E524A4C444552ULL /* "REDLJRNL" read as little-endian bytes */
#define RL_JOURNAL_SNAPSHOT_MAGIC 0x50414E534C444552ULL /* "REDLSNAP" */
#define RL_JOURNAL_MANIFEST_MAGIC 0x494E414D4C444552ULL /* "REDLMANI" */
/* The version new files are written in. 2: segments carry a salt (below);
 * version 1 files (salt 0, zeros after their records) are read as ever.
 * 3: the first record of every commit is flagged (RL_JREC_FLAG_COMMIT_START),
 * so a hole inside the last commit (a power loss that kept a later sector
 * of it and lost an earlier one) reads as that commit cut short, not as
 * damage; version 2 segments are read as before. */
#define RL_JOURNAL_VERSION 3
#define RL_JOURNAL_VERSION_OLDEST_READ 1
#define RL_JOURNAL_MAX_PAYLOAD (1u << 20)
/* Every segment is created (preallocated) at segment_bytes plus this much,
 * which only trading-state records (freeze, unfreeze) may use: when the next
 * segment cannot be created (a full disk), the halt still fits. */
#define RL_JOURNAL_STATE_RESERVE (64u * 1024u)

typedef enum rl_journal_record_type {
    RL_JREC_EVENT = 1,     /* payload: rl_event_t, a reservation, fill, release or position adjustment */
    RL_JREC_SYMBOL = 2,    /* payload: uint32 id, then the name */
    RL_JREC_FREEZE = 3,    /* payload: rl_journal_state_payload_t (HALTED or REDUCING), then UTF-8 JSON or nothing */
    RL_JREC_UNFREEZE = 4,  /* payload: the word of rl_journal_state_payload_t (ACTIVE), then UTF-8 JSON or nothing */
    RL_JREC_LIMITS = 5,    /* payload: rl_journal_limits_payload_t, then its overrides (older journals: UTF-8 JSON) */
    RL_JREC_POSITION = 6,  /* snapshots only. payload: rl_journal_position_payload_t (v1: a 48-byte view) */
    RL_JREC_OPEN_ORDER = 7, /* snapshots only. payload: rl_journal_open_order_payload_t, an order still working */
    RL_JREC_OPERATOR = 8,  /* payload: UTF-8 JSON: an operator's command through the control socket (who, what, outcome) */
} rl_journal_record_type_t;

/* ---- Record payloads: the one codec (Swift's JournalRecord reads and
 * writes these same structs) --------------------------------------------- */

/* A trading-state change: the freeze word after it, and the value of its
 * cause (an edge in bps, an exposure; fixed point). An orchestrator may
 * journal the same word again with UTF-8 JSON detail after the 16 bytes. */
typedef struct rl_journal_state_payload {
    uint64_t word;
    int64_t value;
} rl_journal_state_payload_t;

RL_STATIC_ASSERT(sizeof(rl_journal_state_payload_t) == 16, "state payload is 16 bytes");

typedef struct rl_journal_position_payload {
    uint32_t symbol;
    uint32_t reserved;        /* 0 */
    rl_position_view_t view;
} rl_journal_position_payload_t;

RL_STATIC_ASSERT(offsetof(rl_journal_position_payload_t, view) == 8, "view starts at byte 8");
RL_STATIC_ASSERT(sizeof(rl_position_view_t) == 72, "position view is 72 bytes (v1 was the first 48)");
#define RL_JOURNAL_POSITION_V1_BYTES (8 + 48)

/* Decode an RL_JREC_POSITION payload of either layout. A v1 view has no side
 * prices: both sides take the mark. 0 or -EINVAL. */
int rl_journal_decode_position(const uint8_t *payload, uint32_t length, uint32_t *symbol, rl_position_view_t *view);

/* RL_JREC_LIMITS: every limit in fixed point, then `overrides` entries of
 * rl_journal_limit_override_t, each followed by its name's bytes padded to 8. */
typedef struct rl_journal_limits_payload {
    int64_t max_inventory;     /* maxInventoryUSD */
    int64_t max_total;         /* maxTotalNotional */
    int64_t edge_threshold;    /* edgeFreezeThresholdBps */
    int64_t resume_share;      /* resumeShare */
    uint32_t overrides;        /* symbol overrides that follow */
    uint32_t reserved;         /* 0 */
} rl_journal_limits_payload_t;

typedef struct rl_journal_limit_override {
    int64_t limit;             /* that symbol's maxInventoryUSD */
    uint32_t name_length;      /* bytes of the name that follows (padded to 8) */
    uint32_t reserved;         /* 0 */
} rl_journal_limit_override_t;

/* RL_JREC_LIMITS, after the overrides when any per-order rule is set
 * (rl_order_rules.h): the rules. A record without it has every rule off.
 * Then `symbols` entries of rl_journal_symbol_rules_t and `restricted`
 * entries of rl_journal_name_t, each followed by its name padded to 8. */
#define RL_JOURNAL_RULES_MAGIC 0x454c5552u /* "RULE" */
typedef struct rl_journal_rules_payload {
    uint32_t magic;            /* RL_JOURNAL_RULES_MAGIC */
    uint32_t symbols;          /* symbols with rules of their own that follow */
    uint32_t restricted;       /* restricted symbol names that follow those */
    uint32_t flags;            /* RL_RULES_ALLOW_NO_REFERENCE: the no-reference-price policy */
    rl_order_rules_t defaults; /* the rules of every other symbol (flags: the policy, as above) */
} rl_journal_rules_payload_t;

typedef struct rl_journal_symbol_rules {
    rl_order_rules_t rules;    /* that symbol's rules (flags 0) */
    uint32_t name_length;      /* bytes of the name that follows (padded to 8) */
    uint32_t reserved;         /* 0 */
} rl_journal_symbol_rules_t;

typedef struct rl_journal_name {
    uint32_t name_length;      /* bytes of the name that follows (padded to 8) */
    uint32_t reserved;         /* 0 */
} rl_journal_name_t;

RL_STATIC_ASSERT(sizeof(rl_journal_rules_payload_t) == 56, "rules head is 56 bytes");

/* RL_JREC_LIMITS, after the rules (or the overrides) when the circuit breaker
 * or the heartbeat timeout differ from their defaults. A record without it
 * has the defaults (rl_breaker.h) and no heartbeat timeout. */
#define RL_JOURNAL_BREAKER_MAGIC 0x524b5242u /* "BRKR" */
typedef struct rl_journal_breaker_payload {
    uint32_t magic;                /* RL_JOURNAL_BREAKER_MAGIC */
    uint32_t escalate_after;
    uint64_t cooldown_ns;
    uint64_t max_cooldown_ns;
    uint64_t window_ns;
    uint64_t heartbeat_timeout_ns; /* 0: off */
} rl_journal_breaker_payload_t;

RL_STATIC_ASSERT(sizeof(rl_journal_breaker_payload_t) == 40, "breaker block is 40 bytes");

/* RL_JREC_LIMITS, after the breaker block (or what precedes it) when any
 * strategy limit is set (rl_strategy.h). Without it every one is off. */
#define RL_JOURNAL_STRATEGY_MAGIC 0x54525453u /* "STRT" */
typedef struct rl_journal_strategy_payload {
    uint32_t magic;                /* RL_JOURNAL_STRATEGY_MAGIC */
    uint32_t rate_freeze_after;    /* 0: never */
    rl_strategy_limits_t limits;   /* 32 bytes */
    uint64_t rate_freeze_window_ns;
} rl_journal_strategy_payload_t;

RL_STATIC_ASSERT(sizeof(rl_journal_strategy_payload_t) == 48, "strategy block is 48 bytes");

/* RL_JREC_LIMITS, after the strategy block, when a drawdown or daily loss limit is set (rl_pnl.h). */
#define RL_JOURNAL_LOSS_MAGIC 0x53534f4cu /* "LOSS" */
typedef struct rl_journal_loss_payload {
    uint32_t magic;                /* RL_JOURNAL_LOSS_MAGIC */
    uint32_t reserved;             /* 0 */
    int64_t max_drawdown;          /* USD fixed point, 0: off */
    int64_t daily_loss_limit;      /* USD fixed point, 0: off */
    int64_t day_begins_ns;         /* after midnight UTC */
} rl_journal_loss_payload_t;

RL_STATIC_ASSERT(sizeof(rl_journal_loss_payload_t) == 32, "loss block is 32 bytes");

/* RL_JREC_LIMITS, after the loss block (or what precedes it) when a feed or
 * journal guard is set (RL_CONTROL_SET_FEED_GUARDS). */
#define RL_JOURNAL_GUARDS_MAGIC 0x44524147u /* "GARD" */
typedef struct rl_journal_guards_payload {
    uint32_t magic;                /* RL_JOURNAL_GUARDS_MAGIC */
    uint32_t reserved;             /* 0 */
    uint64_t stale_data_ns;        /* 0: off */
    uint64_t backpressure_ns;      /* 0: off */
} rl_journal_guards_payload_t;

RL_STATIC_ASSERT(sizeof(rl_journal_guards_payload_t) == 24, "guards block is 24 bytes");

/* RL_JREC_LIMITS, after the guards block (or what precedes it) when a
 * time-of-day schedule or volatility scaling is set. The schedule's windows
 * follow it, each a head and its time zone's name (padded to 8). */
#define RL_JOURNAL_DYNAMIC_MAGIC 0x4e4d5944u /* "DYNM" */
typedef struct rl_journal_dynamic_payload {
    uint32_t magic;                /* RL_JOURNAL_DYNAMIC_MAGIC */
    uint32_t windows;              /* rl_journal_window_t that follow */
    int64_t vol_reference;         /* fixed point; 0: volatility scaling off */
    int64_t vol_floor;             /* fixed point */
    int64_t vol_cap;               /* fixed point */
} rl_journal_dynamic_payload_t;

typedef struct rl_journal_window {
    int64_t scale;                 /* fixed point, (0, 1] */
    uint16_t start_minute;         /* after local midnight */
    uint16_t end_minute;
    uint8_t weekdays;              /* bit d-1 for ISO day d; 0: every day */
    uint8_t reserved[3];           /* 0 */
    uint32_t name_length;          /* bytes of the time zone's name that follows (padded to 8) */
    uint32_t reserved2;            /* 0 */
} rl_journal_window_t;

RL_STATIC_ASSERT(sizeof(rl_journal_dynamic_payload_t) == 32, "dynamic block is 32 bytes");
RL_STATIC_ASSERT(sizeof(rl_journal_window_t) == 24, "a window's head is 24 bytes");
RL_STATIC_ASSERT(sizeof(rl_journal_symbol_rules_t) == 48, "a symbol's rules head is 48 bytes");
RL_STATIC_ASSERT(sizeof(rl_journal_name_t) == 8, "a name head is 8 bytes");
RL_STATIC_ASSERT(sizeof(rl_journal_limits_payload_t) == 40, "limits payload is 40 bytes");
RL_STATIC_ASSERT(sizeof(rl_journal_limit_override_t) == 16, "an override's head is 16 bytes");

/* RL_JREC_OPEN_ORDER: an order working at the snapshot's sequence (accepted,
 * not yet filled, canceled, rejected or expired), so that a restart knows
 * each order in doubt by id, not only the working quantity. */
typedef struct rl_journal_open_order_payload {
    uint64_t order_id;
    uint32_t symbol;
    uint8_t side;              /* rl_side_t */
    uint8_t reserved[3];       /* 0 */
    int64_t remaining;         /* fixed point */
    int64_t price;             /* fixed point */
} rl_journal_open_order_payload_t;

RL_STATIC_ASSERT(sizeof(rl_journal_open_order_payload_t) == 32, "open order payload is 32 bytes");

typedef struct rl_journal_segment_header {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;
    uint64_t first_seq;        /* segments: first record's sequence; snapshots: the sequence covered */
    uint64_t created_ns;       /* CLOCK_REALTIME */
    uint64_t file_bytes;       /* snapshots: the whole file's size; segments: the size it was created
                                  at (preallocated). 0: not recorded (files from before this field) */
    uint64_t record_count;     /* snapshots: the records in it; segments: 0 */
    uint32_t salt;             /* segments (version 2): random and non-zero, new for each segment, and
                                  in every record header of it. A segment file is recycled (a pruned one
                                  renamed into the next) without being zeroed: the records of its
                                  earlier life read whole but carry another salt, so they end this
                                  segment's records, never join them. 0: version 1, and snapshots */
    uint8_t reserved[8];
    uint32_t crc;              /* CRC32C of the bytes before it */
} rl_journal_segment_header_t;

RL_STATIC_ASSERT(sizeof(rl_journal_segment_header_t) == 64, "segment header is 64 bytes");
RL_STATIC_ASSERT(offsetof(rl_journal_segment_header_t, file_bytes) == 32, "file_bytes at byte 32");
RL_STATIC_ASSERT(offsetof(rl_journal_segment_header_t, crc) == 60, "the CRC ends the segment header");
RL_STATIC_ASSERT(offsetof(rl_journal_segment_header_t, salt) == 48, "the salt at byte 48");

typedef struct rl_journal_record_header {
    uint32_t crc;              /* CRC32C of everything after this field, payload included */
    uint32_t length;           /* payload bytes */
    uint16_t type;             /* rl_journal_record_type_t */
    uint16_t flags;            /* RL_JREC_FLAG_*; 0 in version 1 and 2 segments and in snapshots */
    uint32_t salt;             /* its segment header's salt (0 in version 1 files and in snapshots): a
                                  record whose salt is not its segment's is not one of its records */
    uint64_t seq;              /* monotonic, from 1 */
    uint64_t timestamp_ns;     /* CLOCK_REALTIME when serialised (read once per writer pass) */
} rl_journal_record_header_t;

RL_STATIC_ASSERT(sizeof(rl_journal_record_header_t) == 32, "a record header is 32 bytes");

/* Version 3 segments: a record's flags say which commit it is in. Bit 0:
 * the record opens a commit (the writer wrote it and the records after it,
 * up to the next record so flagged, in one write, synced before the next
 * commit was written, so at most the last commit of a journal is not
 * durable). Bits 1-15: how many records of its commit come before it
 * (RL_JREC_COMMIT_INDEX_MAX: that many or more, unknown), so a record after
 * a hole names the sequence its commit began at. */
#define RL_JREC_FLAG_COMMIT_START 1u
#define RL_JREC_COMMIT_INDEX_SHIFT 1
#define RL_JREC_COMMIT_INDEX_MAX 0x7fffu

/* In a version 2 segment, the bytes after the last record are zeros, at
 * least this many (a record header's worth, which no record begins with: its
 * type and sequence are never 0), unless the segment ends first: every
 * commit writes them after its records, and a new segment's header is
 * written with them. Past them a recycled segment may hold anything of its
 * earlier life; anything else where they should be is a torn tail. */
#define RL_JOURNAL_TERMINATOR_BYTES 32u
RL_STATIC_ASSERT(offsetof(rl_journal_record_header_t, salt) == 12, "the record's salt at byte 12");

/* DIR/MANIFEST, rewritten whenever a segment is created, and by snapshots
 * and prunes. A missing or truncated segment that it names is detected at
 * recovery. The file holds two copies, each in its own 4 KiB block
 * (RL_JOURNAL_MANIFEST_SLOT): a rewrite overwrites the first in place with
 * the next generation and syncs it, then the second, so a segment's
 * rotation costs two data syncs, not a new file, a rename and a directory
 * sync. A crash mid-rewrite leaves one copy whole: the second as it was, or
 * the first as it became. Complete, the two are the same, so damage to one
 * loses nothing. The newest valid copy is the manifest. A file of one copy
 * alone (64 bytes, generation 0) is the older format, read as it is and
 * replaced by the two-copy file (temp file, rename) at its first rewrite. */
typedef struct rl_journal_manifest {
    uint64_t magic;              /* RL_JOURNAL_MANIFEST_MAGIC */
    uint32_t version;
    uint32_t size;               /* sizeof(rl_journal_manifest_t) */
    uint64_t newest_segment_seq; /* the first sequence of the newest segment; 0: none yet */
    uint64_t snapshot_seq;       /* the sequence the newest snapshot covered when it was written; 0: none
                                    (informational: recovery lists the snapshots themselves) */
    uint64_t written_ns;         /* CLOCK_REALTIME */
    uint64_t generation;         /* +1 at each rewrite; the newer valid copy wins (0: the one-copy format) */
    uint8_t reserved[12];
    uint32_t crc;                /* CRC32C of the bytes before it */
} rl_journal_manifest_t;

RL_STATIC_ASSERT(sizeof(rl_journal_manifest_t) == 64, "manifest is 64 bytes");
RL_STATIC_ASSERT(offsetof(rl_journal_manifest_t, crc) == 60, "the CRC ends the manifest");

#define RL_JOURNAL_MANIFEST_SLOT 4096u /* a block and a physical sector: a write of one never touches the other */
#define RL_JOURNAL_MANIFEST_FILE_BYTES (2u * RL_JOURNAL_MANIFEST_SLOT)
RL_STATIC_ASSERT(sizeof(rl_journal_manifest_t) <= RL_JOURNAL_MANIFEST_SLOT, "a copy fits its block");

/* Read DIR/MANIFEST: its newest valid copy. 0, -ENOENT (none: a new
 * journal, or one that lost it; recovery refuses the latter), -EBADMSG
 * (no valid copy: damaged or truncated), or -errno. */
int rl_journal_read_manifest(const char *dir, rl_journal_manifest_t *out);

RL_STATIC_ASSERT(sizeof(rl_journal_segment_header_t) == 64, "segment header is 64 bytes");
RL_STATIC_ASSERT(sizeof(rl_journal_record_header_t) == 32, "record header is 32 bytes");
RL_STATIC_ASSERT(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the journal format is little-endian; add byte swaps for this host");

RL_EXTERN_C_END

#endif /* RL_JOURNAL_FORMAT_H */
