import Foundation
import Redline
import RedlineCore
import XCTest

/// The per-order rules from Swift: configuration and its errors, the block
/// reasons and their metric, changes at runtime, and a restart that has them.
final class OrderRulesMonitorTests: XCTestCase {
    private func limits(_ rules: OrderRules = .off, symbols: [String: OrderRules] = [:], restricted: Set<String> = [],
                        policy: NoReferencePricePolicy = .block) throws -> RiskLimits {
        try RiskLimits(maxInventoryUSD: 50_000, maxTotalNotional: 200_000, edgeFreezeThresholdBps: 200,
                       orderRules: rules, symbolOrderRules: symbols, restrictedSymbols: restricted,
                       noReferencePrice: policy)
    }

    func testBadRulesAreRefusedWithTheFieldAndTheSymbol() {
        XCTAssertThrowsRedline(.invalidLimits("priceCollarBps for every symbol must be in (0, 10000]")) {
            try self.limits(OrderRules(priceCollarBps: 20_000))
        }
        XCTAssertThrowsRedline(.invalidLimits("maxOrderQuantity for SOLUSDT must be a finite number greater than zero, got -1.0")) {
            try self.limits(symbols: ["SOLUSDT": OrderRules(maxOrderQuantity: -1)])
        }
        XCTAssertThrowsRedline(.invalidLimits("maxOrderNotionalUSD for every symbol must be a finite number greater than zero, got nan")) {
            try self.limits(OrderRules(maxOrderNotionalUSD: .nan))
        }
        XCTAssertThrowsRedline(.invalidLimits("stalePriceMilliseconds for every symbol must be in (0, 86400000], got 0.0")) {
            try self.limits(OrderRules(stalePriceMilliseconds: 0))
        }
        XCTAssertThrowsRedline(.invalidLimits("restricted symbol \"BAD NAME\" is not a valid symbol name")) {
            try self.limits(restricted: ["BAD NAME"])
        }
        XCTAssertNoThrow(try limits(OrderRules(maxOrderQuantity: 5, maxOrderNotionalUSD: 1_000, priceCollarBps: 10_000,
                                               stalePriceMilliseconds: 86_400_000)))
    }

