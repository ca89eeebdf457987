import Foundation
import Redline
import RedlineCore
import XCTest

/// Each strategy's message rates, cancel budget and working orders
/// (rl_strategy.h), through `OrderRouter`, on the engine's manual clock.
extension OrderStateMachine {
    var activeIDs: [OrderID] { activeOrderIDs }
}

final class StrategyLimitsTests: XCTestCase {
    private func harness(_ strategy: StrategyLimits, breaker: CircuitBreakerSettings = .default) throws -> Harness {
        let limits = try RiskLimits(maxInventoryUSD: 50_000, maxTotalNotional: 200_000, edgeFreezeThresholdBps: 200,
                                    circuitBreaker: breaker, strategyLimits: strategy)
        let h = try Harness(limits: limits, exchange: .init(seed: 9, fillRatio: 0), manualClock: true)
        try h.monitor.setClock(nanoseconds: 1_000_000_000)
        return h
    }

    private func place(_ h: Harness, _ symbol: String = "BTCUSDT", side: Side = .buy, qty: Double = 0.01) -> BlockReason? {
        do {
            _ = try h.router.placeOrder(symbol: symbol, side: side, qty: qty, price: 40_000)
            h.router.processExchangeEvents()
            return nil
        } catch let RedlineError.blocked(reason) {
            return reason
        } catch {
            XCTFail("\(error)")
            return nil
        }
    }

    func testTheOrderRateLetsABurstThroughRefillsWithTheClockAndNeverBlocksAReducingOrder() throws {
        let h = try harness(StrategyLimits(maxOrdersPerSecond: 10, orderBurst: 2))
        try h.monitor.updatePosition(symbol: "ETHUSDT", qty: 5, price: 2_000)
        XCTAssertNil(place(h))
        XCTAssertNil(place(h))
        XCTAssertEqual(place(h), .rateLimit, "the burst of 2 is spent")
        XCTAssertNil(place(h, "ETHUSDT", side: .sell, qty: 1), "selling down a position: never blocked by the rate")
        try h.monitor.setClock(nanoseconds: 1_099_000_000)
        XCTAssertEqual(place(h), .rateLimit, "99 ms: not yet")
        try h.monitor.setClock(nanoseconds: 1_100_000_000)
        XCTAssertNil(place(h), "100 ms refills one order at 10/s")
        XCTAssertEqual(h.router.rateLimitedOrders, 2)
        XCTAssertEqual(parsePrometheus(h.monitor.prometheusText())["orders_blocked_total{reason=\"rate_limit\"}"], 2)
    }

    func testThePerSymbolRateIsPerSymbol() throws {
        let h = try harness(StrategyLimits(maxOrdersPerSecondPerSymbol: 1, orderBurst: 1))
        XCTAssertNil(place(h, "BTCUSDT"))
        XCTAssertEqual(place(h, "BTCUSDT"), .rateLimit)
        XCTAssertNil(place(h, "ETHUSDT", qty: 0.1), "another symbol has its own bucket")
        try h.monitor.setClock(nanoseconds: 2_000_000_000)
        XCTAssertNil(place(h, "BTCUSDT"))
    }

    func testOpenOrdersAreCountedAndReleasedWhenOrdersFinish() throws {
        let h = try harness(StrategyLimits(maxOpenOrders: 3, maxOpenOrdersPerSymbol: 2))
        XCTAssertNil(place(h, "BTCUSDT"))
        XCTAssertNil(place(h, "BTCUSDT"))
        XCTAssertEqual(place(h, "BTCUSDT"), .openOrders, "2 working on the symbol")
        XCTAssertNil(place(h, "ETHUSDT", qty: 0.1))
        XCTAssertEqual(place(h, "SOLUSDT", qty: 1), .openOrders, "3 working in all")
        XCTAssertEqual(h.router.activeOrderCount, 3)
        let resting = try XCTUnwrap(h.router.orders.activeIDs.first)
        try h.router.cancel(resting)
        h.router.processExchangeEvents()
        XCTAssertEqual(h.router.activeOrderCount, 2)
        XCTAssertNil(place(h, "SOLUSDT", qty: 1), "a canceled order no longer counts")
    }

