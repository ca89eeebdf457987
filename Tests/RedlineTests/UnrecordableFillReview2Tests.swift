import Foundation
@testable import Redline
import RedlineCore
import XCTest

/// Second adversarial review (helper-31, at 586fab7) of the unrecordable-fill
/// halt: the router's refusal window, the takeover of persistent halts, and
/// the registry of orders settled at restart. "Found" failed at 586fab7 and
/// is fixed; "Limit" is documented behaviour (README, Limits); the rest held.
final class UnrecordableFillReview2Tests: XCTestCase, UnknownFillFixture {
    typealias Account = UnrecordableFillReviewTests.Account

    private let px100 = Int64(100 * FixedPoint.scale)

    private func position(_ monitor: RuntimeRiskMonitor) -> Double { monitor.position(of: "BTCUSDT")?.quantity ?? .nan }

    private func lastHalt(_ monitor: RuntimeRiskMonitor) -> String {
        monitor.freezeEvents.last.map { "\($0.trigger) \($0.metadata)" } ?? "-"
    }

    /// A journaled session that places a buy of 0.01, takes a fill of
    /// `filled` of it (with its running total), and crashes; the venue then
    /// says the order ended (`state`) having executed `executedAtVenue`.
    /// The restarted monitor (its journal closed by the caller), a router on
    /// the account, reconciled, and the order.
    private func restartAfterAFill(_ dir: String, filled: Double, state: VenueOrderStatus.State, executedAtVenue: Double)
        throws -> (RuntimeRiskMonitor, Journal, Venue, OrderRouter, OrderID) {
        let account = Account()
        let placed: OrderID = try crashAfterSession(journaling: dir, venue: Venue(account)) { monitor, router in
            let venue = router.client as! Venue
            let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
            venue.pending = [.acknowledged(id), .filled(id, quantity: fp(filled), price: px40k, cumulative: fp(filled))]
            router.poll()
            monitor.drain()
            return id
        }
        account.open[placed] = nil
        account.statuses[placed] = VenueOrderStatus(id: placed, state: state, quantity: fp(0.01), filledQuantity: fp(executedAtVenue))
        let (monitor, journal) = try journaled(dir)
        let client = Venue(account)
        let router = try OrderRouter(monitor: monitor, client: client, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        try router.reconcile()
        monitor.drain()
        return (monitor, journal, client, router, placed)
    }

    // MARK: The refusal window

    /// The router that saw the unknown fill goes away before the risk side
    /// drained its ring: the halt request still lands.
    func testTheHaltLandsWhenTheRouterThatSawItIsGoneBeforeTheDrain() throws {
        let limits = try RiskLimits(maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: -1e6)
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
        do {
            let venue = Venue()
            let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 256, logger: quietLogger())
            let mine = try working(router, venue)
            venue.pending = [.filled(stranger(mine), quantity: fp(0.004), price: px100)]
            router.processExchangeEvents()
            XCTAssertEqual(router.invalidExchangeEvents, 1)
        }
        monitor.drain()
        _ = monitor.syncFreezeEvents()
        XCTAssertEqual(monitor.tradingState.mode, .halted)
        XCTAssertEqual(monitor.freezeEvents.last?.trigger, .unrecordableFill)
    }

