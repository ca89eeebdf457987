import Foundation
@testable import Redline
import RedlineCore
import XCTest

/// Third adversarial review (helper-33, at fa90b58) of the unrecordable-fill
/// halt, now made on the router's own thread
/// (`rl_engine_halt_unrecordable_fill`). "Found" fails at fa90b58; the rest
/// held. The C side of this review is in Tests/C/outside_halt_cases.c
/// (unfreeze_takes_in_an_unknown_fill_request, unknown_fill_winner_descheduled,
/// unknown_fill_api).
final class UnrecordableFillReview3Tests: XCTestCase, UnknownFillFixture {
    private let px100 = Int64(100 * FixedPoint.scale)

    private func assertUnknownFillEvent(_ event: FreezeEvent?, qty: String, price: String, strategy: UInt16,
                                        file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(event?.trigger, .unrecordableFill, file: file, line: line)
        XCTAssertEqual(event?.metadata["scope"], "unknown_order", "\(event.map { "\($0.reason) \($0.metadata)" } ?? "-")",
                       file: file, line: line)
        XCTAssertEqual(event?.metadata["qty"], qty, file: file, line: line)
        XCTAssertEqual(event?.metadata["price"], price, file: file, line: line)
        XCTAssertEqual(event?.metadata["strategy"], "\(strategy)", file: file, line: line)
    }

    /// Reopens the journal in `dir` as a restart does: HALTED for the
    /// unrecordable fill of 0.004 at 40,000, with its whole detail, once.
    private func assertRestartsHaltedForTheFill(_ dir: String, strategy: UInt16,
                                                file: StaticString = #filePath, line: UInt = #line) throws {
        let (monitor, journal) = try journaled(dir)
        defer { journal.close() }
        XCTAssertEqual(monitor.tradingState.mode, .halted, file: file, line: line)
        XCTAssertEqual(monitor.tradingState.reasonCode, UInt8(RL_FREEZE_REASON_UNRECORDABLE.rawValue), file: file, line: line)
        assertUnknownFillEvent(monitor.freezeEvents.last, qty: "0.004", price: "40000.0", strategy: strategy, file: file, line: line)
        XCTAssertEqual(monitor.freezeEvents.filter { $0.trigger == .unrecordableFill }.count, 1, file: file, line: line)
    }

    // MARK: Findings

    /// Found: with a risk thread, nothing takes the halt's record in. The
    /// router's poll sees the epoch of its own halt before the risk side has
    /// recorded it (its sync finds nothing), and the risk side adopts that
    /// word as it is, so no router sees a new epoch after the record comes:
    /// the orchestrator's "TRADING FROZEN" log line, its metric and its
    /// journal record of the detail (scope, quantity, price) wait for an
    /// unrelated look at the history (a metrics scrape, an operator's
    /// status). A crash meanwhile restarts HALTED with a FreezeEvent
    /// "recovered from the journal" and no scope or quantity. Through the
    /// ring (before fa90b58) the risk side published a new epoch, which every
    /// router's next poll saw and synced.
    func testWithARiskThreadTheHaltsDetailIsJournaledWhileTheRoutersPoll() throws {
        let dir = try makeTemporaryDirectory()
        let strategy: UInt16
        do {
            let (monitor, journal) = try journaled(dir)
            let (venue, router, fill) = try routerAndUnknownFill(monitor)
            strategy = router.strategyID
            venue.pending = [fill]
            router.processExchangeEvents()
            router.pollFreeze() // the strategy loop's next turn: it sees the halt and cancels
            let runtime = try RedlineRuntime(monitor: monitor, configuration: .init(idle: .backoff), logger: quietLogger())
            try runtime.start()
            let states = rl_engine_state_ring(monitor.engineHandle)
            let deadline = Date().addingTimeInterval(5)
            while rl_spsc_depth(states) == 0 && Date() < deadline {
                router.poll()
                usleep(200)
            }
            XCTAssertGreaterThan(rl_spsc_depth(states), 0, "the risk thread recorded the halt")
            for _ in 0..<100 { // 100 ms more of the strategy's loop
                router.poll()
                usleep(1_000)
            }
            XCTAssertEqual(rl_spsc_depth(states), 0, "the record waited in the risk side's ring while the router polled for 100 ms")
            // A crash: the journal is synced and closed; the process ends.
            try journal.flush()
            journal.close()
            try runtime.stop()
        }
        try assertRestartsHaltedForTheFill(dir, strategy: strategy)
    }

