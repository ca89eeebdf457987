import Foundation
import Glibc
import Logging
import RedlineCore
import Synchronization

/// The durable record of every state change: reservations, fills, releases,
/// position adjustments, freezes and unfreezes, limits, symbols. Written by a
/// writer thread with io_uring (group commit: write + `fdatasync`), read back
/// on start so that a restart recovers exactly. See `rl_journal.h` for the
/// format.
///
///     let (journal, report) = try Journal.open(directory: dir, monitor: monitor)
///     // routers, runtime.start() ... the risk step hands every change to the journal
///     journal.close()
public final class Journal: @unchecked Sendable {
    public enum IOMode: String, Sendable, CaseIterable {
        /// io_uring; where a container or sysctl forbids it, pwrite + fdatasync, with a warning.
        case auto
        /// io_uring or refuse to open: the operator demands it.
        case ioUring = "io_uring"
        /// pwrite + fdatasync (the fallback, forced).
        case pwrite

        var cValue: Int32 {
            switch self {
            case .auto: Int32(RL_JOURNAL_IO_AUTO.rawValue)
            case .ioUring: Int32(RL_JOURNAL_IO_URING.rawValue)
            case .pwrite: Int32(RL_JOURNAL_IO_PWRITE.rawValue)
            }
        }
    }

    public struct Options: Sendable {
        /// Group commit: sync after this many records...
        public var syncEveryRecords: Int = 256
        /// ... or once the oldest unsynced record is this old, whichever first.
        public var syncEveryMicroseconds: Int = 1_000
        public var segmentBytes: Int = 64 << 20
        public var ioMode: IOMode = .auto
        /// Stop at damage before the tail and go on from the last good record,
        /// instead of refusing to start. Damaged segments are set aside as *.damaged.
        public var recoverToLastGood = false
        /// Pin the writer thread here.
        public var cpu: Int?
        /// The writer snapshots its shadow of the durable state every this many
        /// records, while trading goes on, and prunes what the snapshot covers. 0: never.
        public var snapshotEveryRecords: Int = 1_000_000
        /// At most this many of the risk step's records per commit: a backlog
        /// is written in bounded commits, each synced on its own.
        public var maxCommitRecords: Int = 4096
        /// Run the writer under SCHED_FIFO at this priority (1...99), so that
        /// spinning strategy and risk threads on a small machine never delay a
        /// commit. Needs CAP_SYS_NICE: opening fails with EPERM without it.
        public var realtimePriority: Int?
        /// Segments as before spares: each is only fallocated, so every sync
        /// in it also commits the conversion of its extents, and pruned ones
        /// are unlinked at once (slower; kept to measure the difference). By
        /// default a background thread writes the next segment with zeros
        /// while the current one fills, over a pruned segment where it can.
        public var plainSegments = false
        /// Commits through the page cache, as before direct writes: each
        /// sync then also writes the pages back, work that on a small machine
        /// takes CPU from the risk thread (kept to measure the difference).
        /// By default a commit into a preallocated segment is written
        /// O_DIRECT in whole 4 KiB blocks, where the filesystem allows it.
        public var bufferedWrites = false
        /// A pruned segment recycled as the next one is written with zeros
        /// first, as before segments had salts: twice the disk writes (kept to
        /// measure the difference). By default it is reused as it is; its
        /// earlier records carry another salt and end the new one's.
        public var zeroRecycledSegments = false
        /// A commit or rotation still in the kernel after this long (a device
        /// or filesystem that stopped completing, which reports no errno)
        /// halts trading with `journal_failure` (ETIMEDOUT), and an unfreeze
        /// is refused until it returns (`rl_journal_stalled`).
        public var stallHaltMilliseconds = Int(RL_JOURNAL_STALL_HALT_MS)

        public init() {}

        /// The most records one commit can take: the capacity of the ring
        /// between the risk thread and the writer.
        public static let maxCommitRecordsLimit = Int(RL_JOURNAL_HOT_RING_DEFAULT)
        /// The smallest `segmentBytes` the writer takes.
        public static let minSegmentBytes = Int(RL_JOURNAL_SEGMENT_MIN_BYTES)