    func testCancelsHaveTheirOwnBudgetAndACancelAllIsNeverThrottled() throws {
        let h = try harness(StrategyLimits(maxOrdersPerSecond: 1_000, orderBurst: 100, maxCancelsPerSecond: 1, cancelBurst: 1))
        for _ in 0..<4 { XCTAssertNil(place(h)) }
        let ids = h.router.orders.activeIDs
        try h.router.cancel(ids[0])
        XCTAssertThrowsRedline(.blocked(.rateLimit)) { try h.router.cancel(ids[1]) }
        XCTAssertEqual(h.router.rateLimitedCancels, 1)
        XCTAssertTrue(h.monitor.manualFreeze(reason: "kill switch", router: h.router))
        h.router.processExchangeEvents()
        XCTAssertEqual(h.router.activeOrderCount, 0, "the freeze's cancel-all went through the spent budget")
    }

    func testRepeatedRateBlocksHaltTradingTransientlyAndTheBreakerLiftsIt() throws {
        let h = try harness(StrategyLimits(maxOrdersPerSecond: 1, orderBurst: 1, rateFreezeAfter: 3, rateFreezeWindowSeconds: 1),
                            breaker: CircuitBreakerSettings(cooldownSeconds: 2, maxCooldownSeconds: 8, windowSeconds: 60,
                                                            escalateAfter: 3))
        XCTAssertNil(place(h))
        for _ in 0..<3 { XCTAssertEqual(place(h), .rateLimit) }
        _ = h.monitor.drain()
        _ = h.router.poll()
        XCTAssertTrue(h.monitor.isFrozen, "3 rate blocks within 1 s")
        let event = try XCTUnwrap(h.monitor.freezeEvents.last)
        XCTAssertEqual(event.trigger, .rateExceeded)
        XCTAssertEqual(event.reasonClass, .transient)
        XCTAssertEqual(event.metadata["strategy"], "\(h.router.orders.session)", "attributed to the strategy that caused it")
        XCTAssertEqual(parsePrometheus(h.monitor.prometheusText())["breaker_trips_total{reason=\"rate_exceeded\"}"], 1)
        try h.monitor.setClock(nanoseconds: 3_000_000_000)
        _ = h.monitor.drain()
        XCTAssertFalse(h.monitor.isFrozen, "lifted after the 2 s cooldown")
        XCTAssertNil(place(h), "and the rate refilled meanwhile")
    }

