import Logging
import Redline
import RedlineCore
import XCTest

final class RouterTests: XCTestCase {
    func testManySmallOrdersStopAtTheLimitBecauseWorkingOrdersCount() throws {
        let h = try Harness()
        var placed = 0
        while true {
            do { _ = try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000) } catch {
                XCTAssertEqual(error, .blocked(.symbolLimit))
                break
            }
            placed += 1
            h.router.poll()
        }
        XCTAssertEqual(placed, 12, "12 x $400 = $4,800; a 13th would make $5,200")
        XCTAssertEqual(h.monitor.position(of: "BTCUSDT")?.workingBuy ?? 0, 0.12, accuracy: 1e-12)
        XCTAssertEqual(h.monitor.check(try h.monitor.symbolID("BTCUSDT"), side: .buy, qty: 0.01, price: 40_000),
                       .blocked(.symbolLimit))
    }

    func testFillsReachPositionsThroughTheRingAndTheRiskStep() throws {
        let h = try Harness(exchange: .init(seed: 1, fillRatio: 1))
        let id = try h.router.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 0.5, price: 2_000)
        XCTAssertEqual(h.monitor.position(of: "ETHUSDT")?.quantity, 0, "nothing applied before the risk side drains")
        h.router.poll()
        XCTAssertEqual(try h.router.order(id).status, .filled)
        let p = try XCTUnwrap(h.monitor.position(of: "ETHUSDT"))
        XCTAssertEqual(p.quantity, 0.5)
        XCTAssertEqual(p.workingBuy, 0)
        XCTAssertEqual(p.notionalUSD, 1_000)
        XCTAssertEqual(h.monitor.totalNotional, 1_000)
        let util = h.monitor.utilization()
        XCTAssertEqual(util.perSymbol["ETHUSDT"], 20)
        XCTAssertEqual(util.total, 5)
        let metrics = parsePrometheus(h.monitor.prometheusText())
        XCTAssertEqual(metrics["orders_filled_total"], 1)
        XCTAssertEqual(metrics["orders_placed_total"], 1)
        XCTAssertEqual(metrics["symbol_utilization_percent{symbol=\"ETHUSDT\"}"], 20)
        XCTAssertEqual(metrics["book_utilization_percent"], 5)
    }

    func testBadInputIsAClearErrorAndChangesNoState() throws {
        let h = try Harness()
        _ = try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        h.router.poll()
        let before = h.monitor.snapshot()
        let cases: [(String, Double, Double, BlockReason)] = [
            ("BTCUSDT", .nan, 40_000, .invalidQuantity), ("BTCUSDT", 0.01, .nan, .invalidPrice),
            ("BTCUSDT", .infinity, 40_000, .invalidQuantity), ("BTCUSDT", 0.01, .infinity, .invalidPrice),
            ("BTCUSDT", 0, 40_000, .invalidQuantity), ("BTCUSDT", -0.01, 40_000, .invalidQuantity),
            ("BTCUSDT", 0.01, 0, .invalidPrice), ("BTCUSDT", 0.01, -1, .invalidPrice),
            ("DOGEUSDT", 1, 0.1, .unknownSymbol), ("BTCUSDT", 1e12, 1, .overflow),
        ]
        for (symbol, qty, price, reason) in cases {
            XCTAssertThrowsRedline(.blocked(reason)) { try h.router.placeOrder(symbol: symbol, side: .buy, qty: qty, price: price) }
            XCTAssertEqual(h.monitor.checkBeforeOrder(symbol: symbol, side: .sell, qty: qty, price: price), .blocked(reason))
        }
        h.router.poll()
        let after = h.monitor.snapshot()
        XCTAssertEqual(after.symbols, before.symbols)
        XCTAssertEqual(after.tradingState, before.tradingState)
        XCTAssertEqual(h.router.activeOrderCount, 1)
        XCTAssertThrowsRedline(.invalidInput("currentEdgeBps must be a finite number, got nan")) {
            try h.monitor.autoFreezeOnEdgeDrop(currentEdgeBps: .nan)
        }
        XCTAssertThrowsRedline(.unknownSymbol("DOGEUSDT")) { try h.monitor.updatePosition(symbol: "DOGEUSDT", qty: 1, price: 1) }
        XCTAssertThrowsRedline(.blocked(.invalidPrice)) { try h.monitor.updatePosition(symbol: "BTCUSDT", qty: 1, price: .nan) }
        XCTAssertEqual(h.monitor.snapshot().symbols, before.symbols)
        let blocked = parsePrometheus(h.monitor.prometheusText())
        XCTAssertEqual(blocked["orders_blocked_total{reason=\"invalid_qty\"}"], 4)
        XCTAssertEqual(blocked["orders_blocked_total{reason=\"unknown_symbol\"}"], 1)
    }

    func testCancelFailuresAreRetriedThenReportedAndRetriedByTheNextCancelAll() throws {
        let h = try Harness(cancelRetries: 2)
        let a = try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        let b = try h.router.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 0.1, price: 2_000)
        h.router.poll()

        h.exchange.failNextCancels = 2 // the first order's first two attempts fail; the third succeeds
        var report = h.router.cancelAllOrders(reason: "test")
        XCTAssertEqual(report.failed, [])
        XCTAssertEqual(report.canceled, 2)
        XCTAssertEqual(h.exchange.cancelRequests, 4)

        let c = try h.router.placeOrder(symbol: "SOLUSDT", side: .buy, qty: 1, price: 100)
        h.router.poll()
        h.exchange.failAllCancels = true
        report = h.router.cancelAllOrders(reason: "test")
        XCTAssertEqual(report.failed, [c])
        XCTAssertEqual(report.stillActive, 1)
        XCTAssertFalse(report.isComplete)
        XCTAssertEqual(try h.router.order(c).status, .pendingCancel)
        XCTAssertEqual(h.exchange.cancelRequests, 4 + 3, "one try and two retries")
        XCTAssertEqual(parsePrometheus(h.monitor.prometheusText())["cancel_failures_total"], 1)
        XCTAssertEqual(h.monitor.position(of: "SOLUSDT")?.workingBuy, 1, "still reserved: the order may still trade")

        h.exchange.failAllCancels = false
        report = h.router.cancelAllOrders(reason: "retry")
        XCTAssertTrue(report.isComplete)
        XCTAssertEqual(try h.router.order(c).status, .canceled)
        h.monitor.drain()
        XCTAssertEqual(h.monitor.position(of: "SOLUSDT")?.workingBuy, 0)
        _ = (a, b)
    }

    /// A freeze whose cancels the venue refuses: the router owes them and
    /// sends them again from its polls (with a backoff), in the same freeze,
    /// instead of waiting for the next one. (They were retried only at the
    /// next freeze epoch, so an order a freeze meant to cancel could stay
    /// working at the venue for the whole halt.)
    /// One working order, then a freeze whose cancel the venue refuses: the
    /// router owes it.
    private func frozenOwingOneCancel(retries: Int) throws -> (Harness, OrderID) {
        let h = try Harness(cancelRetries: retries)
        let id = try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        h.router.poll()
        h.exchange.failAllCancels = true
        XCTAssertTrue(h.monitor.manualFreeze(reason: "drill"))
        let report = try XCTUnwrap(h.router.pollFreeze())
        XCTAssertEqual(report.failed, [id])
        XCTAssertEqual(h.router.owedCancelCount, 1)
        return (h, id)
    }

    func testCancelsAFreezeCouldNotSendAreSentAgainFromLaterPolls() throws {
        let (h, id) = try frozenOwingOneCancel(retries: 1)
        let tried = h.exchange.cancelRequests
        let owedAt = rl_clock_ns()
        h.router.poll()
        // The backoff runs from the cancel-all, before `owedAt`: only a poll
        // within 1 ms of it can be asked not to send (a slow host, a
        // sanitizer build, may take longer to get here).
        if rl_clock_ns() - owedAt < 900_000 {
            XCTAssertEqual(h.exchange.cancelRequests, tried, "not again before its backoff (1 ms)")
        }
        usleep(2_000)
        h.router.poll()
        XCTAssertEqual(h.exchange.cancelRequests, tried + 2, "again after it: one try and one retry")
        XCTAssertEqual(h.router.owedCancelCount, 1, "still refused")
        h.exchange.failAllCancels = false
        usleep(5_000) // past the doubled backoff
        h.router.poll()
        h.router.poll()
        XCTAssertEqual(h.router.owedCancelCount, 0)
        XCTAssertEqual(try h.router.order(id).status, .canceled, "canceled in the same freeze")
        XCTAssertTrue(h.monitor.isFrozen, "and nothing else changed")
        h.monitor.drain()
        XCTAssertEqual(h.monitor.position(of: "BTCUSDT")?.workingBuy, 0)
    }

    /// An owed cancel the strategy sends itself is owed no more: no second
    /// cancel for it (found by an adversarial review).
    func testAnOwedCancelTheStrategySendsIsNotSentAgain() throws {
        let (h, id) = try frozenOwingOneCancel(retries: 0)
        h.exchange.failAllCancels = false
        try h.router.cancel(id)
        XCTAssertEqual(h.router.owedCancelCount, 0)
        let sent = h.exchange.cancelRequests
        usleep(2_000)
        h.router.poll()
        XCTAssertEqual(h.exchange.cancelRequests, sent, "not sent again")
        XCTAssertEqual(try h.router.order(id).status, .canceled)
    }

    /// One venue client per router: the venue calls carry no session, so a
    /// second router on the same client would poll the first's answers (its
    /// acks and fills lost to a router that cannot place them) and its mass
    /// cancel would cancel the first's orders behind its back, leaving them
    /// working in the first router for good. Refused, with nothing taken;
    /// the client is free again once its router is gone.
    func testASecondRouterOnTheSameVenueClientIsRefused() throws {
        let h = try Harness()
        let id = try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        XCTAssertThrowsError(try OrderRouter(monitor: h.monitor, client: h.exchange, logger: quietLogger())) { error in
            guard case .invalidInput(let why) = error as? RedlineError else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains("already serves strategy \(h.router.strategyID)'s router"), why)
        }
        h.router.poll()
        XCTAssertEqual(try h.router.order(id).status, .acknowledged, "the first router's answers are still its own")
        // Another client serves another router; a client whose router is gone serves a new one.
        let other = SimulatedExchange(.init())
        var second: OrderRouter? = try OrderRouter(monitor: h.monitor, client: other, logger: quietLogger())
        XCTAssertNotNil(second)
        second = nil
        XCTAssertNoThrow(try OrderRouter(monitor: h.monitor, client: other, logger: quietLogger()))
    }

    func testRejectedAndUnsentOrdersReleaseTheirReservation() throws {
        let h = try Harness(exchange: .init(rejectRatio: 1))
        let id = try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.1, price: 40_000)
        h.router.poll()
        XCTAssertEqual(try h.router.order(id).status, .rejected)
        XCTAssertEqual(h.monitor.position(of: "BTCUSDT")?.workingBuy, 0)

        let down = try Harness()
        down.exchange.isUnavailable = true
        XCTAssertThrowsRedline(.exchange(.unavailable)) {
            try down.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.1, price: 40_000)
        }
        down.monitor.drain()
        XCTAssertEqual(down.monitor.position(of: "BTCUSDT")?.workingBuy, 0)
        XCTAssertEqual(down.monitor.totalExposure, 0)
        XCTAssertEqual(down.router.activeOrderCount, 0)
    }

    func testPartialFillThenCancelReleasesOnlyTheRemainder() throws {
        let h = try Harness(exchange: .init(partialFillRatio: 1))
        let id = try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.1, price: 40_000)
        h.router.poll()
        XCTAssertEqual(try h.router.order(id).status, .partiallyFilled)
        h.router.cancelAllOrders(reason: "done")
        h.monitor.drain()
        let p = try XCTUnwrap(h.monitor.position(of: "BTCUSDT"))
        XCTAssertEqual(p.quantity, 0.05)
        XCTAssertEqual(p.workingBuy, 0)
        XCTAssertEqual(h.monitor.totalExposure, 2_000)
    }

    func testExpiryReleasesTheReservation() throws {
        let h = try Harness()
        let id = try h.router.placeOrder(symbol: "BTCUSDT", side: .sell, qty: 0.1, price: 40_000)
        h.router.poll()
        h.exchange.expireResting(id)
        h.router.poll()
        XCTAssertEqual(try h.router.order(id).status, .expired)
        XCTAssertEqual(h.monitor.position(of: "BTCUSDT")?.workingSell, 0)
    }

    func testAFullRingIsDrainedNotDropped() throws {
        let h = try Harness(exchange: .init(fillRatio: 1), ringCapacity: 4)
        for _ in 0..<20 {
            _ = try h.router.placeOrder(symbol: "SOLUSDT", side: .buy, qty: 0.1, price: 100)
            h.router.processExchangeEvents()
        }
        h.monitor.drain()
        XCTAssertEqual(h.monitor.position(of: "SOLUSDT")?.quantity ?? 0, 2, accuracy: 1e-12)
        XCTAssertGreaterThan(parsePrometheus(h.monitor.prometheusText())["ring_full_total"] ?? 0, 0)
    }

    func testExchangeEventsForUnknownOrdersAreCountedNotFatal() throws {
        let h = try Harness(exchange: .init(fillRatio: 1))
        let id = try h.router.placeOrder(symbol: "SOLUSDT", side: .buy, qty: 1, price: 100)
        h.router.poll()
        h.exchange.fillResting(id, price: 100) // not resting: nothing happens
        XCTAssertEqual(h.router.invalidExchangeEvents, 0)
        XCTAssertEqual(try h.router.order(id).status, .filled)
    }
}

final class RingFullPolicyTests: XCTestCase {
    func testFailPolicyRefusesNewOrdersWhileTheRingIsFullAndReservesNothing() throws {
        let logger = quietLogger()
        let monitor = try RuntimeRiskMonitor(limits: .default, symbols: ["BTCUSDT"], logger: logger)
        let router = try OrderRouter(monitor: monitor, client: SimulatedExchange(), orderCapacity: 16, ringCapacity: 2,
                                     ringFullPolicy: .fail, logger: logger)
        _ = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        _ = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        let before = monitor.position(of: "BTCUSDT")?.workingBuy
        XCTAssertThrowsRedline(.ringFull) { try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000) }
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.workingBuy, before, "nothing reserved")
        XCTAssertEqual(parsePrometheus(monitor.prometheusText())["ring_full_total"], 1)
        router.poll() // the risk side catches up (here: drained inline)
        XCTAssertNoThrow(try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000))
    }
}