    /// Found: without a risk thread, `monitor.drain()` takes the router's
    /// halt in (the risk side's tick, at its first step) but reports no
    /// state change when the rings are empty (`RiskSide.drain` adds a step's
    /// `state_changes` only when the step applied an event), so it does not
    /// sync: the record waits in the risk side's ring, and the detail is not
    /// journaled, until something else looks (a router's poll that sees a
    /// new epoch, a metrics scrape). A crash then restarts with "recovered
    /// from the journal", no scope, no quantity. Through the ring (before
    /// fa90b58) the halt was an event the step applied: counted, synced.
    func testADrainThatTakesTheRoutersHaltInSyncsAndJournalsIt() throws {
        let dir = try makeTemporaryDirectory()
        let strategy: UInt16
        do {
            let (monitor, journal) = try journaled(dir)
            let (venue, router, fill) = try routerAndUnknownFill(monitor)
            strategy = router.strategyID
            venue.pending = [fill]
            router.processExchangeEvents()
            let before = rl_engine_state_change_count(monitor.engineHandle)
            let report = monitor.drain()
            XCTAssertEqual(rl_engine_state_change_count(monitor.engineHandle), before + 1, "the drain took the halt in")
            XCTAssertEqual(report.stateChanges, 1, "and says so")
            XCTAssertEqual(rl_spsc_depth(rl_engine_state_ring(monitor.engineHandle)), 0, "and synced its record")
            try journal.flush()
            journal.close()
        }
        try assertRestartsHaltedForTheFill(dir, strategy: strategy)
    }

    // MARK: Checks that hold

    /// The same without a risk thread (every poll drains): the restart comes
    /// back HALTED with the whole detail, the router's strategy included.
    func testWithoutARiskThreadARestartComesBackWithTheWholeDetail() throws {
        let dir = try makeTemporaryDirectory()
        let strategy: UInt16
        do {
            let (monitor, journal) = try journaled(dir)
            let (venue, router, fill) = try routerAndUnknownFill(monitor)
            strategy = router.strategyID
            deliver(fill, monitor, venue, router)
            try journal.flush()
            journal.close()
        }
        try assertRestartsHaltedForTheFill(dir, strategy: strategy)
    }

