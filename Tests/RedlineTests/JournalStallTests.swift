import Foundation
import Logging
import Redline
import RedlineCore
import Synchronization
import XCTest

/// An ext4 filesystem on a loop device of its own, made and mounted by the
/// test, that the test can freeze (`fsfreeze`): every write and sync into it
/// then waits in the kernel, as on a device that stopped completing. tmpfs
/// cannot be frozen. Needs root (CI runs as root); elsewhere the tests skip.
final class FreezableFilesystem {
    let path: String
    private let image: String
    private var frozen = false

    init(megabytes: Int) throws {
        let base = try makeTemporaryDirectory()
        image = base + "/disk.img"
        path = base + "/mnt"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: image, contents: nil),
              truncate(image, off_t(megabytes) << 20) == 0,
              Self.run(["mkfs.ext4", "-q", "-F", image]) == 0 else {
            throw XCTSkip("mkfs.ext4 could not make a filesystem image here: stall tests skipped")
        }
        guard Self.run(["mount", "-o", "loop", image, path]) == 0 else {
            throw XCTSkip("mounting a loop device is not permitted here (not root?): stall tests skipped")
        }
    }

    /// Every write and sync into the filesystem waits from now on.
    func freeze() {
        XCTAssertEqual(Self.run(["fsfreeze", "-f", path]), 0, "fsfreeze -f")
        frozen = true
    }

    func thaw() {
        guard frozen else { return }
        XCTAssertEqual(Self.run(["fsfreeze", "-u", path]), 0, "fsfreeze -u")
        frozen = false
    }

    deinit {
        if frozen { _ = Self.run(["fsfreeze", "-u", path]) }
        _ = Self.run(["umount", "-l", path])
        try? FileManager.default.removeItem(atPath: image)
    }

    @discardableResult
    static func run(_ arguments: [String]) -> Int32 {
        SmallFilesystem.run("/usr/bin/env", ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"] + arguments)
    }
}

/// A simulated venue whose mass cancels, and what rests after each, another
/// thread can read while the router's thread trades.
final class MassCancelWatchingVenue: ExchangeClient, @unchecked Sendable {
    let venue: SimulatedExchange
    let massCancels = Atomic<Int>(0)
    let restingAfterLastMassCancel = Atomic<Int>(-1)

    init(_ venue: SimulatedExchange) { self.venue = venue }

    func submit(_ order: ExchangeOrder) throws(ExchangeError) { try venue.submit(order) }
    func cancel(_ id: OrderID) throws(ExchangeError) { try venue.cancel(id) }
    func pollEvents(_ body: (ExchangeEvent) -> Void) { venue.pollEvents(body) }
    func massCancel() throws(ExchangeError) {
        try venue.massCancel()
        // relaxed: read by the test after the count below.
        restingAfterLastMassCancel.store(venue.restingCount, ordering: .relaxed)
        // releasing: pairs with the test thread's acquiring load, which then sees the resting count above.
        massCancels.add(1, ordering: .releasing)
    }
}

/// The messages of critical lines, for a test to look for from another thread.
final class CriticalLineBox: Sendable {
    let lines = Mutex<[String]>([])
    func contains(_ text: String) -> Bool { lines.withLock { $0.contains { $0.contains(text) } } }
}

struct CriticalLines: LogHandler {
    let box: CriticalLineBox
    var logLevel: Logger.Level = .critical
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        box.lines.withLock { $0.append("\(event.message)") }
    }
}

final class JournalStallTests: XCTestCase {
    /// A device that stops completing holds the risk side on purpose: it
    /// waits rather than apply what it cannot record, so the routers' rings
    /// fill and a router waits in its push. Once the stall passes its bound
    /// trading halts (journal_failure, ETIMEDOUT), and a router that cannot
    /// push cannot run its cancel-all. Its orders must not work at the venue
    /// for as long as the device stalls: the waiting router sends the venue's
    /// mass cancel from the wait, and its cancel-all proper follows once the
    /// device is back. Before, the orders rested through the whole stall.
    func testARouterStuckBehindAStalledJournalCancelsAtTheVenueWhenTradingHalts() throws {
        let disk = try FreezableFilesystem(megabytes: 64)
        var options = journalOptions()
        options.snapshotEveryRecords = 0
        options.segmentBytes = 1 << 20
        options.stallHaltMilliseconds = 300
        let critical = CriticalLineBox()
        let monitor = try RuntimeRiskMonitor(
            limits: try RiskLimits(maxInventoryUSD: 5_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 200),
            logger: Logger(label: "redline.test") { _ in CriticalLines(box: critical) })
        let directory = disk.path + "/journal"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let (journal, _) = try Journal.open(directory: directory, monitor: monitor, options: options,
                                            logger: quietLogger())
        defer { journal.close() }
        let symbol = try monitor.register(symbol: "BTCUSDT")
        try monitor.markPrice(symbol: "BTCUSDT", price: 40_000)
        let venue = MassCancelWatchingVenue(SimulatedExchange(.init(seed: 5, fillRatio: 0)))
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 256, ringCapacity: 256,
                                     logger: quietLogger())
        let runtime = try RedlineRuntime(monitor: monitor, configuration: .init(cpu: RedlineRuntime.cpuCount - 1),
                                         logger: quietLogger())
        try runtime.start()
        defer { try? runtime.stop() }
        for i in 0..<40 {
            _ = try router.placeOrder(symbol: symbol, side: i % 2 == 0 ? .buy : .sell, qty: 0.001, price: 40_000)
        }
        router.processExchangeEvents()
        XCTAssertEqual(router.activeOrderCount, 40)
        try journal.flush()

