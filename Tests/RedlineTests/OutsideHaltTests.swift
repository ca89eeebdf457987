import Foundation
import Redline
import RedlineCore
import XCTest

/// A halt made on the thread that sees the cause (`rl_engine_halt_now`):
/// a strategy's edge collapse, or the kill switch. Trading is halted when
/// the call returns; the risk side takes the halt in at its next step and
/// records it once. The races are in Tests/C/outside_halt.c and the
/// protocol's model in CSources/RedlineCore/model/halt.pml.
final class OutsideHaltTests: XCTestCase {
    func testAnEdgeCollapseHaltsBeforeReportEdgeReturns() throws {
        let h = try Harness(exchange: .init(seed: 3, fillRatio: 0))
        _ = try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        let before = h.monitor.tradingState
        try h.router.reportEdge(bps: 150) // the threshold is 200
        // Nothing has drained the ring: no risk side has run.
        XCTAssertTrue(h.monitor.isFrozen, "halted by the strategy's own thread")
        let word = h.monitor.tradingState
        XCTAssertEqual(word.mode, .halted)
        XCTAssertEqual(word.epoch, before.epoch + 1)
        XCTAssertThrowsRedline(.blocked(.frozen), "a raising order, refused before any poll") {
            try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        }
        XCTAssertThrowsRedline(.blocked(.frozen), "a reducing one too: HALTED blocks everything") {
            try h.router.placeOrder(symbol: "BTCUSDT", side: .sell, qty: 0.005, price: 40_000)
        }
        _ = h.router.poll() // drains: the risk side takes the halt in and records it
        _ = h.router.poll()
        XCTAssertEqual(h.router.activeOrderCount, 0, "the router canceled its orders")
        XCTAssertEqual(h.monitor.tradingState.epoch, word.epoch, "taken in as it showed: no second epoch, no second cancel-all")
        let events = h.monitor.freezeEvents
        XCTAssertEqual(events.count, 1, "one halt, recorded once (the edge report that follows changes nothing)")
        let event = try XCTUnwrap(events.last)
        XCTAssertEqual(event.trigger, .edgeCollapse)
        XCTAssertEqual(event.metadata["edge_bps"], "150.0")
        XCTAssertEqual(event.metadata["threshold_bps"], "200.0")
        XCTAssertTrue(h.monitor.unfreeze(reason: "operator checked"))
        XCTAssertFalse(h.monitor.isFrozen)
        XCTAssertNoThrow(try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000))
    }

    /// The operator who saw the halt lifts it before the risk side has read
    /// the report that caused it: the report must not halt again.
    func testAnUnfreezeBeforeTheRiskSideReadsTheReportHolds() throws {
        let h = try Harness(exchange: .init(seed: 3, fillRatio: 0))
        try h.router.reportEdge(bps: 150)
        XCTAssertTrue(h.monitor.isFrozen)
        XCTAssertTrue(h.monitor.unfreeze(reason: "operator saw it and lifted it"))
        _ = h.router.poll() // the report is read by now, whatever the order
        _ = h.router.poll()
        XCTAssertFalse(h.monitor.isFrozen, "the report that caused the lifted halt does not halt again")
        XCTAssertEqual(h.monitor.freezeEvents.count, 1)
        try h.router.reportEdge(bps: 150) // a new collapse does
        XCTAssertTrue(h.monitor.isFrozen)
    }

    /// What an unfreeze says it did. A halt landing while the lift is
    /// published (`.haltLandedMeanwhile`, -ECANCELED from the risk side) is
    /// forced by Tests/C/outside_halt_cases.c case 6, which needs its hooks.
    func testALiftSaysWhetherItLifted() throws {
        let h = try Harness(exchange: .init(seed: 3, fillRatio: 0))
        XCTAssertEqual(h.monitor.lift(reason: "nothing to lift"), .nothingToLift)
        XCTAssertTrue(h.monitor.manualFreeze(reason: "kill switch"))
        XCTAssertFalse(h.monitor.manualFreeze(reason: "again"), "already halted")
        XCTAssertEqual(h.monitor.lift(reason: "manual: the breaker may not", byCircuitBreaker: true), .nothingToLift)
        XCTAssertTrue(h.monitor.isFrozen)
        XCTAssertEqual(h.monitor.lift(reason: "operator checked"), .lifted)
        XCTAssertFalse(h.monitor.isFrozen)
        XCTAssertFalse(h.monitor.unfreeze(reason: "twice"))
    }

    /// Found by an adversarial review: while trading is halted for a
    /// transient reason whose cooldown has run, a collapse reported before
    /// the risk side's next step must not be lifted by the breaker.
    func testACollapseReportedDuringATransientHaltIsNotLiftedByTheBreaker() throws {
        let limits = try RiskLimits(
            maxInventoryUSD: 5_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 200,
            heartbeatTimeoutMilliseconds: 100,
            circuitBreaker: CircuitBreakerSettings(cooldownSeconds: 1, maxCooldownSeconds: 4, windowSeconds: 60,
                                                   escalateAfter: 4))
        let h = try Harness(limits: limits, exchange: .init(seed: 3, fillRatio: 0), manualClock: true)
        func at(_ seconds: Double, heartbeat: Bool = false) throws {
            try h.monitor.setClock(nanoseconds: UInt64((seconds * 1e9).rounded()))
            if heartbeat { h.monitor.heartbeat() }
            _ = h.monitor.drain()
            _ = h.router.poll()
        }
        try at(1.0, heartbeat: true)
        try at(1.2)
        XCTAssertEqual(h.monitor.freezeEvents.last?.trigger, .heartbeatLost)
        try at(2.15, heartbeat: true)          // the heartbeat is back; the cooldown ends at 2.2
        try h.monitor.setClock(nanoseconds: 2_200_000_000)
        let before = h.monitor.tradingState
        XCTAssertEqual(before.mode, .halted)
        try h.router.reportEdge(bps: 150)      // threshold 200
        XCTAssertTrue(h.monitor.isFrozen)
        // The word every router polls shows the collapse at once, over the
        // transient halt, before any risk step: the breaker's lift cannot
        // show ACTIVE over it, and reducing orders stop too.
        let shown = h.monitor.tradingState
        XCTAssertEqual(shown.mode, .halted)
        XCTAssertEqual(shown.reasonCode, UInt8(RL_FREEZE_REASON_EDGE_COLLAPSE.rawValue))
        XCTAssertEqual(shown.epoch, before.epoch + 1)
        _ = h.monitor.drain()                   // the risk side's next step
        let since = h.monitor.stateChanges.filter { $0.to.epoch > before.epoch }
        XCTAssertFalse(since.contains { $0.to.mode == .active },
                       "trading went ACTIVE after the collapse: \(since.map { "\($0.cause.rawValue)->\($0.to.mode.rawValue)" })")
        XCTAssertEqual(h.monitor.tradingState.mode, .halted)
        XCTAssertEqual(h.monitor.freezeEvents.last?.trigger, .edgeCollapse)
    }

    func testAnEdgeAboveTheThresholdChangesNothing() throws {
        let h = try Harness(exchange: .init(seed: 3, fillRatio: 0))
        let before = h.monitor.tradingState
        try h.router.reportEdge(bps: 200)
        _ = h.router.poll()
        XCTAssertFalse(h.monitor.isFrozen)
        XCTAssertEqual(h.monitor.tradingState.epoch, before.epoch)
        XCTAssertTrue(h.monitor.freezeEvents.isEmpty)
    }

    /// A halt made outside while the controller is in REDUCING: it shows at
    /// once, and the controller, which had its own change to make, takes it
    /// in first, so nothing it publishes hides the halt.
    func testAnOutsideHaltOverReducingIsTakenInBeforeTheControllersNextChange() throws {
        let h = try Harness(limits: try RiskLimits(maxInventoryUSD: 2_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 200),
                            exchange: .init(seed: 3, fillRatio: 1))
        _ = try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.04, price: 40_000) // $1,600, filled
        _ = h.router.poll()
        var limits = h.monitor.limits
        limits.maxInventoryUSD = 1_000
        limits.maxTotalNotional = 1_500
        try h.monitor.updateLimits(limits)
        XCTAssertEqual(h.monitor.tradingState.mode, .reducing)
        try h.router.reportEdge(bps: -50)
        XCTAssertEqual(h.monitor.tradingState.mode, .halted)
        // The controller's next change (limits back up: REDUCING would end)
        // must not hide the halt: it takes it in first, and stays HALTED.
        limits.maxInventoryUSD = 2_000
        limits.maxTotalNotional = 20_000
        try h.monitor.updateLimits(limits)
        XCTAssertEqual(h.monitor.tradingState.mode, .halted)
        XCTAssertEqual(h.monitor.freezeEvents.last?.trigger, .edgeCollapse)
        let epochs = h.monitor.stateChanges.map(\.to.epoch)
        XCTAssertEqual(epochs, Array(epochs.indices).map { UInt64($0) + epochs[0] }, "one epoch after another, no gap")
        XCTAssertTrue(h.monitor.unfreeze(reason: "operator checked"))
        XCTAssertEqual(h.monitor.tradingState.mode, .active)
    }

    func testAnOutsideHaltIsJournaledAndComesBackHalted() throws {
        let dir = try makeTemporaryDirectory()
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        _ = try monitor.register(symbol: "BTCUSDT")
        let router = try OrderRouter(monitor: monitor, client: SimulatedExchange(.init(seed: 1, fillRatio: 0)), logger: quietLogger())
        try router.reportEdge(bps: 10)
        XCTAssertTrue(monitor.isFrozen)
        _ = router.poll()
        try journal.flush()
        journal.close()
        let restarted = try freshMonitor()
        let (again, _) = try Journal.open(directory: dir, monitor: restarted, options: journalOptions(), logger: quietLogger())
        defer { again.close() }
        XCTAssertTrue(restarted.isFrozen, "a halt made outside the controller comes back halted")
        XCTAssertEqual(restarted.freezeEvents.last?.trigger, .edgeCollapse)
    }
}