    /// Strict durability: refused at once (the router's own halt, before
    /// any drain), the record with its detail at the drain, and trading
    /// again once an operator lifts it. (helper-33's review had the first
    /// two as a test of their own.)
    func testStrictDurabilityRouterAfterAnUnknownFill() throws {
        let dir = try makeTemporaryDirectory()
        let (monitor, journal) = try journaled(dir)
        defer { journal.close() }
        let (venue, router, fill) = try routerAndUnknownFill(monitor, durability: .durableBeforeSubmit)
        venue.pending = [fill]
        router.processExchangeEvents()
        XCTAssertThrowsRedline(.blocked(.frozen)) { try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000) }
        monitor.drain()
        let event = monitor.freezeEvents.last
        XCTAssertEqual(event?.trigger, .unrecordableFill)
        XCTAssertEqual(event?.metadata["scope"], "unknown_order")
        XCTAssertEqual(event?.metadata["qty"], "0.004")
        XCTAssertEqual(event?.metadata["price"], "40000.0")
        XCTAssertEqual(event?.metadata["strategy"], "\(router.strategyID)")
        XCTAssertThrowsError(try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000))
        XCTAssertEqual(monitor.tradingState.mode, .halted)
        XCTAssertTrue(monitor.unfreeze(reason: "operator reconciled"))
        monitor.drain()
        XCTAssertNoThrow(try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000))
    }

    // MARK: The takeover of a persistent halt

    /// Manual halt, then an unknown fill takes it over; a restart comes back
    /// HALTED, reason unrecordable, with both events.
    func testARestartAfterManualThenUnrecordableComesBackHaltedWithBoth() throws {
        let dir = try makeTemporaryDirectory()
        do {
            let (monitor, journal) = try journaled(dir)
            let venue = Venue()
            let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
            let mine = try working(router, venue, price: 40_000)
            XCTAssertTrue(monitor.manualFreeze(reason: "operator pause", router: router))
            monitor.drain()
            router.poll()
            deliver(.filled(stranger(mine), quantity: fp(0.004), price: px40k), monitor, venue, router)
            XCTAssertEqual(monitor.freezeEvents.suffix(2).map(\.trigger), [.manual, .unrecordableFill])
            try journal.flush()
            journal.close()
        }
        let (monitor, journal) = try journaled(dir)
        defer { journal.close() }
        XCTAssertEqual(monitor.tradingState.mode, .halted)
        XCTAssertEqual(monitor.tradingState.reasonCode, UInt8(RL_FREEZE_REASON_UNRECORDABLE.rawValue))
        XCTAssertEqual(monitor.freezeEvents.suffix(2).map(\.trigger), [.manual, .unrecordableFill])
        XCTAssertFalse(monitor.unfreeze(reason: "breaker", byCircuitBreaker: true))
    }

    /// A drawdown halt, then an unknown fill takes it over. The operator who
    /// lifts the book-unknown halt has not accepted the drawdown: it halts
    /// again at once (drawdown), and only a second unfreeze accepts the loss.
    func testLiftingTheUnrecordableHaltOverADrawdownHaltsAgainForTheDrawdown() throws {
        let limits = try RiskLimits(maxInventoryUSD: 1_000_000, maxTotalNotional: 5_000_000, edgeFreezeThresholdBps: -1e6,
                                    maxDrawdownUSD: 1_000)
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], manualClock: true, logger: quietLogger())
        try monitor.setClock(nanoseconds: 1_000_000_000)
        let venue = Venue()
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 256, logger: quietLogger())
        try monitor.updatePosition(symbol: "BTCUSDT", qty: 1, price: 40_000)
        try monitor.markPrice(symbol: "BTCUSDT", price: 45_000)
        let mine = try working(router, venue)
        try monitor.markPrice(symbol: "BTCUSDT", price: 43_900)
        monitor.drain()
        router.poll()
        XCTAssertEqual(monitor.freezeEvents.last?.trigger, .drawdown)
        deliver(.filled(stranger(mine), quantity: fp(0.004), price: px100), monitor, venue, router)
        XCTAssertEqual(monitor.freezeEvents.last?.trigger, .unrecordableFill)
        XCTAssertTrue(monitor.unfreeze(reason: "operator reconciled the book"))
        monitor.drain()
        XCTAssertTrue(monitor.isFrozen, "the drawdown nobody accepted: \(lastHalt(monitor))")
        XCTAssertEqual(monitor.freezeEvents.last?.trigger, .drawdown)
        XCTAssertTrue(monitor.unfreeze(reason: "operator accepts the loss"))
        monitor.drain()
        XCTAssertFalse(monitor.isFrozen)
    }

    // MARK: Fills the venue sends again after a restart

    /// Limit, fail closed. An order filled in full and journaled before the
    /// crash is not in doubt at the restart, so nothing records what the
    /// venue executed of it: a fill the venue sends for it after the restart
    /// cannot be told from a new one, and halts trading. (A venue adapter
    /// drops the venue's possible resends of orders it never handed over.)
    func testAResendOfAFillJournaledBeforeTheCrashHaltsFailClosed() throws {
        let (monitor, journal, client, router, placed) = try restartAfterAFill(
            try makeTemporaryDirectory(), filled: 0.01, state: .filled, executedAtVenue: 0.01)
        defer { journal.close() }
        XCTAssertEqual(position(monitor), 0.01, accuracy: 1e-9)
        deliver(.filled(placed, quantity: fp(0.01), price: px40k, cumulative: fp(0.01)), monitor, client, router)
        XCTAssertEqual(position(monitor), 0.01, accuracy: 1e-9, "nothing moved")
        XCTAssertEqual(monitor.tradingState.mode, .halted)
        XCTAssertEqual(monitor.freezeEvents.last?.trigger, .unrecordableFill)
    }

    /// Found: a fill journaled before the crash (0.004) and a venue status
    /// that counts less (0.003, stale). The registry recorded 0.003, and the
    /// venue's resend of the journaled fill (running total 0.004) moved the
    /// position again by 0.001. It records what was counted, where more.
    func testAResendOfAJournaledFillAgainstAStaleStatusIsNotCountedTwice() throws {
        let (monitor, journal, client, router, placed) = try restartAfterAFill(
            try makeTemporaryDirectory(), filled: 0.004, state: .canceled, executedAtVenue: 0.003)
        defer { journal.close() }
        XCTAssertEqual(position(monitor), 0.004, accuracy: 1e-9)
        deliver(.filled(placed, quantity: fp(0.004), price: px40k, cumulative: fp(0.004)), monitor, client, router)
        XCTAssertEqual(position(monitor), 0.004, accuracy: 1e-9, "the journaled fill counted twice")
        deliver(.filled(placed, quantity: fp(0.001), price: px40k, cumulative: fp(0.005)), monitor, client, router)
        XCTAssertEqual(position(monitor), 0.005, accuracy: 1e-9, "what traded beyond it still moves the position")
        XCTAssertEqual(monitor.tradingState.mode, .active)
    }

    /// Two routers count fills of one settled order at once: each new part
    /// is counted once.
    func testTwoRoutersCountingFillsOfOneSettledOrderConcurrently() throws {
        let dir = try makeTemporaryDirectory()
        let account = Account()
        let placed = try crashWithOneOrder(dir, Venue(account))
        Venue(account).end(placed, .canceled, filled: fp(0.002))
        let (monitor, journal) = try journaled(dir)
        defer { journal.close() }
        let va = Venue(account), vb = Venue(account)
        let a = try OrderRouter(monitor: monitor, client: va, orderCapacity: 64, ringCapacity: 4096, logger: quietLogger())
        let b = try OrderRouter(monitor: monitor, client: vb, orderCapacity: 64, ringCapacity: 4096, logger: quietLogger())
        try a.reconcile()
        monitor.drain()
        XCTAssertEqual(position(monitor), 0.002, accuracy: 1e-9)
        // Running totals 0.003 ... 0.102 in steps of 0.001, each sent on both sessions.
        for step in 1...100 {
            let event = ExchangeEvent.filled(placed, quantity: fp(0.001), price: px40k, cumulative: fp(0.002 + Double(step) * 0.001))
            va.pending.append(event)
            vb.pending.append(event)
        }
        nonisolated(unsafe) let routers = [a, b]
        DispatchQueue.concurrentPerform(iterations: 2) { routers[$0].processExchangeEvents() }
        monitor.drain()
        XCTAssertEqual(position(monitor), 0.102, accuracy: 1e-9)
        XCTAssertEqual(monitor.tradingState.mode, .active)
    }
}