        // The router's thread reports marks (each one journaled) until it is
        // told to stop; with the device frozen, its ring fills and it waits.
        let stop = Atomic<Bool>(false)
        let marks = Atomic<Int>(0)
        let finished = Atomic<Bool>(false)
        nonisolated(unsafe) let owned = router
        let thread = Thread {
            var n = 0
            // acquiring: pairs with the test thread's releasing store of `stop`.
            while !stop.load(ordering: .acquiring) {
                try? owned.reportMark(symbol: symbol, price: 40_000 + Double(n % 64))
                n += 1
                // relaxed: a progress count the test only compares with itself.
                marks.store(n, ordering: .relaxed)
            }
            // releasing: pairs with the test thread's acquiring load before it uses the router again.
            finished.store(true, ordering: .releasing)
        }
        thread.start()
        while marks.load(ordering: .relaxed) < 1_000 { usleep(100) }

        disk.freeze()
        defer { disk.thaw() }
        // Trading halts past the stall bound, and the venue's book empties
        // while the router waits in its push (`reportMark` does not poll
        // the freeze word: only the wait can have sent the mass cancel).
        let haltDeadline = Date().addingTimeInterval(10)
        while venue.massCancels.load(ordering: .acquiring) == 0 && Date() < haltDeadline { usleep(1_000) }
        // The halt's log line does not wait for the device either: the
        // waiting router takes the history in (nothing else here does until
        // the assertions below).
        let lineDeadline = Date().addingTimeInterval(5)
        func haltLogged() -> Bool { critical.contains("TRADING FROZEN") }
        while !haltLogged() && Date() < lineDeadline { usleep(1_000) }
        XCTAssertTrue(haltLogged(), "the halt was logged while the router waited")
        XCTAssertEqual(monitor.tradingState.mode, .halted, "the stall halted trading")
        let word = rl_freeze_load(rl_engine_freeze(monitor.engineHandle))
        XCTAssertEqual(rl_freeze_word_reason(word), RL_FREEZE_REASON_JOURNAL_FAILURE)
        XCTAssertEqual(venue.massCancels.load(ordering: .acquiring), 1,
                       "the waiting router sent the venue's mass cancel once when trading halted")
        XCTAssertEqual(venue.restingAfterLastMassCancel.load(ordering: .relaxed), 0, "nothing rests at the venue")
        let halt = try XCTUnwrap(monitor.freezeEvents.last, "the halt is in the history while the router waits")
        XCTAssertEqual(halt.trigger, .journalFailure)
        let waitingAt = marks.load(ordering: .relaxed)
        usleep(200_000)
        XCTAssertEqual(marks.load(ordering: .relaxed), waitingAt, "the router is still waiting for room")
        XCTAssertEqual(venue.massCancels.load(ordering: .acquiring), 1, "once per halt, however long the wait")
        XCTAssertFalse(finished.load(ordering: .acquiring))

        // The device comes back: the router goes on, and its cancel-all
        // proper settles every order.
        disk.thaw()
        stop.store(true, ordering: .releasing)
        let doneDeadline = Date().addingTimeInterval(20)
        while !finished.load(ordering: .acquiring) && Date() < doneDeadline { usleep(1_000) }
        XCTAssertTrue(finished.load(ordering: .acquiring), "the router's thread went on once the device was back")
        XCTAssertThrowsError(try router.placeOrder(symbol: symbol, side: .buy, qty: 0.001, price: 40_000)) { error in
            XCTAssertEqual(error as? RedlineError, .blocked(.frozen))
        }
        router.processExchangeEvents()
        XCTAssertEqual(router.activeOrderCount, 0, "every order's cancel was answered")
        XCTAssertEqual(venue.venue.restingCount, 0)
        XCTAssertEqual(router.invalidExchangeEvents, 0, "the second mass cancel's answers contradict nothing")
        // The risk side takes the releases once the journal has room again.
        func working() -> Double {
            guard let state = try? monitor.position(of: "BTCUSDT") else { return -1 }
            return state.workingBuy + state.workingSell
        }
        let deadline = Date().addingTimeInterval(10)
        while working() != 0 && Date() < deadline { usleep(1_000) }
        XCTAssertEqual(working(), 0, "every reservation released")
    }
}
