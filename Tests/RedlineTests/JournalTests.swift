import Foundation
import Logging
import Redline
import RedlineCore
import XCTest

func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "redline-journal-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    TemporaryDirectories.shared.created(path)
    return path
}

/// Removes the directories a test made when it finishes: journals are
/// preallocated (64 MiB a segment), and a suite's worth left behind once
/// filled tens of GB of /tmp.
final class TemporaryDirectories: NSObject, XCTestObservation, @unchecked Sendable {
    static let shared: TemporaryDirectories = {
        let observer = TemporaryDirectories()
        XCTestObservationCenter.shared.addTestObserver(observer)
        return observer
    }()
    private let lock = NSLock()
    private var paths: [String] = []

    func created(_ path: String) { lock.withLock { paths.append(path) } }

    func testCaseDidFinish(_ testCase: XCTestCase) {
        let done = lock.withLock { () -> [String] in defer { paths.removeAll() }; return paths }
        for path in done { try? FileManager.default.removeItem(atPath: path) }
    }
}

/// A monitor with no symbols of its own: the journal registers them.
func freshMonitor() throws -> RuntimeRiskMonitor {
    try RuntimeRiskMonitor(limits: try RiskLimits(maxInventoryUSD: 5_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 200),
                           logger: quietLogger())
}

func journalOptions(_ mode: Journal.IOMode = .auto) -> Journal.Options {
    var options = Journal.Options()
    options.ioMode = mode
    options.syncEveryMicroseconds = 200
    return options
}

/// A session journaling into `directory` that trades BTCUSDT (marked at
/// 40,000) through `venue` in `body`, then ends as a crash does: its journal
/// synced and closed, its orders left working at the venue.
func crashAfterSession<T>(journaling directory: String, venue: ExchangeClient,
                          _ body: (RuntimeRiskMonitor, OrderRouter) throws -> T) throws -> T {
    let monitor = try freshMonitor()
    let (journal, _) = try Journal.open(directory: directory, monitor: monitor, options: journalOptions(), logger: quietLogger())
    try monitor.register(symbol: "BTCUSDT")
    try monitor.markPrice(symbol: "BTCUSDT", price: 40_000)
    let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
    let result = try body(monitor, router)
    try journal.flush()
    journal.close()
    return result
}

/// The state a restart must bring back.
struct RecoveredState: Equatable {
    let symbols: [MonitorSnapshot.Symbol]
    let limits: RiskLimits
    let trading: TradingState
    let freezes: [FreezeEvent]

    init(_ monitor: RuntimeRiskMonitor) {
        let snapshot = monitor.snapshot()
        symbols = snapshot.symbols
        limits = snapshot.limits
        trading = snapshot.tradingState
        freezes = snapshot.freezeEvents
    }
}

