import Foundation
import Redline
import RedlineCore
import Synchronization
import XCTest

/// The per-strategy dead-man: a strategy that misses its heartbeat is halted
/// alone (its orders refused, its router cancels them) while the others trade
/// on; its own circuit breaker lifts it once the cooldown ran and its
/// heartbeat is back, repeats escalate to a halt only an operator releases.
/// The engine's clock is moved by hand: no test sleeps.
final class StrategyDeadManTests: XCTestCase {
    private struct TwoStrategies {
        let monitor: RuntimeRiskMonitor
        let silent: OrderRouter
        let alive: OrderRouter
    }

    private func twoStrategies(escalateAfter: Int = 3, journal directory: String? = nil,
                               silentVenue: ExchangeClient? = nil) throws -> (TwoStrategies, Journal?) {
        let limits = try RiskLimits(
            maxInventoryUSD: 50_000, maxTotalNotional: 200_000, edgeFreezeThresholdBps: 200,
            heartbeatTimeoutMilliseconds: 100,
            circuitBreaker: CircuitBreakerSettings(cooldownSeconds: 1, maxCooldownSeconds: 4, windowSeconds: 60,
                                                   escalateAfter: escalateAfter))
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT", "ETHUSDT"], manualClock: true,
                                             logger: quietLogger())
        var journal: Journal?
        if let directory {
            journal = try Journal.open(directory: directory, monitor: monitor, options: journalOptions(),
                                       logger: quietLogger()).0
        }
        // One venue session each: the silent one's mass cancel must not reach the other's orders.
        let silent = try OrderRouter(monitor: monitor, client: silentVenue ?? SimulatedExchange(.init(seed: 5, fillRatio: 0)),
                                     orderCapacity: 64, ringCapacity: 256, logger: quietLogger())
        let alive = try OrderRouter(monitor: monitor, client: SimulatedExchange(.init(seed: 6, fillRatio: 0)),
                                    orderCapacity: 64, ringCapacity: 256,
                                    logger: quietLogger())
        try monitor.setClock(nanoseconds: 1_000_000_000)
        return (TwoStrategies(monitor: monitor, silent: silent, alive: alive), journal)
    }

    /// Move the clock to `seconds`; the strategies in `beating` send a heartbeat; both routers poll.
    private func at(_ s: TwoStrategies, _ seconds: Double, beating: [OrderRouter] = []) throws {
        try s.monitor.setClock(nanoseconds: UInt64((seconds * 1e9).rounded()))
        for router in beating { router.heartbeat() }
        _ = s.monitor.drain()
        _ = s.silent.poll()
        _ = s.alive.poll()
    }

    private func place(_ router: OrderRouter) throws -> OrderID {
        try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
    }

    private func metric(_ monitor: RuntimeRiskMonitor, _ name: String) -> Double? {
        parsePrometheus(monitor.prometheusText())[name]
    }

    func testASilentStrategyIsHaltedAloneItsOrdersCanceledAndTheOthersTradeOn() throws {
        let (s, _) = try twoStrategies()
        try at(s, 1.0, beating: [s.silent, s.alive])
        _ = try place(s.silent)
        _ = try place(s.silent)
        _ = try place(s.alive)
        try at(s, 1.09, beating: [s.alive])
        XCTAssertFalse(s.monitor.isStrategyHalted(s.silent.strategyID), "within the timeout")
        try at(s, 1.15, beating: [s.alive])
        XCTAssertTrue(s.monitor.isStrategyHalted(s.silent.strategyID), "no heartbeat for 150 ms")
        XCTAssertFalse(s.monitor.isStrategyHalted(s.alive.strategyID))
        XCTAssertFalse(s.monitor.isFrozen, "the engine trades on: only the silent strategy is halted")
        XCTAssertEqual(s.silent.activeOrderCount, 0, "its router canceled its orders")
        XCTAssertEqual(s.alive.activeOrderCount, 1, "the other strategy's order stays")
        XCTAssertThrowsRedline(.blocked(.strategyHalted)) { try self.place(s.silent) }
        // Reducing orders too: a halted strategy sends nothing new.
        XCTAssertThrowsRedline(.blocked(.strategyHalted)) {
            try s.silent.placeOrder(symbol: "BTCUSDT", side: .sell, qty: 0.01, price: 40_000)
        }
        XCTAssertNoThrow(try place(s.alive))
        let event = try XCTUnwrap(s.monitor.freezeEvents.last)
        XCTAssertEqual(event.trigger, .heartbeatLost)
        XCTAssertEqual(event.reasonClass, .transient)
        XCTAssertEqual(event.strategy, s.silent.strategyID)
        XCTAssertEqual(event.metadata["strategy"], "\(s.silent.strategyID)")
        XCTAssertEqual(event.metadata["scope"], "strategy")
        XCTAssertEqual(s.monitor.strategyHalts.map(\.action), [.halted])
        let simulation = s.silent.simulateOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        XCTAssertEqual(simulation.decision.blockReason, .strategyHalted)
        XCTAssertTrue(simulation.violations.contains(.strategyHalted))
        let silentLabel = "strategy=\"\(s.silent.strategyID)\""
        XCTAssertEqual(metric(s.monitor, "strategies_halted"), 1)
        XCTAssertEqual(metric(s.monitor, "freeze_triggered_total{reason=\"heartbeat_lost\"}"), 1)
        XCTAssertEqual(metric(s.monitor, "strategy_freezes_total{\(silentLabel),reason=\"heartbeat_lost\"}"), 1)
        XCTAssertEqual(metric(s.monitor, "strategy_orders_blocked_total{\(silentLabel),reason=\"strategy_halted\"}"), 2)
    }

    func testTheBreakerLiftsItOnlyOnceTheCooldownRanAndItsHeartbeatIsBack() throws {
        let (s, _) = try twoStrategies()
        try at(s, 1.0, beating: [s.silent, s.alive])
        try at(s, 1.05, beating: [s.alive])
        try at(s, 1.1, beating: [s.alive])
        try at(s, 1.15, beating: [s.alive])
        XCTAssertTrue(s.monitor.isStrategyHalted(s.silent.strategyID))
        for step in 1...21 { try at(s, 1.15 + Double(step) * 0.05, beating: [s.alive]) }
        XCTAssertTrue(s.monitor.isStrategyHalted(s.silent.strategyID), "the cooldown ran, but it is still silent")
        XCTAssertFalse(s.monitor.isStrategyHalted(s.alive.strategyID))
        try at(s, 2.25, beating: [s.silent, s.alive])
        XCTAssertFalse(s.monitor.isStrategyHalted(s.silent.strategyID), "its heartbeat is back after the cooldown")
        XCTAssertNoThrow(try place(s.silent))
        let resumed = try XCTUnwrap(s.monitor.strategyHalts.last)
        XCTAssertEqual(resumed.action, .resumed)
        XCTAssertEqual(resumed.metadata["by"], "circuit_breaker")
        XCTAssertEqual(resumed.metadata["cooldown_ms"], "1000.0")
        XCTAssertEqual(metric(s.monitor, "strategies_halted"), 0)
    }

    /// A halted strategy's cancels go once. One the venue refuses is owed
    /// and sent again with a backoff; the others are not sent again at each
    /// poll (the router re-ran its whole cancel-all at every poll until
    /// nothing failed: a second cancel's "already pending" reject put those
    /// orders back to working, their acks were then impossible events, and
    /// they stayed active and reserved). The halt is answered, and can lift,
    /// only once nothing is owed.
    func testAHaltedStrategyOwesTheCancelsItCouldNotSendAndSendsNoOtherTwice() throws {
        let venue = CancelAllTests.PendingCancelVenue(SimulatedExchange(.init(seed: 5, fillRatio: 0)))
        let (s, _) = try twoStrategies(silentVenue: venue)
        try at(s, 1.0, beating: [s.silent, s.alive])
        let refused = try place(s.silent)
        _ = try place(s.silent)
        _ = try place(s.silent)
        try at(s, 1.05, beating: [s.alive])
        venue.refuse = [refused]
        try at(s, 1.15, beating: [s.alive])
        XCTAssertTrue(s.monitor.isStrategyHalted(s.silent.strategyID))
        XCTAssertEqual(venue.inner.cancelRequests, 2)
        XCTAssertEqual(s.silent.owedCancelCount, 1)
        for step in 1...25 { try at(s, 1.15 + Double(step) * 0.05, beating: [s.silent, s.alive]) }
        XCTAssertEqual(venue.secondCancels, 0, "no order got a second cancel")
        XCTAssertEqual(venue.inner.cancelRequests, 2)
        XCTAssertTrue(s.monitor.isStrategyHalted(s.silent.strategyID), "a cancel is owed: the halt is not answered")
        venue.refuse = []
        usleep(1_100_000) // past the owed cancel's backoff (1 ms, doubling to at most 1 s)
        try at(s, 2.5, beating: [s.silent, s.alive])
        XCTAssertEqual(s.silent.owedCancelCount, 0)
        XCTAssertEqual(venue.inner.cancelRequests, 3)
        venue.releaseCancelAcks()
        try at(s, 2.55, beating: [s.silent, s.alive])
        try at(s, 2.6, beating: [s.silent, s.alive])
        XCTAssertEqual(s.silent.activeOrderCount, 0)
        XCTAssertEqual(s.silent.invalidExchangeEvents, 0)
        XCTAssertFalse(s.monitor.isStrategyHalted(s.silent.strategyID), "answered, then lifted by its breaker")
        XCTAssertEqual(s.monitor.position(of: "BTCUSDT")?.workingBuy, 0)
    }

    /// An owed cancel whose order ends meanwhile (filled at the venue) owes
    /// nothing: the halt is answered at the next poll, not after the owed
    /// cancel's backoff (it waited up to a second, the order long gone).
    func testAnOwedCancelWhoseOrderFilledNoLongerHoldsTheHaltsAnswer() throws {
        let venue = CancelAllTests.PendingCancelVenue(SimulatedExchange(.init(seed: 5, fillRatio: 0)))
        let (s, _) = try twoStrategies(silentVenue: venue)
        try at(s, 1.0, beating: [s.silent, s.alive])
        let refused = try place(s.silent)
        try at(s, 1.05, beating: [s.alive])
        venue.refuse = [refused]
        try at(s, 1.15, beating: [s.alive])
        XCTAssertEqual(s.silent.owedCancelCount, 1)
        for step in 1...3 { try at(s, 1.15 + Double(step) * 0.05, beating: [s.silent, s.alive]) }
        venue.inner.fillResting(refused, price: 40_000 * 100_000_000)
        try at(s, 1.35, beating: [s.silent, s.alive]) // the fill arrives
        XCTAssertEqual(try s.silent.order(refused).status, .filled)
        try at(s, 1.4, beating: [s.silent, s.alive]) // the halt is answered
        XCTAssertEqual(s.silent.owedCancelCount, 0)
        try at(s, 2.2, beating: [s.silent, s.alive]) // past the cooldown, no second spent waiting
        XCTAssertFalse(s.monitor.isStrategyHalted(s.silent.strategyID), "answered, then lifted by its breaker")
        XCTAssertEqual(venue.inner.cancelRequests, 0)
    }

    func testAHeartbeatBackBeforeTheCooldownWaitsForIt() throws {
        let (s, _) = try twoStrategies()
        try at(s, 1.0, beating: [s.silent])
        try at(s, 1.15)
        try at(s, 1.5, beating: [s.silent])
        XCTAssertTrue(s.monitor.isStrategyHalted(s.silent.strategyID), "1 s cooldown: not yet")
        try at(s, 2.16, beating: [s.silent])
        XCTAssertFalse(s.monitor.isStrategyHalted(s.silent.strategyID))
    }

    func testRepeatsDoubleTheCooldownThenEscalateAndOnlyAnOperatorReleasesIt() throws {
        let (s, _) = try twoStrategies(escalateAfter: 3)
        try at(s, 1.0, beating: [s.silent])
        try at(s, 1.15)                       // trip 1: 1 s
        try at(s, 2.2, beating: [s.silent])   // lifted at 2.2 (heartbeat back)
        XCTAssertFalse(s.monitor.isStrategyHalted(s.silent.strategyID))
        try at(s, 2.35)                       // silent again: trip 2, a repeat: 2 s
        XCTAssertTrue(s.monitor.isStrategyHalted(s.silent.strategyID))
        try at(s, 4.3, beating: [s.silent])
        XCTAssertTrue(s.monitor.isStrategyHalted(s.silent.strategyID), "2 s have not run")
        try at(s, 4.4, beating: [s.silent])
        XCTAssertFalse(s.monitor.isStrategyHalted(s.silent.strategyID), "lifted after the doubled cooldown")
        try at(s, 4.55)                       // trip 3: the third in a row escalates
        XCTAssertTrue(s.monitor.isStrategyHalted(s.silent.strategyID))
        XCTAssertEqual(s.monitor.strategyHalts.map(\.action),
                       [.halted, .resumed, .halted, .resumed, .halted, .escalated])
        let escalated = try XCTUnwrap(s.monitor.freezeEvents.last)
        XCTAssertEqual(escalated.trigger, .breakerEscalated)
        XCTAssertEqual(escalated.reasonClass, .persistent)
        XCTAssertEqual(escalated.strategy, s.silent.strategyID)
        try at(s, 500, beating: [s.silent])
        XCTAssertTrue(s.monitor.isStrategyHalted(s.silent.strategyID), "escalated: the breaker never lifts it")
        XCTAssertFalse(s.monitor.isFrozen)
        XCTAssertFalse(try s.monitor.releaseStrategy(s.alive.strategyID, reason: "not halted"))
        XCTAssertTrue(try s.monitor.releaseStrategy(s.silent.strategyID, reason: "operator restarted the strategy",
                                                metadata: ["operator": "alice"]))
        XCTAssertFalse(s.monitor.isStrategyHalted(s.silent.strategyID))
        let released = try XCTUnwrap(s.monitor.strategyHalts.last)
        XCTAssertEqual(released.action, .released)
        XCTAssertEqual(released.reason, "operator restarted the strategy")
        XCTAssertEqual(released.metadata["operator"], "alice")
        try at(s, 500.01)
        XCTAssertNoThrow(try place(s.silent), "released; its next timeout counts from the release")
        try at(s, 500.2)
        XCTAssertTrue(s.monitor.isStrategyHalted(s.silent.strategyID), "still silent: a new streak's first trip")
        XCTAssertEqual(s.monitor.strategyHalts.last?.action, .halted)
    }

    func testAnEngineHeartbeatAndAStrategyHeartbeatAreSeparateDeadMen() throws {
        let (s, _) = try twoStrategies()
        try at(s, 1.0, beating: [s.silent, s.alive])
        s.monitor.heartbeat()
        for step in 1...20 {
            try at(s, 1.0 + Double(step) * 0.05, beating: [s.silent, s.alive])
        }
        XCTAssertFalse(s.monitor.isStrategyHalted(s.silent.strategyID))
        XCTAssertTrue(s.monitor.isFrozen, "the engine's own heartbeat stopped: all trading halts")
        XCTAssertEqual(s.monitor.freezeEvents.last?.strategy, nil)
        XCTAssertEqual(s.monitor.freezeEvents.last?.trigger, .heartbeatLost)
    }

    func testAClosedRouterIsForgottenAndNeverHalted() throws {
        let (s, _) = try twoStrategies()
        var extra: OrderRouter? = try OrderRouter(monitor: s.monitor, client: SimulatedExchange(.init()), orderCapacity: 8,
                                                  ringCapacity: 64, logger: quietLogger())
        let id = extra!.strategyID
        try at(s, 1.0, beating: [extra!])
        extra = nil
        try at(s, 5.0)
        XCTAssertFalse(s.monitor.isStrategyHalted(id))
        XCTAssertTrue(s.monitor.strategyHalts.isEmpty, "a closed router's silence is not a halt")
    }

    func testHaltsAreJournaledAndTheHistoryComesBackAfterARestartWithNothingInForce() throws {
        let dir = try makeTemporaryDirectory()
        let (s, journal) = try twoStrategies(journal: dir)
        try at(s, 1.0, beating: [s.silent, s.alive])
        try at(s, 1.09, beating: [s.alive])
        try at(s, 1.15, beating: [s.alive])
        XCTAssertFalse(s.monitor.isStrategyHalted(s.alive.strategyID))
        XCTAssertTrue(s.monitor.isStrategyHalted(s.silent.strategyID))
        let id = s.silent.strategyID
        try journal!.flush()
        journal!.close()
        let restarted = try RuntimeRiskMonitor(limits: s.monitor.limits, manualClock: true, logger: quietLogger())
        let (again, _) = try Journal.open(directory: dir, monitor: restarted, options: journalOptions(), logger: quietLogger())
        defer { again.close() }
        XCTAssertFalse(restarted.isFrozen)
        XCTAssertFalse(restarted.isStrategyHalted(id), "the halted strategy's router belonged to the earlier process")
        let event = try XCTUnwrap(restarted.freezeEvents.last)
        XCTAssertEqual(event.trigger, .heartbeatLost)
        XCTAssertEqual(event.strategy, id)
        XCTAssertEqual(restarted.strategyHalts.map(\.action), [.halted])
    }

    func testARaceBetweenHaltAndOrdersNeverLeavesAnOrderWorkingAfterTheRouterSawTheHalt() throws {
        // The risk thread halts the silent strategy while its router places
        // orders as fast as it can: once the router has seen the halt, no
        // order of it is working and every new one is refused.
        let limits = try RiskLimits(maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: -1e6,
                                    heartbeatTimeoutMilliseconds: 1)
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], manualClock: true, logger: quietLogger())
        let router = try OrderRouter(monitor: monitor, client: SimulatedExchange(.init(seed: 9, fillRatio: 0)),
                                     orderCapacity: 4096, ringCapacity: 4096, logger: quietLogger())
        try monitor.setClock(nanoseconds: 1_000_000)
        router.heartbeat()
        _ = monitor.drain()
        let runtime = try RedlineRuntime(monitor: monitor, configuration: .init(cpu: RedlineRuntime.cpuCount - 1),
                                         logger: quietLogger())
        try runtime.start()
        defer { try? runtime.stop() }
        let firstAccepted = Atomic<Bool>(false)
        let clock = Thread {
            // Once the router is trading (bounded): a busy host may not have run it yet.
            let deadline = Date().addingTimeInterval(5)
            while !firstAccepted.load(ordering: .acquiring) && Date() < deadline { usleep(100) } // pairs with the releasing store below
            usleep(2_000)
            try? monitor.setClock(nanoseconds: 1_000_000_000)
        }
        clock.start()
        var accepted = 0, refused = 0
        for _ in 0..<200_000 {
            do {
                _ = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.001, price: 40_000)
                accepted += 1
                if accepted == 1 { firstAccepted.store(true, ordering: .releasing) } // releasing: pairs with the clock thread's acquiring load
                if router.activeOrderCount > 2_000 { router.cancelAllOrders(reason: "room") }
            } catch RedlineError.blocked(.strategyHalted) {
                refused += 1
                XCTAssertEqual(router.activeOrderCount, 0, "the router saw the halt: nothing of it is working")
                if refused > 1_000 { break }
            }
        }
        XCTAssertGreaterThan(accepted, 0)
        XCTAssertGreaterThan(refused, 0, "the halt was reached during the run")
        XCTAssertTrue(monitor.isStrategyHalted(router.strategyID))
    }

    /// RTS 6 attribution in the journal: the risk side's own record of a
    /// state change names the strategy whose event caused it, and a
    /// recovery that has only that record (not the orchestrator's detail)
    /// still names it.
    func testTheRiskSidesOwnStateRecordNamesTheStrategy() throws {
        let dir = try makeTemporaryDirectory()
        let monitor = try RuntimeRiskMonitor(limits: .default, symbols: ["BTCUSDT"], logger: quietLogger())
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        let router = try OrderRouter(monitor: monitor, client: SimulatedExchange(.init()), orderCapacity: 8,
                                     ringCapacity: 64, logger: quietLogger())
        try router.reportEdge(bps: -50)
        _ = router.poll()
        XCTAssertTrue(monitor.isFrozen)
        _ = monitor.syncFreezeEvents()
        try journal.flush()
        journal.close()
        let segments = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("segment-") }.sorted()
        var details: [String] = [], strategies: [UInt16] = []
        for name in segments {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name)"))
            for record in IndependentJournalReader.records(ofSegment: data)
            where record.type == UInt16(RL_JREC_FREEZE.rawValue) && record.payload.count > 16 {
                details.append(String(decoding: record.payload.dropFirst(16), as: UTF8.self))
                let decoded = try record.payload.withUnsafeBytes { bytes throws(RedlineError) in
                    try JournalRecord.decode(type: record.type, bytes)
                }
                if case .state(_, _, let detail) = decoded, let strategy = detail?.strategy { strategies.append(strategy) }
            }
        }
        XCTAssertTrue(details.contains("{\"strategy\":\(router.strategyID)}"), "the risk side's record: \(details)")
        XCTAssertTrue(strategies.contains(router.strategyID))
    }
}
