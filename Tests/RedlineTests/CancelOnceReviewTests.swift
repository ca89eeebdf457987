import Foundation
import Redline
import RedlineCore
import XCTest

/// From an adversarial review of 600db06 ("a cancel-all sends no second
/// cancel to an order already pendingCancel, and a strategy halted alone
/// cancels once"): the cancel-all paths skipped an order whose cancel was on
/// its way, but the strategy's own `cancel(_:)` still sent one to such an
/// order. Each test marked "Found" failed before its fix; the others are
/// what the review checked and found to hold.
final class CancelOnceReviewTests: XCTestCase {
    typealias PendingCancelVenue = CancelAllTests.PendingCancelVenue

    private func limits() throws -> RiskLimits {
        try RiskLimits(maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: 100)
    }

    /// The venue's held acks arrive: `id` is canceled, once, and nothing stays working.
    private func assertCanceledOnceItsAckArrives(_ id: OrderID, _ monitor: RuntimeRiskMonitor, _ venue: PendingCancelVenue,
                                                 _ router: OrderRouter, line: UInt = #line) throws {
        router.poll()
        venue.releaseCancelAcks()
        router.poll()
        XCTAssertEqual(try router.order(id).status, .canceled, line: line)
        XCTAssertEqual(router.activeOrderCount, 0, line: line)
        XCTAssertEqual(router.invalidExchangeEvents, 0, line: line)
        monitor.drain()
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.workingBuy, 0, line: line)
    }

    private func setUpRouter(seed: UInt64) throws -> (RuntimeRiskMonitor, PendingCancelVenue, OrderRouter) {
        let monitor = try RuntimeRiskMonitor(limits: limits(), symbols: ["BTCUSDT"], logger: quietLogger())
        let venue = PendingCancelVenue(SimulatedExchange(.init(seed: seed, fillRatio: 0)))
        let router = try OrderRouter(monitor: monitor, client: venue, logger: quietLogger())
        return (monitor, venue, router)
    }

    /// Found. The strategy loop of `redline serve` (ServeCommand.swift:348)
    /// and the load test cancel their oldest resting order after each
    /// `placeOrder`, and `placeOrder` runs the freeze's cancel-all first
    /// (`pollFreeze`). So right after a freeze the strategy cancels an order
    /// the freeze's cancel-all already sent a cancel to: `cancel(_:)` sends a
    /// second one, the venue's "already pending" reject puts the order back
    /// to working, the first cancel's ack is then an impossible event, and
    /// the order stays active and reserved for good.
    func testAStrategysCancelOfAnOrderTheFreezeAlreadyCanceledSendsNoSecondCancel() throws {
        let (monitor, venue, router) = try setUpRouter(seed: 11)
        let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        router.poll()
        XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
        XCTAssertEqual(try XCTUnwrap(router.pollFreeze()).sent, 1)
        XCTAssertEqual(try router.order(id).status, .pendingCancel)
        // The strategy's loop: "too many resting, cancel the oldest".
        try? router.cancel(id)
        XCTAssertEqual(venue.secondCancels, 0, "the order's cancel is already on its way")
        try assertCanceledOnceItsAckArrives(id, monitor, venue, router)
    }

    /// Found. The same with no freeze: a strategy that cancels an order
    /// twice before its ack (a cancel-on-timeout, or a replace loop) sends
    /// the venue a second cancel.
    func testAStrategysSecondCancelBeforeTheAckIsNotSent() throws {
        let (monitor, venue, router) = try setUpRouter(seed: 12)
        let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        router.poll()
        try router.cancel(id)
        router.poll() // no ack yet: the venue holds it
        XCTAssertEqual(try router.order(id).status, .pendingCancel)
        try? router.cancel(id)
        XCTAssertEqual(venue.secondCancels, 0, "the order's cancel is already on its way")
        try assertCanceledOnceItsAckArrives(id, monitor, venue, router)
    }

    /// Found (the same root, through the new owed list). A second
    /// `cancel(_:)` for an order whose cancel was sent, which the venue
    /// refuses to take this time, makes the order owed: the polls then send
    /// it a second cancel, after the backoff, with nobody calling anything.
    func testAnOrderWhoseCancelWasSentIsNeverOwed() throws {
        let (monitor, venue, router) = try setUpRouter(seed: 13)
        let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        router.poll()
        try router.cancel(id)
        venue.refuse = [id]
        try? router.cancel(id)
        XCTAssertEqual(router.owedCancelCount, 0, "its cancel was sent: nothing is owed")
        venue.refuse = []
        usleep(5_000) // past the first backoff (1 ms)
        router.poll()
        router.poll()
        XCTAssertEqual(venue.secondCancels, 0)
        venue.releaseCancelAcks()
        router.poll()
        XCTAssertEqual(try router.order(id).status, .canceled)
        XCTAssertEqual(router.invalidExchangeEvents, 0)
        monitor.drain()
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.workingBuy, 0)
    }

    /// Held: A cancel the strategy owes (it could not be sent) is sent once
    /// by its own `cancel(_:)` retry, and is then no longer owed: the polls
    /// and a later freeze send nothing more.
    func testAnOwedCancelSentByTheStrategysRetryIsNotSentAgain() throws {
        let (monitor, venue, router) = try setUpRouter(seed: 14)
        let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        router.poll()
        venue.refuse = [id]
        XCTAssertThrowsError(try router.cancel(id))
        XCTAssertEqual(router.owedCancelCount, 1)
        venue.refuse = []
        try router.cancel(id)
        XCTAssertEqual(router.owedCancelCount, 0)
        XCTAssertEqual(venue.inner.cancelRequests, 1)
        usleep(5_000)
        router.poll()
        XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
        XCTAssertEqual(try XCTUnwrap(router.pollFreeze()).sent, 0)
        XCTAssertEqual(venue.secondCancels, 0)
        venue.releaseCancelAcks()
        router.poll()
        XCTAssertEqual(router.activeOrderCount, 0)
        XCTAssertEqual(router.invalidExchangeEvents, 0)
    }

    /// Held: Owed cancels across two freezes with the venue refusing: each
    /// freeze's per-order path sends only the owed ones and the new ones, the
    /// owed list holds each order once, and its count matches.
    func testOwedCancelsAcrossFreezesAreSentOnceEach() throws {
        let (monitor, venue, router) = try setUpRouter(seed: 15)
        var ids: [OrderID] = []
        for _ in 0..<4 { ids.append(try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)) }
        router.poll()
        venue.refuse = Set(ids.prefix(2))
        XCTAssertTrue(monitor.manualFreeze(reason: "one"))
        let first = try XCTUnwrap(router.pollFreeze())
        XCTAssertEqual(first.sent, 2)
        XCTAssertEqual(first.failed.count, 2)
        XCTAssertEqual(router.owedCancelCount, 2)
        XCTAssertTrue(monitor.unfreeze(reason: "over"))
        router.poll()
        XCTAssertTrue(monitor.manualFreeze(reason: "two"))
        let second = try XCTUnwrap(router.pollFreeze())
        XCTAssertEqual(second.failed.count, 2, "the owed two, once each")
        XCTAssertEqual(router.owedCancelCount, 2)
        venue.refuse = []
        usleep(5_000)
        router.poll()
        XCTAssertEqual(router.owedCancelCount, 0)
        XCTAssertEqual(venue.inner.cancelRequests, 4)
        XCTAssertEqual(venue.secondCancels, 0)
        venue.releaseCancelAcks()
        router.poll()
        XCTAssertEqual(router.activeOrderCount, 0)
        XCTAssertEqual(router.invalidExchangeEvents, 0)
    }
}