    /// Two routers given unknown fills before the risk side ran: the second
    /// finds the first's word (HALTED for it) and sends its ring event,
    /// which adds nothing. One FreezeEvent, the first's detail and strategy.
    func testTwoUnknownFillsBeforeTheRiskSideRanMakeOneEventWithTheFirstsDetail() throws {
        let venue = Venue(), other = Venue()
        let (monitor, router) = try plainRouter(venue)
        let second = try OrderRouter(monitor: monitor, client: other, orderCapacity: 64, ringCapacity: 256, logger: quietLogger())
        let mine = try working(router, venue)
        let theirs = try working(second, other)
        venue.pending = [.filled(stranger(mine), quantity: fp(0.004), price: px100)]
        router.processExchangeEvents()
        other.pending = [.filled(stranger(theirs), quantity: fp(0.009), price: 2 * px100)]
        second.processExchangeEvents()
        XCTAssertThrowsRedline(.blocked(.frozen)) { try second.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100) }
        monitor.drain()
        let events = monitor.freezeEvents.filter { $0.trigger == .unrecordableFill }
        XCTAssertEqual(events.count, 1)
        assertUnknownFillEvent(events.first, qty: "0.004", price: "100.0", strategy: router.strategyID)
        XCTAssertEqual(metric(monitor, "freeze_triggered_total{reason=\"unrecordable_fill\"}") ?? 0, 1)
    }

    /// Over the kill switch (the ring fallback), with no risk thread: the
    /// router that saw the fill refuses; the operator's unfreeze of the kill
    /// switch is applied first (control ring), then the router's ring event,
    /// which halts for the book: one event each, the takeover's with the
    /// router's strategy and the fill's detail, and every router refuses.
    func testOverTheKillSwitchAnUnfreezeBeforeTheDrainEndsHaltedForTheBook() throws {
        let venue = Venue()
        let (monitor, router) = try plainRouter(venue)
        let other = try OrderRouter(monitor: monitor, client: Venue(), orderCapacity: 64, ringCapacity: 256, logger: quietLogger())
        let mine = try working(router, venue)
        XCTAssertTrue(monitor.manualFreeze(reason: "operator pause", router: router))
        router.poll()
        venue.pending = [.filled(stranger(mine), quantity: fp(0.004), price: px100)]
        router.processExchangeEvents()
        XCTAssertEqual(monitor.tradingState.reasonCode, UInt8(RL_FREEZE_REASON_MANUAL.rawValue), "the word is left")
        XCTAssertThrowsRedline(.blocked(.frozen)) { try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100) }
        XCTAssertTrue(monitor.unfreeze(reason: "end of the pause"))
        XCTAssertEqual(monitor.tradingState.mode, .halted)
        XCTAssertEqual(monitor.tradingState.reasonCode, UInt8(RL_FREEZE_REASON_UNRECORDABLE.rawValue))
        XCTAssertEqual(monitor.freezeEvents.map(\.trigger), [.manual, .unrecordableFill])
        assertUnknownFillEvent(monitor.freezeEvents.last, qty: "0.004", price: "100.0", strategy: router.strategyID)
        XCTAssertThrowsRedline(.blocked(.frozen)) { try other.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100) }
        XCTAssertThrowsRedline(.blocked(.frozen)) { try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100) }
    }

    /// An operator's unfreeze after the router's halt, before the risk side
    /// ran: the unfreeze takes the halt in first (recorded, with its detail),
    /// then lifts it. The word showed unrecordable_fill before the lift.
    func testAnUnfreezeBeforeTheRiskSideRanRecordsTheHaltBeforeLiftingIt() throws {
        let venue = Venue()
        let (monitor, router) = try plainRouter(venue)
        let mine = try working(router, venue)
        venue.pending = [.filled(stranger(mine), quantity: fp(0.004), price: px100)]
        router.processExchangeEvents()
        XCTAssertEqual(monitor.tradingState.reasonCode, UInt8(RL_FREEZE_REASON_UNRECORDABLE.rawValue))
        XCTAssertEqual(monitor.lift(reason: "operator reconciled"), .lifted)
        XCTAssertEqual(monitor.freezeEvents.map(\.trigger), [.unrecordableFill])
        assertUnknownFillEvent(monitor.freezeEvents.last, qty: "0.004", price: "100.0", strategy: router.strategyID)
        XCTAssertEqual(monitor.stateChanges.map(\.cause), [.unrecordableFill, .unfreeze])
        XCTAssertNoThrow(try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100))
    }

    /// REDUCING (a breach) then the unknown fill: HALTED at once (reducing
    /// orders refused too); the operator's unfreeze returns to REDUCING.
    func testAnUnknownFillWhileReducingHaltsAndTheUnfreezeReturnsToReducing() throws {
        let limits = try RiskLimits(maxInventoryUSD: 1_000, maxTotalNotional: 1e10, edgeFreezeThresholdBps: -1e6)
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
        let venue = Venue()
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 256, logger: quietLogger())
        let mine = try working(router, venue, qty: 0.001, price: 100)
        try monitor.updatePosition(symbol: "BTCUSDT", qty: 1, price: 40_000)
        monitor.drain()
        XCTAssertEqual(monitor.tradingState.mode, .reducing)
        venue.pending = [.filled(stranger(mine), quantity: fp(0.004), price: px100)]
        router.processExchangeEvents()
        XCTAssertEqual(monitor.tradingState.mode, .halted)
        XCTAssertThrowsRedline(.blocked(.frozen)) { try router.placeOrder(symbol: "BTCUSDT", side: .sell, qty: 0.01, price: 40_000) }
        monitor.drain()
        XCTAssertEqual(monitor.freezeEvents.last?.trigger, .unrecordableFill)
        XCTAssertTrue(monitor.unfreeze(reason: "operator reconciled"))
        XCTAssertEqual(monitor.tradingState.mode, .reducing, "the breach is still there")
    }

    /// An edge collapse after the router's halt adds nothing (the word is
    /// HALTED for a persistent reason already); before it, the unknown fill
    /// takes the collapse over through the ring.
    func testAnEdgeCollapseAndAnUnknownFillInEitherOrder() throws {
        for edgeFirst in [false, true] {
            let limits = try RiskLimits(maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: 10)
            let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
            let venue = Venue()
            let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 256, logger: quietLogger())
            let mine = try working(router, venue)
            if edgeFirst { try router.reportEdge(bps: 5) }
            venue.pending = [.filled(stranger(mine), quantity: fp(0.004), price: px100)]
            router.processExchangeEvents()
            if !edgeFirst { try router.reportEdge(bps: 5) }
            monitor.drain()
            XCTAssertEqual(monitor.tradingState.reasonCode, UInt8(RL_FREEZE_REASON_UNRECORDABLE.rawValue), "edge first: \(edgeFirst)")
            XCTAssertEqual(monitor.freezeEvents.map(\.trigger), edgeFirst ? [.edgeCollapse, .unrecordableFill] : [.unrecordableFill])
            assertUnknownFillEvent(monitor.freezeEvents.last, qty: "0.004", price: "100.0", strategy: router.strategyID)
        }
    }

    /// A transient halt (the breaker due to lift it) when the router halts:
    /// its word is stored over the transient one at once, and the breaker's
    /// next tick lifts nothing.
    func testTheRoutersHaltOverATransientHaltIsNotLiftedByTheBreaker() throws {
        let limits = try RiskLimits(
            maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: -1e6, heartbeatTimeoutMilliseconds: 100,
            circuitBreaker: CircuitBreakerSettings(cooldownSeconds: 1, maxCooldownSeconds: 4, windowSeconds: 60, escalateAfter: 4))
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], manualClock: true, logger: quietLogger())
        let venue = Venue()
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 256, logger: quietLogger())
        try monitor.setClock(nanoseconds: 1_000_000_000)
        monitor.heartbeat()
        monitor.drain()
        let mine = try working(router, venue)
        try monitor.setClock(nanoseconds: 1_200_000_000)
        monitor.drain()
        router.poll()
        XCTAssertEqual(monitor.freezeEvents.last?.trigger, .heartbeatLost)
        // The cooldown has run and the heartbeat is back: the breaker would lift at the next step.
        try monitor.setClock(nanoseconds: 5_000_000_000)
        monitor.heartbeat()
        venue.pending = [.filled(stranger(mine), quantity: fp(0.004), price: px100)]
        router.processExchangeEvents()
        XCTAssertEqual(monitor.tradingState.reasonCode, UInt8(RL_FREEZE_REASON_UNRECORDABLE.rawValue))
        monitor.drain()
        try monitor.setClock(nanoseconds: 20_000_000_000)
        monitor.heartbeat()
        monitor.drain()
        XCTAssertEqual(monitor.tradingState.mode, .halted)
        XCTAssertEqual(monitor.freezeEvents.last?.trigger, .unrecordableFill)
        XCTAssertEqual(monitor.freezeEvents.filter { $0.trigger == .unrecordableFill }.count, 1)
    }

    /// Found (minor; C case unknown_fill_winner_descheduled): a record with
    /// no quantity (the halting router descheduled before its detail, or a C
    /// caller's `RL_CONTROL_UNRECORDABLE_FILL` without one) said "a fill of
    /// 0.0 at 0.0". It now says the size is unknown and where it is.
    func testAnUnknownFillsHaltWithoutItsDetailSaysItsSizeIsUnknown() throws {
        let limits = try RiskLimits(maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: -1e6)
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
        XCTAssertEqual(rl_engine_apply_control(monitor.engineHandle, RL_CONTROL_UNRECORDABLE_FILL, RL_SYMBOL_NONE, 0, 0), 0)
        _ = monitor.syncFreezeEvents()
        let event = try XCTUnwrap(monitor.freezeEvents.last)
        XCTAssertEqual(event.trigger, .unrecordableFill)
        XCTAssertEqual(event.metadata["scope"], "unknown_order")
        XCTAssertEqual(event.metadata["qty"], "unknown")
        XCTAssertEqual(event.metadata["price"], "unknown")
        XCTAssertTrue(event.reason.contains("in the log of the router"), event.reason)
    }
}
