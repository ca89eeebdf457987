import Foundation
import Redline
import RedlineCore
import XCTest

/// A symbol's working orders, every strategy together
/// (`OrderRules.maxWorkingOrders`): raising orders past the cap are blocked
/// (`OPEN_ORDERS`), whichever router sends them; a finished order frees its
/// place; risk-reducing orders always pass. The race for the last place is
/// Tests/C/working_cap_races.c.
final class WorkingOrderCapTests: XCTestCase {
    func testTheCapCountsEveryStrategysOrdersOnTheSymbol() throws {
        var limits = try RiskLimits(maxInventoryUSD: 50_000, maxTotalNotional: 200_000, edgeFreezeThresholdBps: 200)
        limits.symbolOrderRules["BTCUSDT"] = OrderRules(maxWorkingOrders: 3)
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT", "ETHUSDT"], logger: quietLogger())
        let a = try OrderRouter(monitor: monitor, client: SimulatedExchange(.init(seed: 2, fillRatio: 0)), orderCapacity: 32,
                                ringCapacity: 64, logger: quietLogger())
        let b = try OrderRouter(monitor: monitor, client: SimulatedExchange(.init(seed: 3, fillRatio: 0)), orderCapacity: 32,
                                ringCapacity: 64, logger: quietLogger())
        func buy(_ r: OrderRouter, _ symbol: String = "BTCUSDT") throws -> OrderID {
            try r.placeOrder(symbol: symbol, side: .buy, qty: 0.01, price: 40_000)
        }
        let first = try buy(a)
        _ = try buy(a)
        _ = try buy(b)
        XCTAssertThrowsRedline(.blocked(.openOrders), "the fourth, from either strategy") { try buy(b) }
        XCTAssertThrowsRedline(.blocked(.openOrders)) { try buy(a) }
        XCTAssertNoThrow(try buy(b, "ETHUSDT"), "another symbol has no cap")
        let simulation = b.simulateOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        XCTAssertEqual(simulation.decision.blockReason, .openOrders)
        XCTAssertEqual(monitor.workingOrders(symbol: "BTCUSDT"), 3)
        // A cancel frees a place once its ack is processed.
        try a.cancel(first)
        _ = a.poll()
        XCTAssertEqual(monitor.workingOrders(symbol: "BTCUSDT"), 2)
        XCTAssertNoThrow(try buy(b))
        XCTAssertThrowsRedline(.blocked(.openOrders)) { try buy(a) }
        XCTAssertEqual(parsePrometheus(monitor.prometheusText())["orders_blocked_total{reason=\"open_orders\"}"], 3)
    }

    func testARiskReducingOrderAlwaysPassesAndCounts() throws {
        var limits = try RiskLimits(maxInventoryUSD: 50_000, maxTotalNotional: 200_000, edgeFreezeThresholdBps: 200)
        limits.orderRules = OrderRules(maxWorkingOrders: 1)
        let h = try Harness(limits: limits, exchange: .init(seed: 4, fillRatio: 0))
        try h.monitor.updatePosition(symbol: "BTCUSDT", qty: 0.05, price: 40_000)
        _ = try h.router.placeOrder(symbol: "BTCUSDT", side: .sell, qty: 0.01, price: 40_000)
        XCTAssertNoThrow(try h.router.placeOrder(symbol: "BTCUSDT", side: .sell, qty: 0.01, price: 40_000),
                         "reduces the long position: the way out is never capped")
        XCTAssertEqual(h.monitor.workingOrders(symbol: "BTCUSDT"), 2)
        XCTAssertThrowsRedline(.blocked(.openOrders)) {
            try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        }
    }

    func testTheCapIsValidatedJournaledAndRecovered() throws {
        XCTAssertThrowsRedline(.invalidLimits("maxWorkingOrders for every symbol must be in 1...4294967295, got 0")) {
            var limits = try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: 2, edgeFreezeThresholdBps: 0)
            limits.orderRules = OrderRules(maxWorkingOrders: 0)
            _ = try limits.fixedPoint()
        }
        let restored = try assertLimitsSurviveARestart { limits in
            limits.orderRules = OrderRules(maxWorkingOrders: 100)
            limits.symbolOrderRules["ETHUSDT"] = OrderRules(maxOrderQuantity: 5, maxWorkingOrders: 7)
        }
        XCTAssertEqual(restored.symbolOrderRules["ETHUSDT"]?.maxWorkingOrders, 7)
    }
}
