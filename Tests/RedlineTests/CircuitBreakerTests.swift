import Foundation
import Redline
import RedlineCore
import XCTest

/// Reason classes, the engine's dead-man heartbeat and the circuit breaker: a
/// transient halt lifts after a cooldown, a repeat within the window doubles
/// it up to a cap, the Nth repeat escalates to persistent, and a persistent
/// reason is never lifted by the breaker. The engine's clock is moved by hand:
/// no test sleeps.
final class CircuitBreakerTests: XCTestCase {
    private func harness(escalateAfter: Int = 4) throws -> Harness {
        let limits = try RiskLimits(
            maxInventoryUSD: 5_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 200,
            heartbeatTimeoutMilliseconds: 100,
            circuitBreaker: CircuitBreakerSettings(cooldownSeconds: 1, maxCooldownSeconds: 4, windowSeconds: 60,
                                                   escalateAfter: escalateAfter))
        let h = try Harness(limits: limits, exchange: .init(seed: 3, fillRatio: 0), manualClock: true)
        try h.monitor.setClock(nanoseconds: 1_000_000_000)
        return h
    }

    /// Move the engine's clock to `seconds` and let the risk side run once.
    private func at(_ h: Harness, _ seconds: Double, heartbeat: Bool = false) throws {
        try h.monitor.setClock(nanoseconds: UInt64((seconds * 1e9).rounded()))
        if heartbeat { h.monitor.heartbeat() }
        _ = h.monitor.drain()
        _ = h.router.poll()
    }

    private func metric(_ h: Harness, _ name: String) -> Double? { parsePrometheus(h.monitor.prometheusText())[name] }

