import Redline
import XCTest

/// The three original scenarios, end to end through the real router, state
/// machine, ring, engine step and simulated exchange.
final class ScenarioTests: XCTestCase {
    func testEdgeCollapseFreezesCancelsEverythingAndBlocksNewOrders() throws {
        let h = try Harness(exchange: .init(seed: 7, partialFillRatio: 0.5))
        let btc = try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        let eth = try h.router.placeOrder(symbol: "ETHUSDT", side: .sell, qty: 0.5, price: 2_000)
        let sol = try h.router.placeOrder(symbol: "SOLUSDT", side: .buy, qty: 5, price: 100)
        h.router.poll()
        XCTAssertEqual(h.router.activeOrderCount, 3)
        XCTAssertGreaterThan(h.monitor.totalExposure, 0)

        XCTAssertFalse(try h.monitor.autoFreezeOnEdgeDrop(currentEdgeBps: 250, router: h.router), "250 bps is healthy")
        XCTAssertTrue(try h.monitor.autoFreezeOnEdgeDrop(currentEdgeBps: 150, router: h.router))

        XCTAssertTrue(h.monitor.isFrozen)
        XCTAssertEqual(h.router.activeOrderCount, 0)
        for id in [btc, eth, sol] { XCTAssertEqual(try h.router.order(id).status, .canceled) }
        XCTAssertEqual(h.router.lastCancelReport?.canceled, 3)
        h.monitor.drain()
        for symbol in ["BTCUSDT", "ETHUSDT", "SOLUSDT"] {
            let p = try XCTUnwrap(h.monitor.position(of: symbol))
            XCTAssertEqual(p.workingBuy, 0, symbol)
            XCTAssertEqual(p.workingSell, 0, symbol)
        }
        let event = try XCTUnwrap(h.monitor.freezeEvents.last)
        XCTAssertEqual(event.trigger, .edgeCollapse)
        XCTAssertEqual(event.metadata["edge_bps"], "150.0")
        XCTAssertEqual(h.monitor.freezeEvents.count, 1)

        let metrics = parsePrometheus(h.monitor.prometheusText())
        XCTAssertEqual(metrics["freeze_triggered_total{reason=\"edge_collapse\"}"], 1)
        XCTAssertEqual(metrics["orders_canceled_total"], 3)
        XCTAssertEqual(metrics["trading_frozen"], 1)

        XCTAssertThrowsRedline(.blocked(.frozen)) {
            try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        }
        XCTAssertFalse(try h.monitor.autoFreezeOnEdgeDrop(currentEdgeBps: 100, router: h.router), "freeze happens once")
        XCTAssertEqual(h.monitor.freezeEvents.count, 1)
        XCTAssertEqual(parsePrometheus(h.monitor.prometheusText())["orders_blocked_total{reason=\"frozen\"}"], 1)
    }

    func testInventoryLimitBlocksTheOrderWithoutFreezing() throws {
        let h = try Harness()
        try h.monitor.updatePosition(symbol: "BTCUSDT", qty: 0.1, price: 40_000)
        XCTAssertEqual(h.monitor.positions["BTCUSDT"], 4_000)

        let decision = h.monitor.checkBeforeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.0625, price: 40_000)
        XCTAssertEqual(decision, .blocked(.symbolLimit), "$4,000 + $2,500 > $5,000")
        XCTAssertThrowsRedline(.blocked(.symbolLimit)) {
            try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.0625, price: 40_000)
        }
        XCTAssertFalse(h.monitor.isFrozen)
        XCTAssertEqual(h.router.activeOrderCount, 0)
        XCTAssertEqual(h.monitor.position(of: "BTCUSDT")?.workingBuy, 0)
        XCTAssertEqual(parsePrometheus(h.monitor.prometheusText())["orders_blocked_total{reason=\"symbol_limit\"}"], 1)
        XCTAssertNoThrow(try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.025, price: 40_000), "$1,000 fits")
    }

    func testManualFreezeRecordsCancelsBlocksAndUnfreezeLetsOrdersThrough() throws {
        let h = try Harness()
        _ = try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        _ = try h.router.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 0.1, price: 2_000)
        h.router.poll()

        XCTAssertTrue(h.monitor.manualFreeze(reason: "operator: venue incident", router: h.router,
                                             metadata: ["operator": "alice"]))
        XCTAssertFalse(h.monitor.manualFreeze(reason: "again", router: h.router), "idempotent")
        XCTAssertEqual(h.monitor.freezeEvents.count, 1)
        let event = try XCTUnwrap(h.monitor.freezeEvents.first)
        XCTAssertEqual(event.trigger, .manual)
        XCTAssertEqual(event.reason, "operator: venue incident")
        XCTAssertEqual(event.metadata, ["operator": "alice"])
        XCTAssertEqual(h.router.activeOrderCount, 0)
        XCTAssertThrowsRedline(.blocked(.frozen)) {
            try h.router.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 0.1, price: 2_000)
        }
        XCTAssertEqual(parsePrometheus(h.monitor.prometheusText())["freeze_triggered_total{reason=\"manual\"}"], 1)

        XCTAssertTrue(h.monitor.unfreeze(reason: "incident resolved"))
        XCTAssertFalse(h.monitor.unfreeze(reason: "again"), "idempotent")
        XCTAssertFalse(h.monitor.isFrozen)
        let id = try h.router.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 0.1, price: 2_000)
        h.router.poll()
        XCTAssertEqual(try h.router.order(id).status, .acknowledged)
        XCTAssertEqual(h.router.activeOrderCount, 1, "a freeze seen before is not cancelled again")
    }
}
