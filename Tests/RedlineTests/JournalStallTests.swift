import Foundation
import Logging
import Redline
import RedlineCore
import RedlineOperations
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
    let submits = Atomic<Int>(0)

    init(_ venue: SimulatedExchange) { self.venue = venue }

    func submit(_ order: ExchangeOrder) throws(ExchangeError) {
        // relaxed: read by the test after joining the router's thread.
        submits.add(1, ordering: .relaxed)
        try venue.submit(order)
    }
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

/// An engine journaling onto a filesystem the test can freeze, with a
/// pinned risk thread and a router (40 orders resting at a watched venue)
/// whose own thread reports marks, each one journaled, until told to stop:
/// once the device is frozen, the journal's ring fills, the risk side waits
/// (backpressure) and the router's thread waits in its push.
final class StalledEngineFixture {
    let disk: FreezableFilesystem
    let critical = CriticalLineBox()
    let monitor: RuntimeRiskMonitor
    let journal: Journal
    let symbol: SymbolID
    let venue = MassCancelWatchingVenue(SimulatedExchange(.init(seed: 5, fillRatio: 0)))
    let router: OrderRouter
    let runtime: RedlineRuntime
    let stop = Atomic<Bool>(false)
    let marks = Atomic<Int>(0)
    let finished = Atomic<Bool>(false)
    private var thread: Thread?