    func testRulesRoundTripThroughJSON() throws {
        let original = try limits(OrderRules(maxOrderQuantity: 5, priceCollarBps: 50),
                                  symbols: ["BTCUSDT": OrderRules(maxOrderNotionalUSD: 100_000)],
                                  restricted: ["SOLUSDT"], policy: .allowFirst)
        let decoded = try JSONDecoder().decode(RiskLimits.self, from: JSONEncoder().encode(original))
        XCTAssertEqual(decoded, original)
        let old = try JSONDecoder().decode(RiskLimits.self, from: Data(
            #"{"maxInventoryUSD":1,"maxTotalNotional":2,"edgeFreezeThresholdBps":3}"#.utf8))
        XCTAssertEqual(old.orderRules, .off, "limits written before the rules have none")
        XCTAssertEqual(old.noReferencePrice, .block)
    }

    func testEachRuleBlocksWithItsReasonAndCountsInTheMetric() throws {
        let h = try Harness(limits: try limits(OrderRules(maxOrderQuantity: 10, maxOrderNotionalUSD: 50_000,
                                                          priceCollarBps: 100, stalePriceMilliseconds: 250),
                                               restricted: ["SOLUSDT"]), manualClock: true)
        try h.monitor.setClock(nanoseconds: 1_000_000_000)
        XCTAssertThrowsRedline(.blocked(.noReferencePrice)) {
            try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 1, price: 40_000)
        }
        try h.monitor.markPrice(symbol: "BTCUSDT", price: 40_000)
        try h.monitor.markPrice(symbol: "ETHUSDT", price: 2_000)
        XCTAssertThrowsRedline(.blocked(.orderQuantity)) {
            try h.router.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 11, price: 2_000)
        }
        XCTAssertThrowsRedline(.blocked(.orderNotional)) {
            try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 2, price: 40_000)
        }
        XCTAssertThrowsRedline(.blocked(.priceCollar), "a fat-fingered price") {
            try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 1, price: 44_000)
        }
        XCTAssertThrowsRedline(.blocked(.restricted)) {
            try h.router.placeOrder(symbol: "SOLUSDT", side: .buy, qty: 1, price: 100)
        }
        XCTAssertNoThrow(try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 1, price: 40_100))
        try h.monitor.setClock(nanoseconds: 1_300_000_000)
        XCTAssertThrowsRedline(.blocked(.stalePrice), "the mark is 300 ms old") {
            try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 1, price: 40_000)
        }
        XCTAssertEqual(h.monitor.checkBeforeOrder(symbol: "BTCUSDT", side: .buy, qty: 1, price: 40_000), .blocked(.stalePrice))
        let metrics = parsePrometheus(h.monitor.prometheusText())
        for (reason, count) in [("no_reference_price", 1.0), ("order_qty", 1), ("order_notional", 1),
                                ("price_collar", 1), ("restricted", 1), ("stale_price", 1)] {
            XCTAssertEqual(metrics["orders_blocked_total{reason=\"\(reason)\"}"], count, reason)
        }
    }

    func testRestrictionsAndRulesChangeAtRuntimeAndNewSymbolsTakeTheirs() throws {
        let h = try Harness(limits: try limits())
        try h.monitor.markPrice(symbol: "ETHUSDT", price: 2_000)
        XCTAssertEqual(h.monitor.checkBeforeOrder(symbol: "ETHUSDT", side: .buy, qty: 1, price: 2_000), .allowed)
        var next = h.monitor.limits
        next.restrictedSymbols = ["ETHUSDT"]
        next.symbolOrderRules = ["DOGEUSDT": OrderRules(maxOrderQuantity: 100)]
        try h.monitor.updateLimits(next)
        XCTAssertEqual(h.monitor.checkBeforeOrder(symbol: "ETHUSDT", side: .buy, qty: 1, price: 2_000), .blocked(.restricted))
        _ = try h.monitor.register(symbol: "DOGEUSDT")
        XCTAssertEqual(h.monitor.checkBeforeOrder(symbol: "DOGEUSDT", side: .buy, qty: 101, price: 0.1), .blocked(.orderQuantity))
        XCTAssertEqual(h.monitor.checkBeforeOrder(symbol: "DOGEUSDT", side: .buy, qty: 100, price: 0.1), .allowed)
        next.restrictedSymbols = []
        try h.monitor.updateLimits(next)
        XCTAssertEqual(h.monitor.checkBeforeOrder(symbol: "ETHUSDT", side: .buy, qty: 1, price: 2_000), .allowed)
        var bad = next
        bad.orderRules.priceCollarBps = -3
        XCTAssertThrowsError(try h.monitor.updateLimits(bad))
        XCTAssertEqual(h.monitor.limits, next, "a refused update changes nothing")
        XCTAssertEqual(h.monitor.checkBeforeOrder(symbol: "ETHUSDT", side: .buy, qty: 1, price: 9_000), .allowed)
    }

    func testAllowFirstLetsOrdersThroughUntilTheFirstMark() throws {
        let h = try Harness(limits: try limits(OrderRules(priceCollarBps: 100), policy: .allowFirst))
        XCTAssertEqual(h.monitor.checkBeforeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.1, price: 40_000), .allowed)
        try h.monitor.markPrice(symbol: "BTCUSDT", price: 30_000)
        XCTAssertEqual(h.monitor.checkBeforeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.1, price: 40_000), .blocked(.priceCollar))
    }

    func testARestartHasTheRulesAndTheRestrictions() throws {
        let dir = try makeTemporaryDirectory()
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        for symbol in ["BTCUSDT", "ETHUSDT", "SOLUSDT"] { _ = try monitor.register(symbol: symbol) }
        var next = monitor.limits
        next.orderRules = OrderRules(maxOrderQuantity: 3, priceCollarBps: 25, stalePriceMilliseconds: 1_500)
        next.symbolOrderRules = ["ETHUSDT": OrderRules(maxOrderNotionalUSD: 9_000)]
        next.restrictedSymbols = ["SOLUSDT"]
        next.noReferencePrice = .allowFirst
        try monitor.updateLimits(next)
        journal.close()

        func restartAndCheck(snapshotFirst: Bool) throws {
            let restarted = try freshMonitor()
            let (again, _) = try Journal.open(directory: dir, monitor: restarted, options: journalOptions(),
                                              logger: quietLogger())
            defer { again.close() }
            XCTAssertEqual(restarted.limits, next)
            XCTAssertEqual(restarted.checkBeforeOrder(symbol: "SOLUSDT", side: .buy, qty: 1, price: 100), .blocked(.restricted))
            XCTAssertEqual(restarted.checkBeforeOrder(symbol: "BTCUSDT", side: .buy, qty: 4, price: 100), .blocked(.orderQuantity))
            XCTAssertEqual(restarted.checkBeforeOrder(symbol: "ETHUSDT", side: .buy, qty: 5, price: 2_000),
                           .blocked(.orderNotional))
            if snapshotFirst { _ = try again.snapshot(of: restarted) }
        }
        try restartAndCheck(snapshotFirst: true)
        try restartAndCheck(snapshotFirst: false)  // this time from the snapshot
    }

    func testSimulateOrderReportsEveryViolationAndTheHeadroomWithoutChangingAnything() throws {
        let h = try Harness(limits: try RiskLimits(
            maxInventoryUSD: 5_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 200,
            orderRules: OrderRules(maxOrderQuantity: 10, maxOrderNotionalUSD: 3_000, priceCollarBps: 100)))
        try h.monitor.markPrice(symbol: "SOLUSDT", price: 100)
        try h.monitor.updatePosition(symbol: "SOLUSDT", qty: 20, price: 100)  // $2,000 of the $5,000
        let before = h.monitor.snapshot()
        // 40 @ 110: over the size (10), the notional ($4,400 > $3,000), the collar
        // (110 > 101) and the symbol limit (60 units at $110 = $6,600 > $5,000).
        let s = h.monitor.simulateOrder(symbol: "SOLUSDT", side: .buy, qty: 40, price: 110)
        XCTAssertEqual(s.violations, [.orderQuantity, .orderNotional, .priceCollar, .symbolLimit])
        XCTAssertEqual(s.decision, .blocked(.orderQuantity))
        XCTAssertEqual(s.decision, h.monitor.checkBeforeOrder(symbol: "SOLUSDT", side: .buy, qty: 40, price: 110))
        XCTAssertTrue(s.raisesRisk)
        XCTAssertEqual(s.orderQuantityHeadroom, -30)
        XCTAssertEqual(s.orderNotionalHeadroomUSD, -1_400)
        XCTAssertEqual(s.symbolHeadroomUSD, -1_600, "60 x $110 against $5,000")
        XCTAssertEqual(try XCTUnwrap(s.symbolHeadroomQuantity), -1_600 / 110, accuracy: 1e-7)
        XCTAssertEqual(s.bookHeadroomUSD, 20_000 - 6_600)
        XCTAssertEqual(h.monitor.snapshot().symbols, before.symbols, "a simulation changes nothing")
        XCTAssertEqual(h.monitor.snapshot().tradingState, before.tradingState)

        let fits = h.monitor.simulateOrder(symbol: "SOLUSDT", side: .buy, qty: 5, price: 100)
        XCTAssertEqual(fits.violations, [])
        XCTAssertEqual(fits.decision, .allowed)
        XCTAssertEqual(fits.symbolHeadroomUSD, 2_500)
        XCTAssertEqual(fits.symbolHeadroomQuantity, 25, "25 more units at $100")
        XCTAssertEqual(fits.orderQuantityHeadroom, 5)

        let out = h.monitor.simulateOrder(symbol: "SOLUSDT", side: .sell, qty: 15, price: 50)
        XCTAssertFalse(out.raisesRisk, "selling down a long position")
        XCTAssertEqual(out.violations, [], "the rules do not apply to the way out")
        XCTAssertNil(out.orderQuantityHeadroom)

        let bad = h.monitor.simulateOrder(symbol: "DOGE", side: .buy, qty: .nan, price: -1)
        XCTAssertEqual(bad.violations, [.invalidQuantity, .invalidPrice, .unknownSymbol])
        XCTAssertEqual(bad.decision, .blocked(.invalidQuantity))
        XCTAssertNil(bad.symbolHeadroomUSD)

        XCTAssertTrue(h.monitor.manualFreeze(reason: "test"))
        let frozen = h.monitor.simulateOrder(symbol: "SOLUSDT", side: .buy, qty: 40, price: 110)
        XCTAssertEqual(frozen.decision, .blocked(.frozen))
        XCTAssertEqual(frozen.violations, [.frozen, .orderQuantity, .orderNotional, .priceCollar, .symbolLimit])
    }

    func testWhatIfCommandFromAConfigAndFromAJournal() throws {
        let dir = try makeTemporaryDirectory()
        let config = dir + "/state.json"
        try Data("""
            {"limits": {"maxInventoryUSD": 5000, "maxTotalNotional": 20000, "edgeFreezeThresholdBps": 200,
                        "orderRules": {"maxOrderQuantity": 10, "priceCollarBps": 100}},
             "marks": {"SOLUSDT": 100}, "positions": {"SOLUSDT": {"quantity": 20, "price": 100}}}
            """.utf8).write(to: URL(fileURLWithPath: config))
        let blocked = try runRedline(["what-if", "--config", config, "--symbol", "SOLUSDT", "--side", "buy",
                                      "--qty", "40", "--price", "110", "--json"])
        XCTAssertEqual(blocked.status, 3, blocked.output)
        let simulation = try JSONDecoder().decode(OrderSimulation.self, from: Data(blocked.output.utf8))
        XCTAssertEqual(simulation.decision, .blocked(.orderQuantity))
        XCTAssertEqual(simulation.violations, [.orderQuantity, .priceCollar, .symbolLimit])
        let allowed = try runRedline(["what-if", "--config", config, "--symbol", "SOLUSDT", "--side", "sell",
                                      "--qty", "5", "--price", "100"])
        XCTAssertEqual(allowed.status, 0, allowed.output)
        XCTAssertTrue(allowed.output.contains("decision: allowed"), allowed.output)
        try Data(#"{"limits": {"maxInventoryUSD": 5000}}"#.utf8).write(to: URL(fileURLWithPath: config))
        let bad = try runRedline(["what-if", "--config", config, "--symbol", "A", "--side", "buy", "--qty", "1", "--price", "1"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.output.contains(#"missing key "limits.maxTotalNotional""#), bad.output)

        // From a journal: the recovered restriction answers.
        let journalDir = try makeTemporaryDirectory()
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: journalDir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        _ = try monitor.register(symbol: "ETHUSDT")
        var limits = monitor.limits
        limits.restrictedSymbols = ["ETHUSDT"]
        try monitor.updateLimits(limits)
        journal.close()
        let restricted = try runRedline(["what-if", "--journal", journalDir, "--symbol", "ETHUSDT", "--side", "buy",
                                         "--qty", "1", "--price", "2000"])
        XCTAssertEqual(restricted.status, 3, restricted.output)
        XCTAssertTrue(restricted.output.contains("RESTRICTED"), restricted.output)
    }
}