/// The strategy-alone halt (its dead-man) under the new "cancel once per
/// halt epoch, answer once nothing is owed", in the style of
/// StrategyDeadManTests (the engine's clock moved by hand).
final class StrategyHaltCancelOnceReviewTests: XCTestCase {
    private struct Setup {
        let monitor: RuntimeRiskMonitor
        let venue: CancelAllTests.PendingCancelVenue
        let silent: OrderRouter
    }

    private func haltSetup(escalateAfter: Int = 3) throws -> Setup {
        let limits = try RiskLimits(
            maxInventoryUSD: 50_000, maxTotalNotional: 200_000, edgeFreezeThresholdBps: 200,
            heartbeatTimeoutMilliseconds: 100,
            circuitBreaker: CircuitBreakerSettings(cooldownSeconds: 1, maxCooldownSeconds: 4, windowSeconds: 60,
                                                   escalateAfter: escalateAfter))
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], manualClock: true, logger: quietLogger())
        let venue = CancelAllTests.PendingCancelVenue(SimulatedExchange(.init(seed: 21, fillRatio: 0)))
        let silent = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 256,
                                     logger: quietLogger())
        try monitor.setClock(nanoseconds: 1_000_000_000)
        return Setup(monitor: monitor, venue: venue, silent: silent)
    }

    private func at(_ s: Setup, _ seconds: Double, beating: Bool) throws {
        try s.monitor.setClock(nanoseconds: UInt64((seconds * 1e9).rounded()))
        if beating { s.silent.heartbeat() }
        _ = s.monitor.drain()
        _ = s.silent.poll()
    }

    private func place(_ s: Setup) throws -> OrderID {
        try s.silent.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
    }

    /// Held: A global freeze while the strategy is halted alone and owes a
    /// cancel: the freeze's cancel-all sends the owed one (once) and nothing
    /// to the orders whose cancel is on its way; the halt is answered after,
    /// and lifts once the heartbeat is back.
    func testAGlobalFreezeDuringAStrategyHaltSendsTheOwedCancelOnceAndTheHaltIsAnsweredAfter() throws {
        let s = try haltSetup()
        try at(s, 1.0, beating: true)
        let refused = try place(s)
        _ = try place(s)
        try at(s, 1.05, beating: false)
        s.venue.refuse = [refused]
        try at(s, 1.15, beating: false)
        XCTAssertTrue(s.monitor.isStrategyHalted(s.silent.strategyID))
        XCTAssertEqual(s.silent.owedCancelCount, 1)
        XCTAssertEqual(s.venue.inner.cancelRequests, 1)
        s.venue.refuse = []
        let cancelsBefore = s.venue.inner.cancelRequests
        XCTAssertTrue(s.monitor.manualFreeze(reason: "operator"))
        let report = try XCTUnwrap(s.silent.pollFreeze())
        // The owed cancel goes once: by the freeze's cancel-all, or by the
        // owed retry at the start of the same poll when its 1 ms backoff (real
        // time) has already run, as it has under ThreadSanitizer.
        XCTAssertEqual(s.venue.inner.cancelRequests - cancelsBefore, 1, "the owed cancel alone, once")
        XCTAssertLessThanOrEqual(report.sent, 1, "the owed cancel alone")
        XCTAssertEqual(s.silent.owedCancelCount, 0)
        XCTAssertEqual(s.venue.secondCancels, 0)
        s.venue.releaseCancelAcks()
        for step in 1...30 { try at(s, 1.15 + Double(step) * 0.05, beating: true) }
        XCTAssertEqual(s.silent.activeOrderCount, 0)
        XCTAssertEqual(s.silent.invalidExchangeEvents, 0)
        XCTAssertFalse(s.monitor.isStrategyHalted(s.silent.strategyID), "answered, then lifted by its breaker")
    }

    /// Held: An operator releases the halt while a cancel is still owed;
    /// the strategy goes silent again (a new halt epoch): the owed cancel
    /// goes with the new halt's cancel-all, the new order gets its cancel,
    /// and nothing gets two.
    func testANewHaltEpochWhileTheLastOnesCancelIsOwed() throws {
        let s = try haltSetup()
        try at(s, 1.0, beating: true)
        let refused = try place(s)
        _ = try place(s)
        try at(s, 1.05, beating: false)
        s.venue.refuse = [refused]
        try at(s, 1.15, beating: false)
        XCTAssertTrue(s.monitor.isStrategyHalted(s.silent.strategyID))
        XCTAssertEqual(s.silent.owedCancelCount, 1)
        XCTAssertTrue(try s.monitor.releaseStrategy(s.silent.strategyID, reason: "operator looked"))
        try at(s, 1.16, beating: true)
        XCTAssertFalse(s.monitor.isStrategyHalted(s.silent.strategyID))
        _ = try place(s)
        s.venue.refuse = []
        try at(s, 1.2, beating: false)
        try at(s, 1.3, beating: false) // silent again: a new halt
        XCTAssertTrue(s.monitor.isStrategyHalted(s.silent.strategyID))
        XCTAssertEqual(s.silent.owedCancelCount, 0)
        XCTAssertEqual(s.venue.inner.cancelRequests, 3, "each order's cancel once")
        XCTAssertEqual(s.venue.secondCancels, 0)
        s.venue.releaseCancelAcks()
        try at(s, 1.35, beating: false)
        XCTAssertEqual(s.silent.activeOrderCount, 0)
        XCTAssertEqual(s.silent.invalidExchangeEvents, 0)
    }

    /// Found (the halt flavour of `cancel(_:)`'s second cancel). A halted
    /// strategy's loop goes on cancelling its oldest order: its halt's
    /// cancel-all already sent that order's cancel, the second one's
    /// "already pending" reject puts it back to working, and it stays active
    /// and reserved after the halt lifts.
    func testAHaltedStrategysOwnCancelSendsNoSecondCancel() throws {
        let s = try haltSetup()
        try at(s, 1.0, beating: true)
        let id = try place(s)
        try at(s, 1.05, beating: false)
        try at(s, 1.15, beating: false)
        XCTAssertTrue(s.monitor.isStrategyHalted(s.silent.strategyID))
        XCTAssertEqual(try s.silent.order(id).status, .pendingCancel)
        try? s.silent.cancel(id)
        XCTAssertEqual(s.venue.secondCancels, 0)
        try at(s, 1.2, beating: true)
        s.venue.releaseCancelAcks()
        for step in 1...25 { try at(s, 1.2 + Double(step) * 0.05, beating: true) }
        XCTAssertEqual(s.silent.activeOrderCount, 0)
        XCTAssertEqual(s.silent.invalidExchangeEvents, 0)
        XCTAssertEqual(s.monitor.position(of: "BTCUSDT")?.workingBuy, 0)
    }
}