    func testALostHeartbeatHaltsCancelsAndTheBreakerLiftsItAfterItsCooldown() throws {
        let h = try harness()
        try at(h, 1.0, heartbeat: true)
        XCTAssertNoThrow(try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000))
        try at(h, 1.09)
        XCTAssertFalse(h.monitor.isFrozen, "within the timeout")
        try at(h, 1.2)
        XCTAssertTrue(h.monitor.isFrozen, "no heartbeat for 200 ms")
        XCTAssertEqual(h.router.activeOrderCount, 0, "the router canceled its orders")
        let event = try XCTUnwrap(h.monitor.freezeEvents.last)
        XCTAssertEqual(event.trigger, .heartbeatLost)
        XCTAssertEqual(event.trigger.reasonClass, .transient)
        XCTAssertEqual(event.reasonClass, .transient)
        XCTAssertEqual(metric(h, "breaker_cooldown_seconds"), 1)
        XCTAssertEqual(metric(h, "breaker_trips_total{reason=\"heartbeat_lost\"}"), 1)
        XCTAssertEqual(metric(h, "freeze_triggered_total{reason=\"heartbeat_lost\"}"), 1)
        try at(h, 2.15, heartbeat: true)  // the strategy is back
        XCTAssertTrue(h.monitor.isFrozen, "the cooldown has not run yet")
        try at(h, 2.2)
        XCTAssertFalse(h.monitor.isFrozen, "lifted by the breaker after 1 s")
        XCTAssertEqual(h.monitor.stateChanges.last?.cause, .circuitBreaker)
        XCTAssertEqual(h.monitor.stateChanges.last?.metadata["cooldown_ms"], "1000.0")
        XCTAssertEqual(metric(h, "breaker_cooldown_seconds"), 0)
        XCTAssertNoThrow(try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000))
    }

    func testRepeatsDoubleTheCooldownUpToTheCapThenEscalateToPersistent() throws {
        let h = try harness(escalateAfter: 4)
        try at(h, 1.0, heartbeat: true)
        try at(h, 1.2)  // trip 1: 1 s
        XCTAssertEqual(metric(h, "breaker_cooldown_seconds"), 1)
        try at(h, 2.2)
        XCTAssertTrue(h.monitor.isFrozen, "the cooldown ran, but no heartbeat is back: the cause is still there")
        try at(h, 2.25, heartbeat: true)
        try at(h, 2.26)
        XCTAssertFalse(h.monitor.isFrozen, "lifted once the heartbeat is back")
        try at(h, 2.4)  // silent again: trip 2, within the window: 2 s
        XCTAssertTrue(h.monitor.isFrozen)
        XCTAssertEqual(metric(h, "breaker_cooldown_seconds"), 2)
        try at(h, 4.35, heartbeat: true)
        try at(h, 4.39)
        XCTAssertTrue(h.monitor.isFrozen, "2 s have not run")
        try at(h, 4.4)
        XCTAssertFalse(h.monitor.isFrozen)
        try at(h, 4.55)  // trip 3: 4 s
        XCTAssertEqual(metric(h, "breaker_cooldown_seconds"), 4)
        try at(h, 8.5, heartbeat: true)
        try at(h, 8.55)
        XCTAssertFalse(h.monitor.isFrozen)
        try at(h, 8.7)  // trip 4 would be 8 s, capped at 4, but it is the 4th: escalate
        XCTAssertTrue(h.monitor.isFrozen)
        let escalated = try XCTUnwrap(h.monitor.freezeEvents.last)
        XCTAssertEqual(escalated.trigger, .breakerEscalated)
        XCTAssertEqual(escalated.trigger.reasonClass, .persistent)
        XCTAssertEqual(escalated.metadata["escalated_from"], "heartbeat_lost")
        XCTAssertEqual(metric(h, "breaker_escalations_total"), 1)
        XCTAssertEqual(metric(h, "breaker_trips_total{reason=\"heartbeat_lost\"}"), 4)
        XCTAssertEqual(metric(h, "breaker_cooldown_seconds"), 0)
        try at(h, 500, heartbeat: true)
        XCTAssertTrue(h.monitor.isFrozen, "persistent: the breaker never lifts it")
        XCTAssertFalse(h.monitor.unfreeze(reason: "breaker?", byCircuitBreaker: true))
        XCTAssertTrue(h.monitor.unfreeze(reason: "operator checked the strategy"))
        try at(h, 500.05)
        XCTAssertFalse(h.monitor.isFrozen)
    }

    func testCapAndWindow() throws {
        let h = try harness(escalateAfter: 10)
        try at(h, 1.0, heartbeat: true)
        var t = 1.2
        for expected in [1.0, 2, 4, 4, 4] {
            try at(h, t)
            XCTAssertEqual(metric(h, "breaker_cooldown_seconds"), expected, "at \(t)")
            try at(h, t + expected - 0.05, heartbeat: true)  // back before the lift
            try at(h, t + expected)
            XCTAssertFalse(h.monitor.isFrozen, "lifted at \(t + expected)")
            t += expected + 0.15  // silent again
        }
        // A trip more than the window (60 s) after the last one starts over.
        try at(h, t - 0.2, heartbeat: true)
        try at(h, t + 100)
        XCTAssertTrue(h.monitor.isFrozen)
        XCTAssertEqual(metric(h, "breaker_cooldown_seconds"), 1, "the streak reset")
    }

    func testAPersistentTriggerDuringATransientHaltIsNeverLiftedByTheBreaker() throws {
        let h = try harness()
        try at(h, 1.0, heartbeat: true)
        try at(h, 1.2)
        XCTAssertEqual(h.monitor.freezeEvents.last?.trigger, .heartbeatLost)
        XCTAssertTrue(h.monitor.manualFreeze(reason: "operator saw it", router: h.router))
        XCTAssertEqual(h.monitor.freezeEvents.last?.trigger, .manual, "the operator's halt takes over")
        try at(h, 10, heartbeat: true)
        XCTAssertTrue(h.monitor.isFrozen, "the breaker's lift was cancelled")
        XCTAssertEqual(metric(h, "breaker_cooldown_seconds"), 0)
    }

    func testHeartbeatsKeepTradingAliveAndNothingHappensWithoutATimeout() throws {
        let h = try harness()
        for i in 0..<50 { try at(h, 1.0 + Double(i) * 0.09, heartbeat: true) }
        XCTAssertFalse(h.monitor.isFrozen)
        let off = try Harness(manualClock: true)
        try off.monitor.setClock(nanoseconds: 1)
        off.monitor.heartbeat()
        _ = off.monitor.drain()
        try off.monitor.setClock(nanoseconds: 1_000_000_000_000)
        _ = off.monitor.drain()
        XCTAssertFalse(off.monitor.isFrozen, "no timeout configured: no dead-man")
    }

    func testSettingsAreValidatedJournaledAndRecovered() throws {
        XCTAssertThrowsRedline(.invalidLimits("circuitBreaker.maxCooldownSeconds (1.0) is below cooldownSeconds (2.0)")) {
            try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: 2, edgeFreezeThresholdBps: 0,
                           circuitBreaker: CircuitBreakerSettings(cooldownSeconds: 2, maxCooldownSeconds: 1))
        }
        XCTAssertThrowsRedline(.invalidLimits("circuitBreaker.escalateAfter must be in 1...1000000, got 0")) {
            try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: 2, edgeFreezeThresholdBps: 0,
                           circuitBreaker: CircuitBreakerSettings(escalateAfter: 0))
        }
        XCTAssertThrowsRedline(.invalidLimits("heartbeatTimeoutMilliseconds must be in (0, 86400000], got -1.0")) {
            try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: 2, edgeFreezeThresholdBps: 0, heartbeatTimeoutMilliseconds: -1)
        }
        try assertLimitsSurviveARestart { limits in
            limits.heartbeatTimeoutMilliseconds = 250
            limits.circuitBreaker = CircuitBreakerSettings(cooldownSeconds: 0.5, maxCooldownSeconds: 30, windowSeconds: 120,
                                                           escalateAfter: 3)
        }
    }

    func testATransientHaltIsJournaledWithItsClassAndARestartComesBackHalted() throws {
        let dir = try makeTemporaryDirectory()
        let limits = try RiskLimits(maxInventoryUSD: 5_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 200,
                                    heartbeatTimeoutMilliseconds: 100)
        let monitor = try RuntimeRiskMonitor(limits: limits, manualClock: true, logger: quietLogger())
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        let router = try OrderRouter(monitor: monitor, client: SimulatedExchange(.init()), orderCapacity: 16,
                                     ringCapacity: 64, logger: quietLogger())
        try monitor.setClock(nanoseconds: 1_000_000_000)
        monitor.heartbeat()
        _ = monitor.drain()
        try monitor.setClock(nanoseconds: 2_000_000_000)
        _ = monitor.drain()
        XCTAssertTrue(monitor.isFrozen)
        _ = monitor.syncFreezeEvents()
        try journal.flush()
        journal.close()
        withExtendedLifetime(router) {} // its strategy's heartbeat is what the halt was about
        let restarted = try RuntimeRiskMonitor(limits: limits, manualClock: true, logger: quietLogger())
        let (again, _) = try Journal.open(directory: dir, monitor: restarted, options: journalOptions(), logger: quietLogger())
        defer { again.close() }
        XCTAssertTrue(restarted.isFrozen, "a halted engine comes back halted")
        let event = try XCTUnwrap(restarted.freezeEvents.last)
        XCTAssertEqual(event.trigger, .heartbeatLost)
        XCTAssertEqual(event.reasonClass, .transient)
    }

    func testTurningTheBreakerOffCancelsAPendingLiftAndAnOperatorUnfreezeStartsANewStreak() throws {
        let h = try harness(escalateAfter: 3)
        try at(h, 1.0, heartbeat: true)
        try at(h, 1.2)  // trip 1
        XCTAssertEqual(metric(h, "breaker_cooldown_seconds"), 1)
        var limits = h.monitor.limits
        limits.circuitBreaker.cooldownSeconds = 0
        limits.circuitBreaker.maxCooldownSeconds = 0
        limits.heartbeatTimeoutMilliseconds = nil
        try h.monitor.updateLimits(limits)
        try at(h, 30)
        XCTAssertTrue(h.monitor.isFrozen, "the breaker is off: the lift already scheduled does not happen")
        XCTAssertEqual(metric(h, "breaker_cooldown_seconds"), 0)
        limits.circuitBreaker = CircuitBreakerSettings(cooldownSeconds: 1, maxCooldownSeconds: 4, windowSeconds: 60,
                                                       escalateAfter: 3)
        limits.heartbeatTimeoutMilliseconds = 100
        try h.monitor.updateLimits(limits)
        XCTAssertTrue(h.monitor.unfreeze(reason: "operator"))
        try at(h, 30.05, heartbeat: true)
        try at(h, 30.3)  // after the operator's unfreeze: a first trip again, not a repeat
        XCTAssertEqual(metric(h, "breaker_cooldown_seconds"), 1)
        XCTAssertEqual(h.monitor.freezeEvents.last?.trigger, .heartbeatLost)
        XCTAssertThrowsRedline(.invalidLimits("circuitBreaker.windowSeconds (5.0) is shorter than the cooldown before the last repeat (8.0): trips are a cooldown apart, so the breaker could never escalate")) {
            try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: 2, edgeFreezeThresholdBps: 0,
                           circuitBreaker: CircuitBreakerSettings(cooldownSeconds: 1, maxCooldownSeconds: 60, windowSeconds: 5,
                                                                  escalateAfter: 5))
        }
    }

    func testAStaleFeedIsATransientFreezeEventAndTheGuardsSurviveARestart() throws {
        let limits = try RiskLimits(maxInventoryUSD: 5_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 200,
                                    staleDataFreezeMilliseconds: 250)
        let h = try Harness(limits: limits, manualClock: true)
        try h.monitor.setClock(nanoseconds: 1_000_000_000)
        try h.router.reportMark(symbol: h.monitor.symbolID("BTCUSDT"), price: 40_000)
        _ = h.monitor.drain()
        XCTAssertNoThrow(try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000))
        try h.monitor.setClock(nanoseconds: 1_300_000_000)
        _ = h.monitor.drain()
        _ = h.router.poll()
        XCTAssertTrue(h.monitor.isFrozen)
        XCTAssertEqual(h.router.activeOrderCount, 0, "the router canceled its orders")
        let event = try XCTUnwrap(h.monitor.freezeEvents.last)
        XCTAssertEqual(event.trigger, .staleData)
        XCTAssertEqual(event.reasonClass, .transient)
        XCTAssertEqual(event.metadata["timeout_ms"], "250.0")
        XCTAssertEqual(Double(event.metadata["stale_ms"] ?? "") ?? 0, 300, accuracy: 0.001)
        XCTAssertEqual(parsePrometheus(h.monitor.prometheusText())["freeze_triggered_total{reason=\"stale_data\"}"], 1)
        XCTAssertThrowsRedline(.invalidLimits("staleDataFreezeMilliseconds must be in (0, 86400000], got 0.0")) {
            try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: 2, edgeFreezeThresholdBps: 0, staleDataFreezeMilliseconds: 0)
        }
        XCTAssertThrowsRedline(.invalidLimits("journalBackpressureFreezeMilliseconds must be in (0, 86400000], got nan")) {
            try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: 2, edgeFreezeThresholdBps: 0,
                           journalBackpressureFreezeMilliseconds: .nan)
        }
        _ = try assertLimitsSurviveARestart { limits in
            limits.staleDataFreezeMilliseconds = 750
            limits.journalBackpressureFreezeMilliseconds = 20
        }
    }
}
