import Foundation
import Redline
import RedlineCore
import XCTest

/// What an adversarial review of the dead-man, the working-order cap and the
/// dynamic limits found (each test failed before its fix): a halt the router
/// slept through, a closed router's heartbeat, orders adopted from a closed
/// router, a window scale the journal could not hold, and what a snapshot
/// keeps.
final class ReviewRegressionTests: XCTestCase {
    private func deadManMonitor() throws -> RuntimeRiskMonitor {
        let limits = try RiskLimits(
            maxInventoryUSD: 50_000, maxTotalNotional: 200_000, edgeFreezeThresholdBps: 200,
            heartbeatTimeoutMilliseconds: 100,
            circuitBreaker: CircuitBreakerSettings(cooldownSeconds: 1, maxCooldownSeconds: 4, windowSeconds: 60,
                                                   escalateAfter: 3))
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], manualClock: true,
                                             logger: quietLogger())
        try monitor.setClock(nanoseconds: 1_000_000_000)
        return monitor
    }

    /// BTCUSDT capped at 3 working orders, every strategy together, and a venue that rests everything.
    private func cappedMonitor() throws -> (RuntimeRiskMonitor, SimulatedExchange) {
        var limits = try RiskLimits(maxInventoryUSD: 50_000, maxTotalNotional: 200_000, edgeFreezeThresholdBps: 200)
        limits.symbolOrderRules["BTCUSDT"] = OrderRules(maxWorkingOrders: 3)
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
        return (monitor, SimulatedExchange(.init(seed: 2, fillRatio: 0)))
    }

    /// Item 7: a strategy that stalls past timeout + cooldown is halted and
    /// lifted again before its router polls: its orders are never canceled.
    func testA_HaltThenLiftBetweenTwoPollsNeverCancels() throws {
        let monitor = try deadManMonitor()
        let exchange = SimulatedExchange(.init(seed: 5, fillRatio: 0))
        let router = try OrderRouter(monitor: monitor, client: exchange, orderCapacity: 64, ringCapacity: 256,
                                     logger: quietLogger())
        router.heartbeat()
        _ = monitor.drain()
        _ = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        _ = router.poll()
        // The strategy's thread stalls; the risk side runs on.
        try monitor.setClock(nanoseconds: 1_200_000_000)
        _ = monitor.drain()
        XCTAssertTrue(monitor.isStrategyHalted(router.strategyID), "halted: silent for 200 ms")
        XCTAssertEqual(router.activeOrderCount, 1, "nothing canceled while the strategy's own thread is stalled")
        // It wakes after the cooldown; its loop beats first, then polls.
        try monitor.setClock(nanoseconds: 2_300_000_000)
        router.heartbeat()
        _ = monitor.drain()
        _ = router.poll()
        XCTAssertEqual(router.activeOrderCount, 0, "the dead-man must cancel the halted strategy's orders")
    }

    /// Item 7: a router closed with a heartbeat still in its ring: the forget
    /// (control ring, drained first) runs before the heartbeat, which re-arms
    /// a watch for the gone strategy. It leaks for good; 64 of them and every
    /// new strategy is halted on its first heartbeat.
    func testB_AClosedRoutersPendingHeartbeatLeaksItsWatch() throws {
        let monitor = try deadManMonitor()
        let exchange = SimulatedExchange(.init(seed: 5, fillRatio: 0))
        var gone: UInt16 = 0
        do {
            let router = try OrderRouter(monitor: monitor, client: exchange, orderCapacity: 8, ringCapacity: 16,
                                         logger: quietLogger())
            gone = router.strategyID
            router.heartbeat()
            _ = monitor.drain()
            router.heartbeat() // not drained yet when the router closes
        }
        try monitor.setClock(nanoseconds: 1_500_000_000)
        _ = monitor.drain()
        XCTAssertFalse(monitor.isStrategyHalted(gone), "a closed router's strategy is forgotten")
        for _ in 0..<64 {
            let router = try OrderRouter(monitor: monitor, client: exchange, orderCapacity: 8, ringCapacity: 16,
                                         logger: quietLogger())
            router.heartbeat()
            _ = monitor.drain()
            router.heartbeat()
        }
        _ = monitor.drain()
        let fresh = try OrderRouter(monitor: monitor, client: exchange, orderCapacity: 8, ringCapacity: 16,
                                    logger: quietLogger())
        fresh.heartbeat()
        _ = monitor.drain()
        XCTAssertFalse(monitor.isStrategyHalted(fresh.strategyID), "only live routers hold watches")
        XCTAssertNoThrow(try fresh.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000))
    }

    /// Item 4: a router closed with working orders; another router adopts
    /// them at reconciliation. The count holds each twice, and keeps the
    /// first one for good after they finish.
    func testC_AdoptingAClosedRoutersOrdersDoubleCountsThem() throws {
        let (monitor, exchange) = try cappedMonitor()
        do {
            let a = try OrderRouter(monitor: monitor, client: exchange, orderCapacity: 32, ringCapacity: 64,
                                    logger: quietLogger())
            _ = try a.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
            _ = try a.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
            _ = a.poll()
        }
        XCTAssertEqual(monitor.workingOrders(symbol: "BTCUSDT"), 2)
        let b = try OrderRouter(monitor: monitor, client: exchange, orderCapacity: 32, ringCapacity: 64,
                                logger: quietLogger())
        _ = try b.reconcile()
        XCTAssertEqual(monitor.workingOrders(symbol: "BTCUSDT"), 2, "two orders are working")
        _ = b.cancelAllOrders(reason: "test")
        _ = b.poll()
        XCTAssertEqual(monitor.workingOrders(symbol: "BTCUSDT"), 0, "nothing is working")
        XCTAssertNoThrow(try b.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000))
        XCTAssertNoThrow(try b.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000))
        XCTAssertNoThrow(try b.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000), "3 of a cap of 3")
    }

    /// A window scale below the fixed point's resolution (1e-8) was valid,
    /// put in force, and journaled as 0, which recovery refused. It is
    /// refused up front now.
    func testD_AWindowScaleBelowTheFixedPointsResolutionIsRefused() throws {
        let window = LimitWindow(start: "00:00", end: "23:59", timeZone: "UTC", scale: 1e-9)
        XCTAssertThrowsRedline(.invalidLimits("limitSchedule[0].scale must be in [0.00000001, 1], got 1e-09")) {
            try RiskLimits(maxInventoryUSD: 10_000, maxTotalNotional: 40_000, edgeFreezeThresholdBps: 200,
                           limitSchedule: [window])
        }
        _ = try assertLimitsSurviveARestart { limits in
            limits.limitSchedule = [LimitWindow(start: "00:00", end: "23:59", timeZone: "UTC", scale: 1e-8)]
        }
    }

    /// A symbol's volatility estimate is not in a snapshot: after a restart
    /// from one, the scale is back at its fail-closed end (the limit at the
    /// floor) until the next estimate, never looser than before.
    func testE_AfterASnapshotTheVolatilityScaleFailsClosedUntilTheNextEstimate() throws {
        let limits = try RiskLimits(maxInventoryUSD: 10_000, maxTotalNotional: 40_000, edgeFreezeThresholdBps: 200,
                                    volatilityScaling: VolatilityScaling(referenceVolatility: 40, floor: 0.25, cap: 1))
        let dir = try makeTemporaryDirectory()
        do {
            let monitor = try RuntimeRiskMonitor(limits: limits, logger: quietLogger())
            let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(),
                                                logger: quietLogger())
            try monitor.register(symbol: "BTCUSDT")
            try monitor.reportVolatility(symbol: "BTCUSDT", volatility: 50)
            XCTAssertEqual(monitor.inventoryLimitInForce(symbol: "BTCUSDT"), 8_000)
            try journal.flush()
            _ = try journal.snapshot(of: monitor)
            try journal.flush()
            journal.close()
        }
        let restarted = try RuntimeRiskMonitor(limits: .default, logger: quietLogger())
        let (again, _) = try Journal.open(directory: dir, monitor: restarted, options: journalOptions(), logger: quietLogger())
        defer { again.close() }
        XCTAssertEqual(restarted.inventoryLimitInForce(symbol: "BTCUSDT"), 2_500, "the floor, not the 8,000 of before")
        try restarted.reportVolatility(symbol: "BTCUSDT", volatility: 50)
        XCTAssertEqual(restarted.inventoryLimitInForce(symbol: "BTCUSDT"), 8_000)
    }

    /// Item 7: a strategy's halt is journaled (RL_JREC_EVENT type 14) but the
    /// writer's shadow drops it, so a snapshot loses the halt from the history.
    func testF_StrategyHaltHistoryLostAcrossASnapshot() throws {
        let limits = try RiskLimits(
            maxInventoryUSD: 50_000, maxTotalNotional: 200_000, edgeFreezeThresholdBps: 200,
            heartbeatTimeoutMilliseconds: 100,
            circuitBreaker: CircuitBreakerSettings(cooldownSeconds: 1, maxCooldownSeconds: 4, windowSeconds: 60,
                                                   escalateAfter: 3))
        let dir = try makeTemporaryDirectory()
        var before = 0
        do {
            let monitor = try RuntimeRiskMonitor(limits: limits, symbols: [], manualClock: true, logger: quietLogger())
            let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(),
                                                logger: quietLogger())
            try monitor.register(symbol: "BTCUSDT")
            try monitor.setClock(nanoseconds: 1_000_000_000)
            let exchange = SimulatedExchange(.init(seed: 5, fillRatio: 0))
            let router = try OrderRouter(monitor: monitor, client: exchange, orderCapacity: 8, ringCapacity: 16,
                                         logger: quietLogger())
            router.heartbeat()
            _ = monitor.drain()
            try monitor.setClock(nanoseconds: 1_300_000_000)
            _ = monitor.drain()
            _ = router.poll()
            before = monitor.strategyHalts.count
            XCTAssertEqual(before, 1)
            try journal.flush()
            _ = try journal.snapshot(of: monitor)
            try journal.flush()
            journal.close()
        }
        let restarted = try RuntimeRiskMonitor(limits: .default, manualClock: true, logger: quietLogger())
        let (again, _) = try Journal.open(directory: dir, monitor: restarted, options: journalOptions(), logger: quietLogger())
        defer { again.close() }
        XCTAssertEqual(restarted.strategyHalts.count, before, "the audit trail survives a snapshot")
    }

    /// Second review: the 65th strategy is halted for want of a watch (fail
    /// closed); its halt had no epoch, so its router never canceled.
    func testR1_AStrategyHaltedForWantOfAWatchIsCanceledToo() throws {
        let monitor = try deadManMonitor()
        var keep: [OrderRouter] = []
        for _ in 0..<64 {
            let r = try OrderRouter(monitor: monitor, client: SimulatedExchange(.init(seed: 5, fillRatio: 0)),
                                    orderCapacity: 8, ringCapacity: 16,
                                    logger: quietLogger())
            r.heartbeat()
            _ = monitor.drain()
            keep.append(r)
        }
        let late = try OrderRouter(monitor: monitor, client: SimulatedExchange(.init(seed: 5, fillRatio: 0)),
                                   orderCapacity: 8, ringCapacity: 16,
                                   logger: quietLogger())
        _ = try late.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        _ = late.poll()
        late.heartbeat()
        _ = monitor.drain()
        XCTAssertTrue(monitor.isStrategyHalted(late.strategyID), "halted: no watch left")
        _ = late.poll()
        _ = late.poll()
        XCTAssertEqual(late.activeOrderCount, 0, "a halted strategy's orders are canceled")
        XCTAssertThrowsError(try late.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000))
    }

    /// Second review: an order of a session this process never issued,
    /// adopted by router B (counted), then by C after B closed, was counted
    /// again, and the count never came back down.
    func testR2_AnOrderAdoptedAgainIsCountedOnce() throws {
        let (monitor, exchange) = try cappedMonitor()
        let foreign = OrderID(rawValue: UInt64(0x7000) << 48 | UInt64(1) << 32 | 5)
        try exchange.submit(ExchangeOrder(id: foreign, symbol: monitor.symbolID("BTCUSDT"), side: .buy,
                                          quantity: Int64(RL_FP_SCALE) / 100, price: 40_000 * Int64(RL_FP_SCALE)))
        do {
            let b = try OrderRouter(monitor: monitor, client: exchange, orderCapacity: 32, ringCapacity: 64,
                                    logger: quietLogger())
            _ = try b.reconcile()
            _ = b.poll()
            XCTAssertEqual(monitor.workingOrders(symbol: "BTCUSDT"), 1)
        }
        let c = try OrderRouter(monitor: monitor, client: exchange, orderCapacity: 32, ringCapacity: 64,
                                logger: quietLogger())
        _ = try c.reconcile()
        _ = c.poll()
        XCTAssertEqual(monitor.workingOrders(symbol: "BTCUSDT"), 1, "one order is working")
        _ = c.cancelAllOrders(reason: "test")
        _ = c.poll()
        XCTAssertEqual(monitor.workingOrders(symbol: "BTCUSDT"), 0, "nothing is working")
    }
}