final class JournalTests: XCTestCase {
    func testAReducingEngineComesBackReducingWithItsBreachAndItsHistory() throws {
        let dir = try makeTemporaryDirectory()
        do {
            let monitor = try freshMonitor()
            let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
            try monitor.register(symbol: "BTCUSDT")
            try monitor.register(symbol: "ETHUSDT")
            try monitor.updatePosition(symbol: "BTCUSDT", qty: 0.1, price: 40_000)
            try monitor.markPrice(symbol: "BTCUSDT", price: 60_000) // $6,000 over $5,000
            XCTAssertEqual(monitor.tradingState.mode, .reducing)
            try journal.flush()
            journal.close()
        }
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        defer { journal.close() }
        XCTAssertEqual(monitor.tradingState.mode, .reducing)
        XCTAssertEqual(monitor.freezeEvents.last?.trigger, .limitViolation)
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.markPrice, 60_000)
        // An event on another symbol: BTCUSDT is still over, so still REDUCING
        // (the breach was rebuilt at recovery, not forgotten).
        try monitor.markPrice(symbol: "ETHUSDT", price: 2_000)
        XCTAssertEqual(monitor.tradingState.mode, .reducing)
        try monitor.markPrice(symbol: "BTCUSDT", price: 59_000)
        XCTAssertEqual(monitor.tradingState.mode, .reducing)
        XCTAssertThrowsRedline(.blocked(.reduceOnly)) {
            try monitor.reserve(try monitor.symbolID("BTCUSDT"), side: .buy, qty: 0.01, price: 59_000)
        }
        try monitor.markPrice(symbol: "BTCUSDT", price: 45_000)
        XCTAssertEqual(monitor.tradingState.mode, .active)
    }

    private func exercise(_ monitor: RuntimeRiskMonitor, _ exchange: SimulatedExchange.Configuration) throws -> OrderRouter {
        for symbol in ["BTCUSDT", "ETHUSDT", "SOLUSDT"] { try monitor.register(symbol: symbol) }
        let router = try OrderRouter(monitor: monitor, client: SimulatedExchange(exchange), orderCapacity: 256,
                                     ringCapacity: 256, logger: quietLogger())
        for i in 0..<60 {
            _ = try? router.placeOrder(symbol: ["BTCUSDT", "ETHUSDT", "SOLUSDT"][i % 3], side: i % 4 == 0 ? .sell : .buy,
                                       qty: 0.001, price: [40_000, 2_000, 100][i % 3])
            router.poll()
        }
        try monitor.updatePosition(symbol: "SOLUSDT", qty: -2, price: 101)
        return router
    }

    func testRestartRecoversPositionsReservationsLimitsAndFreezeExactly() throws {
        for mode in [Journal.IOMode.auto, .pwrite] {
            let dir = try makeTemporaryDirectory()
            let monitor = try freshMonitor()
            let (journal, report) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(mode),
                                                     logger: quietLogger())
            XCTAssertEqual(report.recordsReplayed, 0)
            let router = try exercise(monitor, .init(seed: 5, fillRatio: 0.4, partialFillRatio: 0.3))
            try monitor.updateLimits(try RiskLimits(maxInventoryUSD: 6_000, maxTotalNotional: 20_000,
                                                    edgeFreezeThresholdBps: 150, symbolOverrides: ["ETHUSDT": 3_000]))
            XCTAssertGreaterThan(router.activeOrderCount, 0, "some reservations stay working")
            XCTAssertTrue(monitor.manualFreeze(reason: "end of test", metadata: ["who": "test"]))
            try journal.flush()
            try journal.waitUntilDurable(journal.durableSequence) // already durable: returns at once
            // A record that never comes: the timeout says what the writer is doing.
            XCTAssertThrowsError(try journal.waitUntilDurable(journal.durableSequence + 1_000, timeout: .milliseconds(50))) {
                guard case .system(ETIMEDOUT, let operation) = $0 as? RedlineError else { return XCTFail("\($0)") }
                XCTAssertTrue(operation.contains("has not committed since") && operation.contains("durable through seq"),
                              operation)
            }
            let before = RecoveredState(monitor)
            journal.close()
            XCTAssertTrue(journal.writerActivity.hasPrefix("the writer has stopped"), journal.writerActivity)

            let restarted = try freshMonitor()
            let (again, second) = try Journal.open(directory: dir, monitor: restarted, options: journalOptions(mode),
                                                   logger: quietLogger())
            XCTAssertGreaterThan(second.recordsReplayed, 60)
            XCTAssertEqual(RecoveredState(restarted), before, "\(mode)")
            XCTAssertTrue(restarted.isFrozen, "a frozen engine comes back frozen")
            XCTAssertEqual(restarted.totalExposure, monitor.totalExposure)
            XCTAssertFalse(restarted.unfreeze(reason: "nope") == false, "only an operator unfreeze lifts it")
            again.close()
            let third = try freshMonitor()
            let (last, _) = try Journal.open(directory: dir, monitor: third, logger: quietLogger())
            XCTAssertFalse(third.isFrozen, "the unfreeze was journaled too")
            last.close()
            if mode == .pwrite { XCTAssertEqual(report.ioMode, .pwrite, "the fallback was forced") }
        }
    }

    func testSnapshotThenMoreRecordsRecoverExactlyAndOldSegmentsGo() throws {
        let dir = try makeTemporaryDirectory()
        var options = journalOptions()
        options.segmentBytes = 4096 // rotate often
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: options, logger: quietLogger())
        let router = try exercise(monitor, .init(seed: 9, fillRatio: 0.5))
        try journal.flush()
        let segmentsBefore = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("segment-") }.count
        XCTAssertGreaterThan(segmentsBefore, 1)
        let covered = try journal.snapshot(of: monitor)
        XCTAssertGreaterThan(covered, 0)
        for i in 0..<20 {
            _ = try? router.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 0.01, price: 2_000 + Double(i))
            router.poll()
        }
        try journal.flush()
        let before = RecoveredState(monitor)
        journal.close()
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
        XCTAssertLessThan(files.filter { $0.hasPrefix("segment-") }.count, segmentsBefore + 2)
        XCTAssertEqual(files.filter { $0.hasPrefix("snapshot-") }.count, 1)

        let restarted = try freshMonitor()
        let (again, report) = try Journal.open(directory: dir, monitor: restarted, options: options, logger: quietLogger())
        defer { again.close() }
        XCTAssertEqual(report.snapshotSequence, covered)
        let recovered = RecoveredState(restarted)
        XCTAssertEqual(recovered.symbols, before.symbols)
        XCTAssertEqual(recovered.limits, before.limits)
        // The orders still working are known by id, through the snapshot too, and in doubt.
        XCTAssertEqual(Set(restarted.ordersInDoubt.map(\.id)), Set(router.orders.activeOrderIDs))
        XCTAssertEqual(restarted.tradingState.mode, .reducing)
        XCTAssertEqual(restarted.freezeEvents.last?.trigger, .ordersInDoubt)
        // The venue survived the restart: a new router settles them with it.
        let second = try OrderRouter(monitor: restarted, client: router.client, orderCapacity: 256, ringCapacity: 256,
                                     logger: quietLogger())
        let settled = try second.reconcile()
        XCTAssertEqual(Set(settled.adopted), Set(router.orders.activeOrderIDs))
        XCTAssertEqual(restarted.tradingState.mode, .active)
        XCTAssertEqual(RecoveredState(restarted).symbols, before.symbols, "nothing to release: the venue holds them all")
    }

    func testPeriodicSnapshotsWhileTradingRecoverExactlyAndPrune() throws {
        let dir = try makeTemporaryDirectory()
        var options = journalOptions()
        options.snapshotEveryRecords = 2_000
        options.segmentBytes = 64 * 1024
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: options, logger: quietLogger())
        let ids = try ["BTCUSDT", "ETHUSDT"].map { try monitor.register(symbol: $0) }
        let runtime = try RedlineRuntime(monitor: monitor, configuration: .init(cpu: RedlineRuntime.cpuCount - 1),
                                         logger: quietLogger())
        let router = try OrderRouter(monitor: monitor, client: SimulatedExchange(.init(seed: 4, fillRatio: 0.5)),
                                     orderCapacity: 1024, ringCapacity: 4096, logger: quietLogger())
        try runtime.start()
        for i in 0..<20_000 {
            try router.placeAndSettle(symbol: ids[i % 2], side: (i / 2) % 2 == 0 ? .buy : .sell, qty: 0.001, price: 1_000)
        }
        try runtime.stop()
        try journal.flush()
        // Snapshots are written by their own thread: let the last one finish.
        let deadline = ContinuousClock.now + .seconds(10)
        while journal.stats.snapshots == 0 && ContinuousClock.now < deadline { usleep(1_000) }
        let stats = journal.stats
        XCTAssertGreaterThan(stats.snapshots, 0, "the writer snapshotted while trading went on")
        let state = RecoveredState(monitor)
        journal.close()
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
        XCTAssertEqual(files.filter { $0.hasPrefix("snapshot-") }.count, 1, "older snapshots were pruned")
        XCTAssertLessThan(UInt64(files.filter { $0.hasPrefix("segment-") }.count), stats.segments_created,
                          "segments the snapshot covers were removed")

        let restarted = try freshMonitor()
        let (again, report) = try Journal.open(directory: dir, monitor: restarted, options: options, logger: quietLogger())
        XCTAssertGreaterThanOrEqual(report.snapshotSequence ?? 0, stats.last_snapshot_seq, "recovery starts from the newest snapshot")
        XCTAssertEqual(RecoveredState(restarted), state)
        again.close()
    }

    /// A writer whose only syncs are segment rotations (tiny segments, no timer,
    /// no record count) still snapshots: a due snapshot forces the sync it needs.
    /// Before, such a writer (a slow disk in CI did it) never snapshotted at all.
    func testASnapshotIsTakenEvenWhenOnlySegmentRotationsSync() throws {
        let dir = try makeTemporaryDirectory()
        var options = journalOptions()
        options.snapshotEveryRecords = 1_000
        options.segmentBytes = 4 * 1024
        options.syncEveryRecords = 1 << 30
        options.syncEveryMicroseconds = 60_000_000
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: options, logger: quietLogger())
        defer { journal.close() }
        _ = try monitor.register(symbol: "BTCUSDT")
        for i in 0..<10_000 {
            try monitor.markPrice(symbol: "BTCUSDT", price: 1_000 + Double(i % 7))
        }
        // No flush: it would force a sync. Wait for the writer to get through:
        // all 10,002 records, the newest snapshot less than 1,000 behind.
        let deadline = ContinuousClock.now + .seconds(10)
        func caughtUp() -> Bool {
            let stats = journal.stats
            return stats.next_seq == 10_003 && stats.next_seq - 1 - stats.last_snapshot_seq < 1_000
        }
        while !caughtUp() && ContinuousClock.now < deadline { usleep(1_000) }
        XCTAssertTrue(caughtUp(), "\(journal.stats)")
        // Passes take at most maxCommitRecords (4,096): at least two reached 1,000.
        XCTAssertGreaterThanOrEqual(journal.stats.snapshots, 2, "\(journal.stats)")
        XCTAssertEqual(journal.stats.snapshot_error, 0)
    }

    func testWithoutIOUringAutoFallsBackWithAWarningAndADemandFails() throws {
        setenv("REDLINE_JOURNAL_NO_IO_URING", "1", 1)
        defer { unsetenv("REDLINE_JOURNAL_NO_IO_URING") }
        let dir = try makeTemporaryDirectory()
        XCTAssertThrowsRedline(.journalIOUringUnavailable) {
            try Journal.open(directory: dir, monitor: try freshMonitor(), options: journalOptions(.ioUring), logger: quietLogger())
        }
        let monitor = try freshMonitor()
        let (journal, report) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(.auto),
                                                 logger: quietLogger())
        XCTAssertEqual(report.ioMode, .pwrite)
        let metrics = parsePrometheus(monitor.prometheusText())
        XCTAssertEqual(metrics["journal_io_uring_fallbacks_total"], 1)
        XCTAssertEqual(metrics["journal_io_uring"], 0)
        try monitor.register(symbol: "BTCUSDT")
        try monitor.updatePosition(symbol: "BTCUSDT", qty: 1, price: 100)
        try journal.flush()
        let state = RecoveredState(monitor)
        journal.close()
        let again = try freshMonitor()
        let (reopened, _) = try Journal.open(directory: dir, monitor: again, logger: quietLogger())
        XCTAssertEqual(RecoveredState(again), state, "the fallback's journal reads back the same")
        reopened.close()
    }

    func testASecondEngineOnTheSameDirectoryIsRefused() throws {
        let dir = try makeTemporaryDirectory()
        let (journal, _) = try Journal.open(directory: dir, monitor: try freshMonitor(), logger: quietLogger())
        XCTAssertThrowsRedline(.journalLocked(directory: dir)) {
            try Journal.open(directory: dir, monitor: try freshMonitor(), logger: quietLogger())
        }
        journal.close()
        let (reopened, _) = try Journal.open(directory: dir, monitor: try freshMonitor(), logger: quietLogger())
        reopened.close()
    }
}