    func testLimitsAreValidatedJournaledAndRecovered() throws {
        XCTAssertThrowsRedline(.invalidLimits("strategyLimits.orderBurst must be in 1...4294967295, got 0")) {
            try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: 2, edgeFreezeThresholdBps: 0,
                           strategyLimits: StrategyLimits(maxOrdersPerSecond: 5, orderBurst: 0))
        }
        XCTAssertThrowsRedline(.invalidLimits("strategyLimits.maxOpenOrders must be in 1...4294967295, got -1")) {
            try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: 2, edgeFreezeThresholdBps: 0,
                           strategyLimits: StrategyLimits(maxOpenOrders: -1))
        }
        try assertLimitsSurviveARestart { limits in
            limits.strategyLimits = StrategyLimits(
                maxOrdersPerSecond: 500, maxOrdersPerSecondPerSymbol: 50, orderBurst: 20, maxCancelsPerSecond: 2_000,
                cancelBurst: 50, maxOpenOrders: 300, maxOpenOrdersPerSymbol: 40, rateFreezeAfter: 100,
                rateFreezeWindowSeconds: 0.5)
        }
    }

    func testMetricsCountEachStrategysOrdersAndBlocks() throws {
        let h = try harness(StrategyLimits(maxOrdersPerSecond: 10, orderBurst: 1))
        let second = try OrderRouter(monitor: h.monitor, client: SimulatedExchange(.init()), orderCapacity: 16,
                                     ringCapacity: 64, logger: quietLogger())
        XCTAssertNil(place(h))
        XCTAssertEqual(place(h), .rateLimit)
        _ = try second.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 0.1, price: 2_000)
        let m = parsePrometheus(h.monitor.prometheusText())
        let (a, b) = (h.router.orders.session, second.orders.session)
        XCTAssertEqual(m["strategy_orders_placed_total{strategy=\"\(a)\"}"], 1)
        XCTAssertEqual(m["strategy_orders_placed_total{strategy=\"\(b)\"}"], 1)
        XCTAssertEqual(m["strategy_orders_blocked_total{strategy=\"\(a)\",reason=\"rate_limit\"}"], 1)
        XCTAssertNil(m["strategy_orders_blocked_total{strategy=\"\(b)\",reason=\"rate_limit\"}"], "no block, no series")
        XCTAssertEqual(m["orders_placed_total"], 2, "the totals stay")
    }

    func testEveryEventARouterSendsCarriesItsStrategy() throws {
        let h = try harness(.off)
        let second = try OrderRouter(monitor: h.monitor, client: SimulatedExchange(.init()), orderCapacity: 16,
                                     ringCapacity: 64, logger: quietLogger())
        _ = try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        _ = try second.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        for (router, session) in [(h.router, h.router.orders.session), (second, second.orders.session)] {
            var strategies: [UInt16] = []
            while let e = router.ring.pop() { strategies.append(e.strategy) }
            XCTAssertFalse(strategies.isEmpty)
            XCTAssertEqual(Set(strategies), [session], "each router's events say which strategy made them")
        }
        XCTAssertNotEqual(h.router.orders.session, second.orders.session)
    }
}

/// Client order ids: one that is working is refused; a finished order frees it.
final class ClientOrderIDTests: XCTestCase {
    func testAWorkingClientOrderIDIsRefusedAndFreedWhenTheOrderFinishes() throws {
        let h = try Harness(exchange: .init(seed: 4, fillRatio: 0))
        let first = try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000, clientOrderID: 77)
        h.router.processExchangeEvents()
        XCTAssertThrowsRedline(.blocked(.duplicateOrderID)) {
            try h.router.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 0.1, price: 2_000, clientOrderID: 77)
        }
        XCTAssertNoThrow(try h.router.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 0.1, price: 2_000, clientOrderID: 78))
        XCTAssertNoThrow(try h.router.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 0.1, price: 2_000), "no id: never refused")
        XCTAssertNoThrow(try h.router.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 0.1, price: 2_000))
        try h.router.cancel(first)
        h.router.processExchangeEvents()
        XCTAssertNoThrow(try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000, clientOrderID: 77),
                         "free again once the order is canceled")
        XCTAssertEqual(parsePrometheus(h.monitor.prometheusText())["orders_blocked_total{reason=\"duplicate_order_id\"}"], 1)
    }

    /// The set behind it, against Swift's Set, through thousands of orders
    /// placed and finished in random order (backward-shift deletion).
    func testTheSetAgreesWithAModelThroughManyInsertsAndRemovals() throws {
        let h = try Harness(limits: try RiskLimits(maxInventoryUSD: 10_000_000, maxTotalNotional: 50_000_000,
                                                   edgeFreezeThresholdBps: 0),
                            exchange: .init(seed: 5, fillRatio: 0), orderCapacity: 64)
        var working: [UInt64: OrderID] = [:]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3_000 {
            let client = UInt64.random(in: 1...200, using: &generator)
            if working.count < 60, Bool.random(using: &generator) {
                do {
                    let id = try h.router.placeOrder(symbol: "SOLUSDT", side: .buy, qty: 1, price: 100, clientOrderID: client)
                    XCTAssertNil(working[client], "\(client) was working, yet accepted")
                    working[client] = id
                } catch RedlineError.blocked(.duplicateOrderID) {
                    XCTAssertNotNil(working[client], "\(client) was free, yet refused")
                }
                h.router.processExchangeEvents()
            } else if let (client, id) = working.randomElement(using: &generator) {
                try h.router.cancel(id)
                h.router.processExchangeEvents()
                working[client] = nil
            }
        }
    }
}