    /// `beforeStart`: makes the test's own routers (rings register when the risk thread starts).
    init(stallHaltMilliseconds: Int, beforeStart: (RuntimeRiskMonitor) throws -> Void = { _ in }) throws {
        disk = try FreezableFilesystem(megabytes: 64)
        var options = journalOptions()
        options.snapshotEveryRecords = 0
        options.segmentBytes = 1 << 20
        options.stallHaltMilliseconds = stallHaltMilliseconds
        let critical = self.critical
        monitor = try RuntimeRiskMonitor(
            limits: try RiskLimits(maxInventoryUSD: 5_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 200),
            logger: Logger(label: "redline.test") { _ in CriticalLines(box: critical) })
        let directory = disk.path + "/journal"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        (journal, _) = try Journal.open(directory: directory, monitor: monitor, options: options, logger: quietLogger())
        symbol = try monitor.register(symbol: "BTCUSDT")
        try monitor.markPrice(symbol: "BTCUSDT", price: 40_000)
        // A symbol the router never marks: a mark sent to it shows alone.
        _ = try monitor.register(symbol: "ETHUSDT")
        try monitor.markPrice(symbol: "ETHUSDT", price: 2_000)
        router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 256, ringCapacity: 256,
                                 logger: quietLogger())
        try beforeStart(monitor)
        runtime = try RedlineRuntime(monitor: monitor, configuration: .init(cpu: RedlineRuntime.cpuCount - 1),
                                     logger: quietLogger())
        try runtime.start()
        for i in 0..<40 {
            _ = try router.placeOrder(symbol: symbol, side: i % 2 == 0 ? .buy : .sell, qty: 0.001, price: 40_000)
        }
        router.processExchangeEvents()
        XCTAssertEqual(router.activeOrderCount, 40)
        try journal.flush()
    }

    /// The router's thread reports marks until `stopMarking`.
    func startMarking() {
        nonisolated(unsafe) let f = self
        let thread = Thread {
            var n = 0
            // acquiring: pairs with the test thread's releasing store of `stop`.
            while !f.stop.load(ordering: .acquiring) {
                try? f.router.reportMark(symbol: f.symbol, price: 40_000 + Double(n % 64))
                n += 1
                // relaxed: a progress count the test only compares with itself.
                f.marks.store(n, ordering: .relaxed)
            }
            // releasing: pairs with the test thread's acquiring load before it uses the router again.
            f.finished.store(true, ordering: .releasing)
        }
        self.thread = thread
        thread.start()
        while marks.load(ordering: .relaxed) < 1_000 { usleep(100) }
    }


    /// The router's thread marks, the device stops, and the router waits
    /// in its push: the risk side is held (backpressure).
    func stallWithTheRouterWaiting(file: StaticString = #filePath, line: UInt = #line) {
        startMarking()
        disk.freeze()
        XCTAssertTrue(waitUntilTheRouterWaits(), "the stall held the risk side", file: file, line: line)
    }

    /// Stop the router's thread; true once it has (the device must be back).
    func stopMarking() -> Bool {
        stop.store(true, ordering: .releasing)
        let deadline = Date().addingTimeInterval(20)
        while !finished.load(ordering: .acquiring) && Date() < deadline { usleep(1_000) }
        guard finished.load(ordering: .acquiring) else { return false }
        // The thread's block holds the fixture: let it go, or the fixture
        // (and its mounted filesystem) is never freed.
        thread = nil
        return true
    }

    /// Wait until the router's thread has not moved for 100 ms: it waits in its push.
    func waitUntilTheRouterWaits() -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let before = marks.load(ordering: .relaxed)
            usleep(100_000)
            if marks.load(ordering: .relaxed) == before { return true }
        }
        return false
    }

    /// Until the risk side has caught up with every ring (the device is back).
    func waitUntilTheRiskSideCaughtUp() {
        let deadline = Date().addingTimeInterval(20)
        func behind() -> Bool {
            router.ring.consumedCount < router.ring.pushedCount
        }
        while behind() && Date() < deadline { usleep(1_000) }
        XCTAssertFalse(behind(), "the risk side caught up once the device was back")
        XCTAssertNoThrow(try journal.flush())
    }

    var word: UInt64 { rl_freeze_load(rl_engine_freeze(monitor.engineHandle)) }

    /// BTCUSDT's working quantity (both sides) once it is 0, or after 10 s
    /// (the risk side takes the releases once the journal has room again).
    func workingOnceReleased() -> Double {
        func working() -> Double {
            guard let state = monitor.position(of: "BTCUSDT") else { return -1 }
            return state.workingBuy + state.workingSell
        }
        let deadline = Date().addingTimeInterval(10)
        while working() != 0 && Date() < deadline { usleep(1_000) }
        return working()
    }

    deinit {
        disk.thaw()
        if let thread, !finished.load(ordering: .acquiring) {
            _ = stopMarking()
            _ = thread
        }
        try? runtime.stop()
        journal.close()
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
        let f = try StalledEngineFixture(stallHaltMilliseconds: 300)
        f.startMarking()
        f.disk.freeze()
        // Trading halts past the stall bound, and the venue's book empties
        // while the router waits in its push (`reportMark` does not poll
        // the freeze word: only the wait can have sent the mass cancel).
        let haltDeadline = Date().addingTimeInterval(10)
        while f.venue.massCancels.load(ordering: .acquiring) == 0 && Date() < haltDeadline { usleep(1_000) }
        // The halt's log line does not wait for the device either: the
        // waiting router takes the history in (nothing else here does until
        // the assertions below).
        let lineDeadline = Date().addingTimeInterval(5)
        func haltLogged() -> Bool { f.critical.contains("TRADING FROZEN") }
        while !haltLogged() && Date() < lineDeadline { usleep(1_000) }
        XCTAssertTrue(haltLogged(), "the halt was logged while the router waited")
        XCTAssertEqual(f.monitor.tradingState.mode, .halted, "the stall halted trading")
        XCTAssertEqual(rl_freeze_word_reason(f.word), RL_FREEZE_REASON_JOURNAL_FAILURE)
        XCTAssertEqual(f.venue.massCancels.load(ordering: .acquiring), 1,
                       "the waiting router sent the venue's mass cancel once when trading halted")
        XCTAssertEqual(f.venue.restingAfterLastMassCancel.load(ordering: .relaxed), 0, "nothing rests at the venue")
        let halt = try XCTUnwrap(f.monitor.freezeEvents.last, "the halt is in the history while the router waits")
        XCTAssertEqual(halt.trigger, .journalFailure)
        // The mass cancel may come from a brief wait for the risk side while
        // the journal's ring (64 Ki records) still fills: on a loaded host
        // the halt, 300 ms into the stall, can come first (CI beside a model
        // check, 2026-11-28). Once the ring is full the router waits for good.
        XCTAssertTrue(f.waitUntilTheRouterWaits(), "the full journal ring holds the router")
        let waitingAt = f.marks.load(ordering: .relaxed)
        let activityBefore = f.journal.writerActivity
        usleep(200_000)
        XCTAssertEqual(f.marks.load(ordering: .relaxed), waitingAt,
                       "the router is still waiting for room (unjournaled: \(f.monitor.journalEventsNotJournaled); writer before: \(activityBefore), after: \(f.journal.writerActivity))")
        XCTAssertEqual(f.venue.massCancels.load(ordering: .acquiring), 1, "once per halt, however long the wait")
        XCTAssertFalse(f.finished.load(ordering: .acquiring))

        // The device comes back: the router goes on, and its cancel-all
        // proper settles every order.
        f.disk.thaw()
        XCTAssertTrue(f.stopMarking(), "the router's thread went on once the device was back")
        XCTAssertThrowsError(try f.router.placeOrder(symbol: f.symbol, side: .buy, qty: 0.001, price: 40_000)) { error in
            XCTAssertEqual(error as? RedlineError, .blocked(.frozen))
        }
        f.router.processExchangeEvents()
        XCTAssertEqual(f.router.activeOrderCount, 0, "every order's cancel was answered")
        XCTAssertEqual(f.venue.venue.restingCount, 0)
        XCTAssertEqual(f.router.invalidExchangeEvents, 0, "the second mass cancel's answers contradict nothing")
        XCTAssertEqual(f.workingOnceReleased(), 0, "every reservation released")
    }

    /// A strict router (`durableBeforeSubmit`) waits in `placeOrder` for
    /// the risk side and for its record. A halt in that wait (the device
    /// stalled past its bound) sends its venue's mass cancel from the wait
    /// and refuses the order at once (FROZEN): it used to wait out the stall
    /// (unbounded for the risk side, then 10 s for the record) with its
    /// orders working at the venue (helper-40).
    func testAStrictRouterWaitingThroughAStallHaltCancelsAtTheVenue() throws {
        let venueB = MassCancelWatchingVenue(SimulatedExchange(.init(seed: 6, fillRatio: 0)))
        var strict: OrderRouter?
        // 1.5 s: a strict order waits for each commit, and a fresh segment's
        // first commits on a loaded host can pass a shorter bound (halting trading).
        let f = try StalledEngineFixture(stallHaltMilliseconds: 1_500) { monitor in
            strict = try OrderRouter(monitor: monitor, client: venueB, orderCapacity: 256, ringCapacity: 256,
                                     durability: .durableBeforeSubmit, logger: quietLogger())
        }
        let routerB = try XCTUnwrap(strict)
        for i in 0..<20 {
            _ = try routerB.placeOrder(symbol: f.symbol, side: i % 2 == 0 ? .buy : .sell, qty: 0.001, price: 40_000)
        }
        routerB.processExchangeEvents()
        XCTAssertEqual(venueB.venue.restingCount, 20)
        f.startMarking()
        f.disk.freeze()
        let done = Atomic<Bool>(false)
        nonisolated(unsafe) var refusal: (any Error)?
        nonisolated(unsafe) let b = routerB
        let symbol = f.symbol
        Thread {
            do { _ = try b.placeOrder(symbol: symbol, side: .buy, qty: 0.001, price: 40_000) } catch { refusal = error }
            done.store(true, ordering: .releasing)
        }.start()
        let haltDeadline = Date().addingTimeInterval(10)
        while f.monitor.tradingState.mode != .halted && Date() < haltDeadline { usleep(1_000) }
        XCTAssertEqual(f.monitor.tradingState.mode, .halted, "the stall halted trading")
        let refusedDeadline = Date().addingTimeInterval(2)
        while !done.load(ordering: .acquiring) && Date() < refusedDeadline { usleep(1_000) }
        XCTAssertTrue(done.load(ordering: .acquiring), "the strict order still waits in a halt, the device still stalled")
        XCTAssertEqual(refusal as? RedlineError, .blocked(.frozen))
        XCTAssertGreaterThan(venueB.massCancels.load(ordering: .acquiring), 0, "the strict router's venue got its mass cancel")
        XCTAssertEqual(venueB.venue.restingCount, 0, "nothing rests at the strict router's venue during the stall")
        f.disk.thaw()
        XCTAssertTrue(f.stopMarking())
        f.waitUntilTheRiskSideCaughtUp()
        routerB.processExchangeEvents()
        f.router.pollFreeze()
        f.router.processExchangeEvents()
        XCTAssertEqual(routerB.activeOrderCount, 0)
        XCTAssertEqual(f.router.activeOrderCount, 0)
        XCTAssertEqual(f.workingOnceReleased(), 0, "every reservation released")
    }

    /// An operator's unfreeze during a stall, with the risk side held up,
    /// used to wait in the control ring (holding every later request behind
    /// it) and then apply when the device came back: trading resumed by
    /// itself, after ctl had given up (helper-37, with `redline serve`). Now
    /// it is refused within its bound and withdrawn: it never applies. So is
    /// a mark sent meanwhile, and a heartbeat does not wait at all.
    func testAnUnfreezeTheRiskSideCannotTakeIsWithdrawnAndNeverAppliesLater() throws {
        let f = try StalledEngineFixture(stallHaltMilliseconds: 300)
        f.stallWithTheRouterWaiting()
        let haltDeadline = Date().addingTimeInterval(10)
        while f.monitor.tradingState.mode != .halted && Date() < haltDeadline { usleep(1_000) }
        XCTAssertEqual(rl_freeze_word_reason(f.word), RL_FREEZE_REASON_JOURNAL_FAILURE)
        let withdrawnBefore = rl_engine_requests_withdrawn(f.monitor.engineHandle)

        let bound = Double(RuntimeRiskMonitor.requestTakeBoundSeconds)
        var started = Date()
        XCTAssertEqual(f.monitor.lift(reason: "during the stall"), .notTaken)
        XCTAssertLessThan(Date().timeIntervalSince(started), bound + 1, "refused within its bound")
        started = Date()
        XCTAssertThrowsError(try f.monitor.markPrice(symbol: "ETHUSDT", price: 2_100)) { error in
            XCTAssertTrue("\(error)".contains("withdrawn"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), bound + 1)
        started = Date()
        f.monitor.heartbeat()
        XCTAssertLessThan(Date().timeIntervalSince(started), 0.5, "a heartbeat never waits for the risk side")

        f.disk.thaw()
        XCTAssertTrue(f.stopMarking())
        f.waitUntilTheRiskSideCaughtUp()
        XCTAssertEqual(f.monitor.tradingState.mode, .halted, "the withdrawn unfreeze did not apply when the device came back")
        XCTAssertEqual(rl_freeze_word_reason(f.word), RL_FREEZE_REASON_JOURNAL_FAILURE)
        XCTAssertEqual(rl_engine_requests_withdrawn(f.monitor.engineHandle) - withdrawnBefore, 2,
                       "the unfreeze and the mark were skipped when reached")
        XCTAssertEqual(try XCTUnwrap(f.monitor.position(of: "ETHUSDT")).markPrice, 2_000, "the withdrawn mark did not apply")
        // The operator, now told the truth, unfreezes with the journal back.
        XCTAssertEqual(f.monitor.lift(reason: "the device is back"), .lifted)
    }

    /// The kill switch during a stall that has not reached its bound yet (no
    /// halt): the risk side takes nothing, and an operator's freeze must not
    /// wait for it. It halts trading at once, without the risk side.
    func testTheKillSwitchDuringAStallDoesNotWaitForTheRiskSide() throws {
        let f = try StalledEngineFixture(stallHaltMilliseconds: 60_000)
        f.stallWithTheRouterWaiting()
        XCTAssertEqual(f.monitor.tradingState.mode, .active, "no halt before the stall bound")
        let started = Date()
        XCTAssertTrue(f.monitor.manualFreeze(reason: "operator pulls the kill switch"))
        XCTAssertLessThan(Date().timeIntervalSince(started), 1, "the kill switch did not wait for the risk side")
        XCTAssertEqual(rl_freeze_word_state(f.word), RL_STATE_HALTED)
        XCTAssertEqual(rl_freeze_word_reason(f.word), RL_FREEZE_REASON_MANUAL)
        let wait = Date().addingTimeInterval(5)
        while f.venue.massCancels.load(ordering: .acquiring) == 0 && Date() < wait { usleep(1_000) }
        XCTAssertEqual(f.venue.massCancels.load(ordering: .acquiring), 1, "the waiting router canceled at the venue")

        f.disk.thaw()
        XCTAssertTrue(f.stopMarking())
        f.waitUntilTheRiskSideCaughtUp()
        XCTAssertEqual(f.monitor.tradingState.mode, .halted)
        XCTAssertEqual(f.monitor.freezeEvents.last?.trigger, .manual, "the risk side recorded the halt once it ran")
    }

    /// The kill switch waits behind nothing. Before, an operator's freeze
    /// went through the control ring after any request holding it (up to its
    /// 3 s bound while the risk side is held up), and through the control
    /// socket after every command queued before it (each up to 3 s for the
    /// risk side and 10 s for its audit record). Now the freeze word is
    /// stored first and the socket runs a freeze on a lane of its own; an
    /// unfreeze that arrived before the freeze and runs after it is refused.
    func testTheKillSwitchWaitsBehindNoHeldRequestNorQueuedCommand() throws {
        let f = try StalledEngineFixture(stallHaltMilliseconds: 60_000)
        let directory = "/tmp/rl-ks-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ops = try OperationsEndpoint.start(
            monitor: f.monitor,
            configuration: .init(metricsHost: nil, controlSocketPath: "\(directory)/ctl.sock", operators: ["alice", "bob"],
                                 requestTimeoutSeconds: 60),
            logger: quietLogger())
        defer { ops.shutdown() }
        let client = ControlClient(path: "\(directory)/ctl.sock", timeoutSeconds: 60)
        f.stallWithTheRouterWaiting()
        XCTAssertEqual(f.monitor.tradingState.mode, .active, "no halt before the stall bound")

        /// Send `request` on a thread of its own; its answer once it has one.
        final class Pending: @unchecked Sendable {
            let done = DispatchSemaphore(value: 0)
            var response: Result<ControlResponse, RedlineError>?
            init(_ client: ControlClient, _ request: ControlRequest) {
                Thread {
                    self.response = Result { () throws(RedlineError) in try client.send(request) }
                    self.done.signal()
                }.start()
            }
            func wait() throws -> ControlResponse {
                XCTAssertEqual(done.wait(timeout: .now() + 60), .success, "answered")
                return try XCTUnwrap(response).get()
            }
        }
        // alice's limit change: its request waits for the held risk side,
        // holding the control ring, and the command queue with it.
        let limits = Pending(client, .init(operatorName: "alice", command: "limits set", reason: "tighter",
                                           limits: ["maxInventoryUSD": .number(4_000)]))
        usleep(300_000)
        // alice's unfreeze (of nothing yet) waits in the command queue.
        let unfreeze = Pending(client, .init(operatorName: "alice", command: "unfreeze", reason: "back to trading"))
        usleep(300_000)
        XCTAssertEqual(limits.done.wait(timeout: .now()), .timedOut, "the limit change still holds the queue")
        // bob pulls the kill switch: trading halts at once.
        let pulled = Date()
        let freeze = Pending(client, .init(operatorName: "bob", command: "freeze", reason: "bob pulls the kill switch"))
        while rl_freeze_word_state(f.word) != RL_STATE_HALTED && Date().timeIntervalSince(pulled) < 10 { usleep(1_000) }
        XCTAssertLessThan(Date().timeIntervalSince(pulled), 1,
                          "the freeze waited behind the queued commands or the held request")
        XCTAssertEqual(rl_freeze_word_reason(f.word), RL_FREEZE_REASON_MANUAL)
        XCTAssertEqual(unfreeze.done.wait(timeout: .now()), .timedOut, "the unfreeze still waits in the queue")
        // Nor does the orchestrator's heartbeat wait for the control ring the limit change holds.
        let beat = Date()
        f.monitor.heartbeat()
        XCTAssertLessThan(Date().timeIntervalSince(beat), 0.5, "the heartbeat waited behind the held request")
        XCTAssertEqual(limits.done.wait(timeout: .now()), .timedOut, "the limit change still held the control ring")

        // The device comes back. The freeze is recorded with bob's reason, and
        // alice's unfreeze, which arrived first but runs after it, is refused.
        f.disk.thaw()
        let frozen = try freeze.wait()
        XCTAssertTrue(frozen.ok, frozen.error ?? "")
        XCTAssertEqual(frozen.changed, true)
        _ = try limits.wait()
        let refused = try unfreeze.wait()
        XCTAssertFalse(refused.ok)
        XCTAssertTrue((refused.error ?? "").contains("a freeze arrived after this unfreeze"), refused.error ?? "")
        XCTAssertTrue(f.stopMarking())
        f.waitUntilTheRiskSideCaughtUp()
        XCTAssertEqual(f.monitor.tradingState.mode, .halted, "the later freeze stands")
        let halt = try XCTUnwrap(f.monitor.freezeEvents.last)
        XCTAssertEqual(halt.trigger, .manual)
        XCTAssertEqual(halt.reason, "bob pulls the kill switch", "the record carries the operator's reason")
        XCTAssertEqual(halt.metadata["operator"], "bob")
        XCTAssertEqual(f.monitor.operatorActions.map(\.command).sorted(), ["freeze", "limits set", "unfreeze"])
    }

    /// An order checked while trading was ACTIVE whose push then waited for
    /// room behind a stalled journal, through a halt (the kill switch, and
    /// the venue's mass cancel sent from the wait), is never sent once the
    /// device is back: it is refused as frozen and its reservation
    /// released. Before, it went to the venue after the mass cancel and
    /// worked through the halt until the next poll's cancel-all.
    func testAnOrderWhosePushWaitedThroughAHaltIsNeverSent() throws {
        let f = try StalledEngineFixture(stallHaltMilliseconds: 60_000)
        let armed = Atomic<Bool>(false)
        let placing = Atomic<Bool>(false)
        let activeWhenPlaced = Atomic<Bool>(false)
        let outcome = Mutex<Result<OrderID, RedlineError>?>(nil)
        nonisolated(unsafe) let fixture = f
        let thread = Thread {
            let f = fixture
            var n = 0
            while true {
                // acquiring: pairs with the test's releasing store once the device is frozen.
                // Armed, with the ring (all but) full and the risk side taking
                // nothing for 50 ms: the stall holds it (not a moment's lag).
                // A mark goes only where there is room, so this thread never
                // waits in a mark's push.
                if armed.load(ordering: .acquiring) && f.router.ring.writable <= 1 {
                    let consumed = f.router.ring.consumedCount
                    usleep(50_000)
                    guard f.router.ring.writable <= 1 && f.router.ring.consumedCount == consumed else { continue }
                    if f.router.ring.writable == 1 { try? f.router.reportMark(symbol: f.symbol, price: 40_000) }
                    // relaxed: read after the thread has finished (releasing store below).
                    activeWhenPlaced.store(f.monitor.tradingState.mode == .active, ordering: .relaxed)
                    // releasing: pairs with the test's acquiring load; it then halts.
                    placing.store(true, ordering: .releasing)
                    let result = Result { () throws(RedlineError) -> OrderID in
                        try f.router.placeOrder(symbol: f.symbol, side: .buy, qty: 0.001, price: 40_000)
                    }
                    outcome.withLock { $0 = result }
                    break
                }
                try? f.router.reportMark(symbol: f.symbol, price: 40_000 + Double(n % 64))
                n += 1
                f.marks.store(n, ordering: .relaxed)
            }
            // releasing: pairs with the test's acquiring load before it reads what the thread wrote.
            f.finished.store(true, ordering: .releasing)
        }
        thread.start()
        while f.marks.load(ordering: .relaxed) < 1_000 { usleep(100) }
        // Armed first: the ring fills while fsfreeze runs.
        armed.store(true, ordering: .releasing)
        f.disk.freeze()
        let held = Date().addingTimeInterval(20)
        while !placing.load(ordering: .acquiring) && Date() < held { usleep(1_000) }
        XCTAssertTrue(placing.load(ordering: .acquiring), "the stall held the risk side and the order was placed")
        usleep(100_000) // its push waits
        XCTAssertTrue(outcome.withLock { $0 } == nil, "the order's push waits")
        // An operator halts trading; the waiting push sends the venue's mass cancel.
        XCTAssertTrue(f.monitor.manualFreeze(reason: "operator halts during the stall"))
        let deadline = Date().addingTimeInterval(10)
        while f.venue.massCancels.load(ordering: .acquiring) == 0 && Date() < deadline { usleep(1_000) }
        XCTAssertEqual(f.venue.massCancels.load(ordering: .acquiring), 1, "the halt's mass cancel went from the wait")
        XCTAssertTrue(outcome.withLock { $0 } == nil, "the order's push still waits")
        f.disk.thaw()
        let joined = Date().addingTimeInterval(20)
        while !f.finished.load(ordering: .acquiring) && Date() < joined { usleep(1_000) }
        XCTAssertTrue(f.finished.load(ordering: .acquiring))
        XCTAssertTrue(activeWhenPlaced.load(ordering: .relaxed), "the order was checked before the halt")
        switch outcome.withLock({ $0 }) {
        case .failure(let error)?: XCTAssertEqual(error, .blocked(.frozen))
        case .success(let id)?: XCTFail("order \(id) was sent after the halt")
        case nil: XCTFail("placeOrder did not return")
        }
        XCTAssertEqual(f.venue.submits.load(ordering: .relaxed), 40, "only the 40 orders placed before the stall reached the venue")
        XCTAssertEqual(f.venue.venue.restingCount, 0, "nothing works at the venue through the halt")
        f.router.processExchangeEvents()
        XCTAssertEqual(f.router.activeOrderCount, 0)
        XCTAssertEqual(f.workingOnceReleased(), 0, "the refused order's reservation, and every other, released")
    }

    /// An unfreeze under way (in the control ring, which a stall keeps the
    /// risk side from taking) does not lift a kill switch pulled after it
    /// was sent. The risk side, when it runs, takes the pull's halt in and
    /// then reaches the unfreeze: it carries the pulls its requester had seen
    /// (`rl_engine_freeze_requests`), and a later one makes it stand down
    /// (`haltLandedMeanwhile`). Before, it lifted the newer halt (helper-39).
    func testAnUnfreezeUnderWayDoesNotLiftALaterKillSwitch() throws {
        let f = try StalledEngineFixture(stallHaltMilliseconds: 60_000)
        f.stallWithTheRouterWaiting()
        let outcome = Mutex<RuntimeRiskMonitor.LiftOutcome?>(nil)
        let done = DispatchSemaphore(value: 0)
        let monitor = f.monitor
        Thread {
            let lifted = monitor.lift(reason: "alice lifts")
            outcome.withLock { $0 = lifted }
            done.signal()
        }.start()
        usleep(300_000) // the unfreeze waits in the control ring
        XCTAssertTrue(f.monitor.manualFreeze(reason: "bob pulls the kill switch"))
        f.disk.thaw() // within the unfreeze's bound: the risk side takes it now
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(outcome.withLock { $0 }, .haltLandedMeanwhile, "the unfreeze lifted the later kill switch")
        XCTAssertTrue(f.stopMarking())
        f.waitUntilTheRiskSideCaughtUp()
        XCTAssertEqual(f.monitor.tradingState.mode, .halted, "bob's halt stands")
        XCTAssertEqual(f.monitor.freezeEvents.last?.reason, "bob pulls the kill switch")
    }
}