        /// Refuse an option the writer cannot honour, naming it, rather than
        /// bend it to something it can (a writer pinned nowhere, a commit of
        /// one record, a segment too small to rotate into).
        public func validate() throws(RedlineError) {
            func refuse(_ option: String, _ value: String, _ allowed: String) -> RedlineError {
                .invalidInput("journal option \(option) must be \(allowed), got \(value)")
            }
            guard (1...Int(UInt32.max)).contains(syncEveryRecords) else {
                throw refuse("syncEveryRecords", "\(syncEveryRecords)", "1...\(UInt32.max)")
            }
            guard (1...Int(UInt32.max)).contains(syncEveryMicroseconds) else {
                throw refuse("syncEveryMicroseconds", "\(syncEveryMicroseconds)", "1...\(UInt32.max)")
            }
            guard segmentBytes >= Self.minSegmentBytes else {
                throw refuse("segmentBytes", "\(segmentBytes)", "at least \(Self.minSegmentBytes)")
            }
            guard snapshotEveryRecords >= 0 else {
                throw refuse("snapshotEveryRecords", "\(snapshotEveryRecords)", "0 (never) or more")
            }
            guard (1...Self.maxCommitRecordsLimit).contains(maxCommitRecords) else {
                throw refuse("maxCommitRecords", "\(maxCommitRecords)", "1...\(Self.maxCommitRecordsLimit)")
            }
            if let realtimePriority, !(1...99).contains(realtimePriority) {
                throw refuse("realtimePriority", "\(realtimePriority)", "1...99")
            }
            // A CPU that does not exist; one outside this thread's affinity may
            // still be the writer's, whose creation pins it (start says if not).
            if let cpu, cpu < 0 || cpu >= Int(Int32.max) || rl_cpu_check(Int32(cpu)) == -EINVAL {
                throw .invalidInput("journal option cpu: CPU \(cpu) cannot run the journal writer: "
                    + "no such CPU (this machine has \(RedlineRuntime.cpuCount))")
            }
        }
    }

    /// What opening found and rebuilt.
    public struct RecoveryReport: Sendable, Equatable {
        public var snapshotSequence: UInt64?
        public var segments = 0
        public var recordsReplayed = 0
        public var lastSequence: UInt64 = 0
        /// Bytes of a record torn by a crash mid-write, cut off.
        public var tornTailBytes: UInt64 = 0
        /// The torn tail was the last commit cut short (a power loss that
        /// kept later parts of it): these records of it, from the hole on,
        /// were never durable as a whole and were dropped with it.
        public var droppedCommitSequences: (first: UInt64, last: UInt64)? {
            get { droppedFirst.map { ($0, droppedLast) } }
            set { droppedFirst = newValue?.first; droppedLast = newValue?.last ?? 0 }
        }
        private var droppedFirst: UInt64?
        private var droppedLast: UInt64 = 0
        /// Damage before the tail that `recoverToLastGood` stepped over.
        public var damage: String?
        /// With `damage`: the sequences that were not replayed (`upperBound`
        /// nil: to the end of what was journaled, which is unknown).
        public var lostSequences: (first: UInt64, last: UInt64?)? {
            get { lostFirst.map { ($0, lostLast) } }
            set { lostFirst = newValue?.first; lostLast = newValue?.last ?? nil }
        }
        var lostFirst: UInt64?
        var lostLast: UInt64?
        public var ioMode: IOMode = .auto
    }

    public let directory: String
    public let logger: Logger
    public let ioMode: IOMode
    nonisolated(unsafe) let handle: OpaquePointer
    private let closed = Atomic<Bool>(false)

    private init(directory: String, handle: OpaquePointer, ioMode: IOMode, logger: Logger) {
        self.directory = directory
        self.handle = handle
        self.ioMode = ioMode
        self.logger = logger
    }

    deinit { rl_journal_close(handle) }

    /// Rebuild `monitor` from `directory` (newest snapshot, then the journal
    /// after it) without opening it for writing: nothing on disk changes and
    /// no lock is taken. For inspection and `redline journal replay`.
    public static func recover(
        directory: String, into monitor: RuntimeRiskMonitor, options: Options = Options(),
        logger: Logger = Logger(label: "redline.journal")
    ) throws(RedlineError) -> RecoveryReport {
        // A live engine must not prune files under this read (READERS; a
        // journal without the file is read without a hold).
        let hold = rl_journal_hold(directory)
        defer { rl_journal_release_hold(hold) }
        return try recoverWithTail(directory: directory, into: monitor, options: options, logger: logger,
                                   recovery: JournalRecovery(monitor: monitor)).0
    }

