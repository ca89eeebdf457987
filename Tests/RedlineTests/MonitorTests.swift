import Foundation
import Redline
import XCTest

final class MonitorTests: XCTestCase {
    func testRiskLimitsRejectBadValues() {
        XCTAssertThrowsError(try RiskLimits(maxInventoryUSD: .nan, maxTotalNotional: 1, edgeFreezeThresholdBps: 1))
        XCTAssertThrowsError(try RiskLimits(maxInventoryUSD: 0, maxTotalNotional: 1, edgeFreezeThresholdBps: 1))
        XCTAssertThrowsError(try RiskLimits(maxInventoryUSD: -5, maxTotalNotional: 1, edgeFreezeThresholdBps: 1))
        XCTAssertThrowsError(try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: .infinity, edgeFreezeThresholdBps: 1))
        XCTAssertThrowsError(try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: 10, edgeFreezeThresholdBps: .nan))
        XCTAssertThrowsRedline(.invalidLimits("maxInventoryUSD (20.0) is above maxTotalNotional 10.0")) {
            try RiskLimits(maxInventoryUSD: 20, maxTotalNotional: 10, edgeFreezeThresholdBps: 1)
        }
        XCTAssertThrowsError(try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: 10, edgeFreezeThresholdBps: 1,
                                            symbolOverrides: ["BTCUSDT": 11]))
        XCTAssertThrowsError(try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: 10, edgeFreezeThresholdBps: 1,
                                            symbolOverrides: ["BTCUSDT": .nan]))
        XCTAssertNoThrow(try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: 10, edgeFreezeThresholdBps: -5))
    }

    func testSymbolOverridesReplaceTheDefaultLimit() throws {
        let limits = try RiskLimits(maxInventoryUSD: 5_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 200,
                                    symbolOverrides: ["SOLUSDT": 1_000])
        let h = try Harness(limits: limits)
        XCTAssertEqual(h.monitor.checkBeforeOrder(symbol: "SOLUSDT", side: .buy, qty: 11, price: 100), .blocked(.symbolLimit))
        XCTAssertEqual(h.monitor.checkBeforeOrder(symbol: "ETHUSDT", side: .buy, qty: 1, price: 2_000), .allowed)
        try h.monitor.updateLimits(try RiskLimits(maxInventoryUSD: 5_000, maxTotalNotional: 20_000,
                                                  edgeFreezeThresholdBps: 200))
        XCTAssertEqual(h.monitor.checkBeforeOrder(symbol: "SOLUSDT", side: .buy, qty: 11, price: 100), .allowed)
    }

    func testFactoryHasSensibleDefaults() throws {
        let monitor = try RuntimeRiskMonitor.make()
        XCTAssertEqual(monitor.limits, .default)
        XCTAssertEqual(monitor.symbols, ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
        XCTAssertFalse(monitor.isFrozen)
        XCTAssertEqual(monitor.symbolCapacity, 4096)
    }

    func testSnapshotRoundTripsThroughJSONIntoAFreshMonitor() throws {
        let h = try Harness(exchange: .init(seed: 3, partialFillRatio: 1))
        try h.monitor.updatePosition(symbol: "BTCUSDT", qty: -0.02, price: 41_000)
        _ = try h.router.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 0.5, price: 2_000)
        _ = try h.router.placeOrder(symbol: "SOLUSDT", side: .sell, qty: 3, price: 100)
        h.router.poll()
        h.monitor.manualFreeze(reason: "end of day", metadata: ["desk": "crypto"])

        let snapshot = h.monitor.snapshot()
        let data = try JSONEncoder().encode(snapshot)
        let decoded = try JSONDecoder().decode(MonitorSnapshot.self, from: data)
        XCTAssertEqual(decoded, snapshot)

        let restored = try RuntimeRiskMonitor(limits: .default)
        try restored.restore(from: decoded)
        XCTAssertTrue(restored.isFrozen, "a frozen engine comes back frozen")
        XCTAssertEqual(restored.tradingState, h.monitor.tradingState)
        XCTAssertEqual(restored.freezeEvents, h.monitor.freezeEvents)
        XCTAssertEqual(restored.limits, h.monitor.limits)
        XCTAssertEqual(restored.allPositions, h.monitor.allPositions)
        XCTAssertEqual(restored.totalExposure, h.monitor.totalExposure)
        XCTAssertEqual(restored.snapshot().symbols, snapshot.symbols)
    }

    func testABadSnapshotIsRejectedAndChangesNothing() throws {
        let h = try Harness()
        try h.monitor.updatePosition(symbol: "BTCUSDT", qty: 0.1, price: 40_000)
        let good = h.monitor.snapshot()
        let json = String(decoding: try JSONEncoder().encode(good), as: UTF8.self)
        let negativeWorking = json.replacingOccurrences(of: "\"workingBuy\":0", with: "\"workingBuy\":-5")
        let bad = try JSONDecoder().decode(MonitorSnapshot.self, from: Data(negativeWorking.utf8))
        XCTAssertThrowsError(try h.monitor.restore(from: bad))
        let badLimits = json.replacingOccurrences(of: "\"maxInventoryUSD\":5000", with: "\"maxInventoryUSD\":-1")
        XCTAssertThrowsError(try JSONDecoder().decode(MonitorSnapshot.self, from: Data(badLimits.utf8)))
        XCTAssertEqual(h.monitor.snapshot().symbols, good.symbols)
        XCTAssertEqual(h.monitor.limits, good.limits)
    }

    func testALimitViolationAndItsEndAreRecordedInMetrics() throws {
        let h = try Harness() // $5,000 per symbol
        try h.monitor.updatePosition(symbol: "BTCUSDT", qty: 0.1, price: 40_000)
        try h.monitor.markPrice(symbol: "BTCUSDT", price: 55_000) // $5,500: over
        XCTAssertEqual(h.monitor.tradingState.mode, .reducing)
        XCTAssertEqual(h.monitor.freezeEvents.first?.trigger, .limitViolation)
        XCTAssertEqual(h.monitor.freezeEvents.first?.metadata["symbol"], "BTCUSDT")
        XCTAssertEqual(parsePrometheus(h.monitor.prometheusText())["trading_reducing"], 1)
        try h.monitor.markPrice(symbol: "BTCUSDT", price: 48_000) // $4,800: under the limit, over 95% of it
        XCTAssertEqual(h.monitor.tradingState.mode, .reducing)
        try h.monitor.markPrice(symbol: "BTCUSDT", price: 47_000) // $4,700: under 95%
        XCTAssertEqual(h.monitor.tradingState.mode, .active)
        XCTAssertEqual(h.monitor.stateChanges.map(\.cause), [.limitViolation, .limitsCleared])
        let m = parsePrometheus(h.monitor.prometheusText())
        XCTAssertEqual(m["freeze_triggered_total{reason=\"limit_violation\"}"], 1)
        XCTAssertEqual(m["unfreeze_total"], 1)
        XCTAssertEqual(m["trading_frozen"], 0)
        XCTAssertEqual(m["trading_reducing"], 0)
        XCTAssertEqual(h.monitor.tradingState.epoch, 2)
    }

    func testACircuitBreakerNeverLiftsAPersistentHalt() throws {
        let h = try Harness()
        h.monitor.manualFreeze(reason: "operator")
        XCTAssertFalse(h.monitor.unfreeze(reason: "breaker", byCircuitBreaker: true))
        XCTAssertTrue(h.monitor.isFrozen)
        XCTAssertTrue(h.monitor.unfreeze(reason: "operator says go"))
        XCTAssertTrue(try h.monitor.autoFreezeOnEdgeDrop(currentEdgeBps: 10))
        XCTAssertFalse(h.monitor.unfreeze(reason: "edge recovered?", byCircuitBreaker: true), "edge collapse is persistent")
        XCTAssertEqual(h.monitor.freezeEvents.last?.trigger.reasonClass, .persistent)
        XCTAssertTrue(h.monitor.unfreeze(reason: "operator says go"))
    }

    func testRegistrationErrorsAreTyped() throws {
        let monitor = try RuntimeRiskMonitor(limits: .default, symbols: ["A"], symbolCapacity: 2)
        XCTAssertEqual(try monitor.register(symbol: "A"), try monitor.symbolID("A"), "idempotent")
        XCTAssertThrowsRedline(.invalidSymbolName("has space")) { try monitor.register(symbol: "has space") }
        XCTAssertNoThrow(try monitor.register(symbol: "B"))
        XCTAssertThrowsRedline(.symbolRegistryFull(capacity: 2)) { try monitor.register(symbol: "C") }
        XCTAssertThrowsRedline(.unknownSymbol("C")) { try monitor.symbolID("C") }
    }
}