    /// Create `directory` and its parents if they are missing (`open` wants
    /// it to exist). A failure names the directory and the errno.
    public static func makeDirectory(_ directory: String) throws(RedlineError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            // Foundation's error carries the errno itself, or underneath.
            let cocoa = error as NSError
            let posix = cocoa.domain == NSPOSIXErrorDomain ? cocoa : cocoa.userInfo[NSUnderlyingErrorKey] as? NSError
            if let posix, posix.domain == NSPOSIXErrorDomain {
                throw .system(errno: Int32(posix.code), operation: "create journal directory \(directory)")
            }
            throw .invalidInput("journal directory \(directory) cannot be created: \(error.localizedDescription)")
        }
    }

    /// Recover `monitor` from `directory` (newest snapshot, then the journal
    /// after it), then open the journal for appending and attach it to the
    /// monitor. Call before any router or runtime uses the monitor.
    public static func open(
        directory: String, monitor: RuntimeRiskMonitor, options: Options = Options(),
        logger: Logger = Logger(label: "redline.journal")
    ) throws(RedlineError) -> (Journal, RecoveryReport) {
        try options.validate()
        // The lock first: a second engine is turned away before it reads anything.
        let lock = rl_journal_lock(directory)
        switch lock {
        case let fd where fd >= 0: break
        case -EBUSY: throw .journalLocked(directory: directory)
        case -ENOENT: throw .system(errno: ENOENT, operation: "journal directory \(directory)")
        default: throw .system(errno: -lock, operation: "lock journal \(directory)")
        }
        let recovery = JournalRecovery(monitor: monitor)
        let recovered: (RecoveryReport, rl_journal_scan_result_t)
        do {
            recovered = try recoverWithTail(directory: directory, into: monitor, options: options, logger: logger,
                                            recovery: recovery)
        } catch {
            rl_journal_unlock(lock)
            throw error
        }
        var (report, scan) = recovered
        if scan.torn_tail_bytes > 0 {
            var metadata: Logger.Metadata = ["bytes": "\(scan.torn_tail_bytes)", "last_good_seq": "\(scan.last_seq)"]
            if let dropped = report.droppedCommitSequences { metadata["dropped_seqs"] = "\(dropped.first)-\(dropped.last)" }
            logger.warning("journal tail torn by a crash mid-write: cut off", metadata: metadata)
            monitor.metrics.setTotal("journal_torn_tails_total", to: 1)
        } else {
            monitor.metrics.setTotal("journal_torn_tails_total", to: 0) // present from 0, as documented
        }
        if let damage = report.damage {
            let lost = report.lostSequences.map { "\($0.first)-\($0.last.map(String.init) ?? "end")" } ?? "unknown"
            logger.error("journal damaged: recovered up to the last good record as asked; what follows is lost", metadata: [
                "damage": "\(damage)", "last_good_seq": "\(scan.corrupt_seq_after)", "lost_sequences": "\(lost)"])
        }
        // 3. Open for appending after the last good record.
        var cOptions = rl_journal_options_t(
            sync_every_records: UInt32(clamping: options.syncEveryRecords),
            sync_every_us: UInt32(clamping: options.syncEveryMicroseconds),
            hot_ring_capacity: UInt32(Options.maxCommitRecordsLimit),
            segment_bytes: UInt64(options.segmentBytes), io_mode: options.ioMode.cValue,
            cpu: Int32(options.cpu ?? -1), snapshot_every_records: UInt64(max(options.snapshotEveryRecords, 0)),
            symbol_capacity: UInt32(monitor.symbolCapacity), max_commit_records: UInt32(options.maxCommitRecords),
            realtime_priority: Int32(clamping: options.realtimePriority ?? 0), plain_segments: options.plainSegments,
            buffered_writes: options.bufferedWrites, zero_recycled_segments: options.zeroRecycledSegments,
            stall_halt_ms: UInt32(clamping: max(options.stallHaltMilliseconds, 1)))
        let tail = cString(scan.tail_segment)
        var opened: OpaquePointer?
        let openRC = rl_journal_open(directory, &cOptions, report.lastSequence + 1, tail.isEmpty ? nil : tail,
                                     scan.tail_valid_end, lock, &opened) // takes over the lock
        switch openRC {
        case 0: break
        case -EBUSY: throw .journalLocked(directory: directory)
        case -ENOTSUP: throw .journalIOUringUnavailable
        default: throw .system(errno: -openRC, operation: "open journal \(directory)")
        }
        var stats = rl_journal_stats_t()
        rl_journal_read_stats(opened!, &stats)
        let mode: IOMode = stats.io_mode == Int32(RL_JOURNAL_IO_URING.rawValue) ? .ioUring : .pwrite
        report.ioMode = mode
        if mode == .pwrite && options.ioMode == .auto {
            logger.warning(rl_journal_built_with_io_uring()
                ? "io_uring is unavailable (seccomp, or kernel.io_uring_disabled?): journaling with pwrite + fdatasync"
                : "this build has no io_uring (liburing-dev was missing when it was built: scripts/install-deps.sh, then rebuild): journaling with pwrite + fdatasync")
            monitor.metrics.setTotal("journal_io_uring_fallbacks_total", to: 1)
        } else {
            monitor.metrics.setTotal("journal_io_uring_fallbacks_total", to: 0)
        }
        let journal = Journal(directory: directory, handle: opened!, ioMode: mode, logger: logger)
        // The writer's shadow starts from what was recovered, open orders included.
        var seed = try journal.snapshotPayloads(of: monitor)
        for order in recovery.openOrders.values.sorted(by: { $0.order_id < $1.order_id }) {
            seed.append((RL_JREC_OPEN_ORDER, try JournalRecord.openOrder(order).encode()))
        }
        let seeded = Self.withSnapshotRecords(seed) { records in
            rl_journal_seed_shadow(opened!, records.baseAddress, UInt64(records.count))
        }
        try RedlineError.errno(seeded, operation: "seed the journal's shadow state")
        let started = rl_journal_start(opened!)
        if started == -EPERM, let priority = options.realtimePriority {
            // The one way to start the writer without permission: say which, and what to do.
            throw RedlineError.invalidInput("the journal writer cannot run under SCHED_FIFO at priority \(priority): "
                + "that needs CAP_SYS_NICE (root, or setcap cap_sys_nice) or an RLIMIT_RTPRIO of \(priority); "
                + "leave out realtimePriority (--journal-realtime-priority) to run it under normal scheduling")
        }
        try RedlineError.errno(started, operation: "start journal writer")
        monitor.attach(journal)
        // The limits against what was recovered: rebuilds which symbols are
        // over, and moves a recovered REDUCING on if exposure has changed
        // meanwhile. A change it makes is journaled like any other.
        try monitor.evaluateLimits()
        // What the monitor had before the journal knew it: its limits and any
        // symbols it registered itself. Journaled now, so a restart has them.
        if !recovery.sawLimits { try monitor.updateLimits(monitor.limits) }
        // Orders that were working are in doubt until a router asks the venue.
        try monitor.recovered(inDoubt: recovery.inDoubt, sessionsUsed: recovery.highestSession)
        let known = monitor.symbols
        for (id, name) in known.enumerated() where id >= recovery.symbolsSeen {
            try journal.append(.symbol(id: UInt32(id), name: name), syncNow: true, wait: true)
        }
        logger.notice("journal open", metadata: [
            "dir": "\(directory)", "next_seq": "\(report.lastSequence + 1)", "io": "\(mode.rawValue)",
            "replayed": "\(report.recordsReplayed)", "snapshot_seq": "\(report.snapshotSequence.map(String.init) ?? "none")"])
        return (journal, report)
    }

    private static func recoverWithTail(
        directory: String, into monitor: RuntimeRiskMonitor, options: Options, logger: Logger, recovery: JournalRecovery
    ) throws(RedlineError) -> (RecoveryReport, rl_journal_scan_result_t) {
        var report = RecoveryReport()
        var unreadable: [String] = []
        // 1. The newest snapshot that reads whole: checked end to end first, then applied.
        for snapshot in JournalFiles.snapshots(in: directory).reversed() {
            var covered: UInt64 = 0
            let valid = rl_journal_read_snapshot(snapshot, JournalRecovery.validate, nil, &covered)
            guard valid == 0 else {
                let why = valid == -EBADMSG ? "damaged" : String(cString: strerror(-valid))
                unreadable.append("\((snapshot as NSString).lastPathComponent) is \(why)")
                logger.warning("snapshot unreadable, trying an older one", metadata: ["file": "\(snapshot)", "errno": "\(-valid)"])
                continue
            }
            let rc = withUnsafeMutablePointer(to: &recovery.context) { context in
                rl_journal_read_snapshot(snapshot, JournalRecovery.visit, context, &covered)
            }
            try recovery.check()
            try RedlineError.errno(rc, operation: "read snapshot \(snapshot)")
            report.snapshotSequence = covered
            break
        }
        // 2. The journal after it.
        var scan = rl_journal_scan_result_t()
        let rc = withUnsafeMutablePointer(to: &recovery.context) { context in
            rl_journal_scan(directory, report.snapshotSequence ?? 0, options.recoverToLastGood, JournalRecovery.visit,
                            context, &scan)
        }
        var damage = cString(scan.damage)
        // A record that reads whole but cannot be applied: the visitor knows why.
        if let error = recovery.takeError() {
            var why = "\(error)"
            if case .journalCorrupt(_, let detail) = error { why = detail }
            damage += damage.isEmpty ? why : " (\(why))"
        }
        if !unreadable.isEmpty && !damage.isEmpty { damage += " (\(unreadable.joined(separator: "; ")))" }
        switch rc {
        case 0: break
        case -EBADMSG:
            if damage.isEmpty { damage = "damage of unknown kind" }
            // Would recovering to the last good record help? Only say so if it would.
            var dry = rl_journal_scan_result_t()
            let wouldRecover = !options.recoverToLastGood
                && rl_journal_scan(directory, report.snapshotSequence ?? 0, true, nil, nil, &dry) == 0
            if !wouldRecover { damage += RedlineError.unrecoverableMarker }
            throw .journalCorrupt(directory: directory, damage: damage)
        case -ENOENT: throw .system(errno: ENOENT, operation: "journal directory \(directory)")
        default:
            try recovery.check()
            throw .system(errno: -rc, operation: "scan journal \(directory)")
        }
        try recovery.check()
        report.segments = Int(scan.segments)
        report.recordsReplayed = recovery.context.replayed
        report.lastSequence = max(scan.last_seq, report.snapshotSequence ?? 0)
        report.tornTailBytes = scan.torn_tail_bytes
        if !scan.corrupt && scan.lost_first > 0 { report.droppedCommitSequences = (scan.lost_first, scan.lost_last) }
        if scan.corrupt {
            report.damage = damage
            if scan.lost_first > 0 { report.lostSequences = (scan.lost_first, scan.lost_last == 0 ? nil : scan.lost_last) }
        }
        return (report, scan)
    }

    /// Flush, sync, stop the writer and release the directory's lock. Idempotent.
    /// The monitor keeps the journal attached (its memory lives as long as
    /// this object): anything that still trades sees the journal fail
    /// (ESHUTDOWN) and halts, and strict orders are refused. Stop the runtime
    /// and routers first for a clean shutdown.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        rl_journal_stop(handle)
    }

    /// Every record with a sequence at or below this is on disk and synced.
    public var durableSequence: UInt64 { rl_journal_durable_seq(handle) }

    public var stats: rl_journal_stats_t {
        var stats = rl_journal_stats_t()
        rl_journal_read_stats(handle, &stats)
        return stats
    }

    /// Wait until the record with sequence `sequence` (and all before it) is durable.
    public func waitUntilDurable(_ sequence: UInt64, timeout: Duration = .seconds(10)) throws(RedlineError) {
        let deadline = ContinuousClock.now + timeout
        while durableSequence < sequence {
            let error = stats.last_error
            if error != 0 { throw .system(errno: -error, operation: "journal sync") }
            guard ContinuousClock.now < deadline else { throw stalled("journal wait for seq \(sequence)", timeout) }
            usleep(50)
        }
    }

    /// Wait until every record the risk step has handed over so far is
    /// durable; the writer syncs at once while someone waits.
    public func waitForRiskRecords(timeout: Duration = .seconds(10)) throws(RedlineError) {
        try checkWait(rl_journal_wait_hot(handle, Self.milliseconds(timeout)), "journal sync", timeout)
    }

    /// Wait until everything handed to the journal so far is durable.
    public func flush(timeout: Duration = .seconds(10)) throws(RedlineError) {
        try checkWait(rl_journal_flush(handle, Self.milliseconds(timeout)), "journal flush", timeout)
    }

    static func milliseconds(_ duration: Duration) -> UInt32 {
        UInt32(clamping: duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// A wait's result: a timeout (ETIMEDOUT) says what the writer was doing,
    /// so that a device that never completes a sync is told apart from a
    /// writer that is behind or starved of CPU.
    func checkWait(_ rc: Int32, _ operation: String, _ timeout: Duration) throws(RedlineError) {
        if rc == -ETIMEDOUT { throw stalled(operation, timeout) }
        try RedlineError.errno(rc, operation: operation)
    }

    private func stalled(_ operation: String, _ timeout: Duration) -> RedlineError {
        .system(errno: ETIMEDOUT, operation: "\(operation) (not durable within \(timeout); \(writerActivity))")
    }

    /// What the writer thread is doing now, and for how long, in words.
    public var writerActivity: String {
        let stats = self.stats
        let time = String(format: "%.1f ms", Double(stats.writer_phase_us) / 1000)
        let durable = "durable through seq \(stats.durable_seq) of \(stats.next_seq - 1); the writer's loop has made "
            + "\(stats.writer_passes) passes; the risk side's records: \(stats.hot_pushed) handed over, "
            + "\(stats.hot_taken) taken, \(stats.hot_durable) durable"
        switch rl_journal_writer_phase_t(stats.writer_phase) {
        case RL_JOURNAL_PHASE_COMMITTING:
            return "the writer has been in one commit (its write and fdatasync in the kernel) for \(time): "
                + "the device is not completing it; \(durable)"
        case RL_JOURNAL_PHASE_ROTATING:
            return "the writer has been making the next segment (file, header, rename, MANIFEST) for \(time): "
                + "the filesystem is not completing it; \(durable)"
        case RL_JOURNAL_PHASE_RETRYING:
            return "the writer is retrying a failed write or sync (\(errnoName(-stats.last_error))); \(durable)"
        case RL_JOURNAL_PHASE_STOPPED:
            return "the writer has stopped (the journal is closed); \(durable)"
        case RL_JOURNAL_PHASE_SNAPSHOTTING:
            return "the writer has been encoding a snapshot of its state for \(time); \(durable)"
        default:
            return "the writer last finished a commit or rotation \(time) ago and has not committed since "
                + "(starved of CPU, or behind); \(durable)"
        }
    }

    var hotRing: OpaquePointer { rl_journal_hot_ring(handle) }

    /// The `rl_journal_t *`, for benchmarks that feed the hot ring directly.
    public var handleForBenchmarks: OpaquePointer { handle }

    /// Report every group commit's durable lag into `ring` from now on (see
    /// `rl_journal_set_lag_ring`): for measurement, e.g. `redline loadtest --journal`.
    public func reportLag(into ring: EventRing) { rl_journal_set_lag_ring(handle, ring.pointer) }
    /// One accepted order in this many gets its own durable-lag sample in that ring.
    public static let lagSampleEvery = Int(RL_JOURNAL_LAG_SAMPLE_EVERY)

    /// Write a snapshot covering every record handed to the journal so far,
    /// then remove the segments and older snapshots it makes redundant.
    ///
    /// The writer writes its shadow, which is exactly the durable state (open
    /// orders included), so trading need not pause. Without a risk thread,
    /// `monitor`'s pending ring events are drained first. Returns the
    /// sequence the snapshot covers.
    @discardableResult
    public func snapshot(of monitor: RuntimeRiskMonitor) throws(RedlineError) -> UInt64 {
        if !monitor.hasRiskThread { monitor.drain() }
        // The writer's shadow is exactly the durable state, open orders
        // included: it writes the snapshot, so nothing needs to pause.
        var covered: UInt64 = 0
        try RedlineError.errno(rl_journal_snapshot_now(handle, 10_000, &covered), operation: "write snapshot")
        logger.notice("snapshot written", metadata: ["covers_seq": "\(covered)"])
        return covered
    }

    /// The records of a snapshot of `monitor` as it is now.
    func snapshotRecords(of monitor: RuntimeRiskMonitor) throws(RedlineError) -> [JournalRecord] {
        let snapshot = monitor.snapshot()
        var records: [JournalRecord] = [.limits(snapshot.limits)]
        for symbol in snapshot.symbols {
            let id = try monitor.symbolID(symbol.name)
            records.append(.symbol(id: id.rawValue, name: symbol.name))
            records.append(.position(symbol: id.rawValue, view: symbol.view))
        }
        // The history, each change with its detail; freezes from older journals without one.
        let changed = Set(snapshot.stateChanges?.map(\.to.epoch) ?? [])
        for event in snapshot.freezeEvents where !changed.contains(event.epoch) {
            let word = rl_freeze_pack(UInt64(RL_STATE_HALTED.rawValue), UInt64(event.trigger.reasonCode.rawValue), event.epoch)
            records.append(.state(word: word, value: 0, detail: .init(change: nil, freeze: event)))
        }
        for change in snapshot.stateChanges ?? [] {
            records.append(.state(of: change, snapshot.freezeEvents.first { $0.epoch == change.to.epoch }))
        }
        // The operators' audit trail.
        records += monitor.operatorActions.map { .operatorAction($0) }
        // Last, the trading state as it is now.
        records.append(.state(word: snapshot.tradingState.word, value: 0, detail: nil))
        return records
    }

    func snapshotPayloads(of monitor: RuntimeRiskMonitor) throws(RedlineError) -> [(rl_journal_record_type_t, [UInt8])] {
        var payloads: [(rl_journal_record_type_t, [UInt8])] = []
        for record in try snapshotRecords(of: monitor) { payloads.append((record.type, try record.encode())) }
        return payloads
    }

    private static func withSnapshotRecords(
        _ payloads: [(rl_journal_record_type_t, [UInt8])], _ body: (UnsafeBufferPointer<rl_journal_snapshot_record_t>) -> Int32
    ) -> Int32 {
        // Keep every payload alive while C reads it.
        let buffers = payloads.map { payload -> UnsafeMutableRawBufferPointer in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(payload.1.count, 1), alignment: 8)
            buffer.copyBytes(from: payload.1)
            return buffer
        }
        defer { buffers.forEach { $0.deallocate() } }
        let records = zip(payloads, buffers).map { payload, buffer in
            rl_journal_snapshot_record_t(type: UInt16(payload.0.rawValue), length: UInt32(payload.1.count),
                                         payload: UnsafeRawPointer(buffer.baseAddress))
        }
        return records.withUnsafeBufferPointer(body)
    }

    /// Queue a cold record; with `wait`, return once it is durable.
    func append(_ record: JournalRecord, syncNow: Bool, wait: Bool) throws(RedlineError) {
        let ticket = try appendCold(record, syncNow: syncNow)
        if wait { try waitUntilDurable(ticket: ticket) }
    }

    /// Queue a cold record; its ticket, for `waitUntilDurable(ticket:timeout:)`.
    func appendCold(_ record: JournalRecord, syncNow: Bool) throws(RedlineError) -> UInt64 {
        let type = record.type, payload = try record.encode()
        var ticket: UInt64 = 0
        try RedlineError.errno(
            payload.withUnsafeBytes { rl_journal_append_cold(handle, UInt16(type.rawValue), $0.baseAddress, UInt32($0.count), syncNow, &ticket) },
            operation: "journal append")
        return ticket
    }

    /// Wait until the cold record with `ticket` (and every one before it) is durable.
    func waitUntilDurable(ticket: UInt64, timeout: Duration = .seconds(10)) throws(RedlineError) {
        // A journal already stalled past its bound will not make it durable
        // in 10 s either: say so now, rather than hold the caller (an
        // operator's command, and every one queued behind it) for nothing.
        if rl_journal_stalled(handle) != 0 {
            throw .system(errno: ETIMEDOUT, operation: "journal sync (not durable: the journal is stalled; \(writerActivity))")
        }
        try checkWait(rl_journal_wait_cold(handle, ticket, Self.milliseconds(timeout)), "journal sync", timeout)
    }
}

/// A NUL-terminated C `char` array (imported as a tuple) as a String.
func cString<Tuple>(_ tuple: Tuple) -> String {
    withUnsafeBytes(of: tuple) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}

/// Listing a journal directory.
enum JournalFiles {
    static func snapshots(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasPrefix("snapshot-") && $0.hasSuffix(".rls") }.sorted().map { "\(directory)/\($0)" }
    }
}
