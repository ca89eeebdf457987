import Foundation
import Redline
import RedlineCore
import XCTest

/// A venue that does exactly what a test tells it: every request is taken,
/// and the test hands in the events it reports, impossible ones included.
final class ScriptedVenue: ExchangeClient {
    var submitted: [ExchangeOrder] = []
    var pending: [ExchangeEvent] = []
    func submit(_ order: ExchangeOrder) throws(ExchangeError) { submitted.append(order) }
    func cancel(_ id: OrderID) throws(ExchangeError) {}
    func pollEvents(_ body: (ExchangeEvent) -> Void) {
        let events = pending
        pending.removeAll()
        events.forEach(body)
    }
}

/// The exposure model, through the Swift API: valuation at the market, limit
/// breaches by market moves (REDUCING), the way out, impossible venue events,
/// conversions toward risk, and bad input.
final class ExposureTests: XCTestCase {
    private func monitor(symbolLimit: Double = 5_000, book: Double = 20_000) throws -> RuntimeRiskMonitor {
        try RuntimeRiskMonitor(
            limits: try RiskLimits(maxInventoryUSD: symbolLimit, maxTotalNotional: book, edgeFreezeThresholdBps: 200),
            symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT"], logger: quietLogger())
    }

    // MARK: Valuation at the market

    func testAnOrderIsValuedAtTheMarketNotOnlyAtItsOwnPrice() throws {
        let m = try monitor()
        let sol = try m.symbolID("SOLUSDT"), btc = try m.symbolID("BTCUSDT")
        try m.markPrice(symbol: "SOLUSDT", price: 100)
        // 1001 SOL at a penny is $10, but 1001 SOL is $100,100 at the market.
        XCTAssertEqual(m.check(sol, side: .sell, qty: 1001, price: 0.01), .blocked(.symbolLimit))
        try m.markPrice(symbol: "BTCUSDT", price: 40_000)
        XCTAssertEqual(m.check(btc, side: .buy, qty: 100, price: 1), .blocked(.symbolLimit))
        // At the market, what fits passes.
        XCTAssertEqual(m.check(sol, side: .sell, qty: 49, price: 0.01), .allowed)
    }

    func testAnOrderAboveTheMarketIsValuedAtItsOwnPrice() throws {
        let m = try monitor()
        let btc = try m.symbolID("BTCUSDT")
        try m.markPrice(symbol: "BTCUSDT", price: 40_000)
        // 0.12 at the mark is $4,800; at the order's $45,000 it is $5,400.
        XCTAssertEqual(m.check(btc, side: .buy, qty: 0.12, price: 45_000), .blocked(.symbolLimit))
        XCTAssertEqual(m.check(btc, side: .buy, qty: 0.12, price: 40_000), .allowed)
    }

    func testBeforeAnyMarkAnOrderIsValuedAtTheHighestOrderPrice() throws {
        let m = try monitor()
        let eth = try m.symbolID("ETHUSDT")
        _ = try m.reserve(eth, side: .buy, qty: 1, price: 2_000)
        // The side is now valued at $2,000; a second buy at $2,500 revalues the whole side.
        XCTAssertEqual(m.check(eth, side: .buy, qty: 0.9, price: 2_500), .allowed) // 1.9 x 2,500 = 4,750
        XCTAssertEqual(m.check(eth, side: .buy, qty: 1.1, price: 2_500), .blocked(.symbolLimit)) // 2.1 x 2,500
    }

    // MARK: Market moves and REDUCING

    func testAMarkThatBreachesALimitEntersReducingAndRecordsIt() throws {
        let m = try monitor()
        try m.updatePosition(symbol: "BTCUSDT", qty: 0.1, price: 40_000)
        XCTAssertEqual(m.tradingState.mode, .active)
        try m.markPrice(symbol: "BTCUSDT", price: 60_000) // $6,000 > $5,000
        XCTAssertEqual(m.tradingState.mode, .reducing)
        let event = try XCTUnwrap(m.freezeEvents.last)
        XCTAssertEqual(event.trigger, .limitViolation)
        XCTAssertEqual(event.metadata["exposure_usd"], "6000.0")
        XCTAssertEqual(event.metadata["limit_usd"], "5000.0")
        XCTAssertEqual(parsePrometheus(m.prometheusText())["freeze_triggered_total{reason=\"limit_violation\"}"], 1)
        XCTAssertFalse(m.isFrozen, "REDUCING is not a halt")
    }

    func testTheBookLimitBreachedByAMarketMoveEntersReducing() throws {
        let m = try monitor(symbolLimit: 5_000, book: 8_000)
        try m.updatePosition(symbol: "BTCUSDT", qty: 0.1, price: 40_000) // $4,000
        try m.updatePosition(symbol: "ETHUSDT", qty: 2, price: 1_800)    // $3,600
        try m.markPrice(symbol: "ETHUSDT", price: 2_400)                 // $4,800: book $8,800
        XCTAssertEqual(m.tradingState.mode, .reducing)
        XCTAssertEqual(m.freezeEvents.last?.metadata["scope"], "book")
        try m.markPrice(symbol: "ETHUSDT", price: 1_700) // book $7,400 <= 95% of $8,000
        XCTAssertEqual(m.tradingState.mode, .active)
        XCTAssertEqual(m.stateChanges.last?.cause, .limitsCleared)
    }

    func testReducingReturnsToActiveOnlyUnderTheResumeShare() throws {
        let limits = try RiskLimits(maxInventoryUSD: 5_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 200,
                                    resumeShare: 0.8)
        let m = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
        try m.updatePosition(symbol: "BTCUSDT", qty: 0.1, price: 55_000)
        XCTAssertEqual(m.tradingState.mode, .reducing)
        try m.markPrice(symbol: "BTCUSDT", price: 45_000) // $4,500: under the limit, over 80%
        XCTAssertEqual(m.tradingState.mode, .reducing)
        try m.markPrice(symbol: "BTCUSDT", price: 39_000) // $3,900 <= $4,000
        XCTAssertEqual(m.tradingState.mode, .active)
    }

    func testALimitLoweredUnderTheExposureEntersReducing() throws {
        let m = try monitor()
        try m.updatePosition(symbol: "BTCUSDT", qty: 0.1, price: 40_000)
        try m.updateLimits(try RiskLimits(maxInventoryUSD: 3_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 200))
        XCTAssertEqual(m.tradingState.mode, .reducing)
        XCTAssertEqual(m.freezeEvents.last?.trigger, .limitViolation)
    }

    // MARK: The way out

    /// Long 0.1 BTC marked to $60,000 ($6,000, over the $5,000 limit): REDUCING.
    private func overTheLimit() throws -> (RuntimeRiskMonitor, SymbolID) {
        let m = try monitor()
        try m.updatePosition(symbol: "BTCUSDT", qty: 0.1, price: 40_000)
        try m.markPrice(symbol: "BTCUSDT", price: 60_000)
        XCTAssertEqual(m.tradingState.mode, .reducing)
        return (m, try m.symbolID("BTCUSDT"))
    }

    func testAnOrderThatReducesPassesWhileReducingAndOneThatRaisesDoesNot() throws {
        let (m, btc) = try overTheLimit()
        XCTAssertThrowsRedline(.blocked(.reduceOnly)) { try m.reserve(btc, side: .buy, qty: 0.01, price: 60_000) }
        XCTAssertNoThrow(try m.reserve(btc, side: .sell, qty: 0.04, price: 60_000), "reduces the long")
        XCTAssertNoThrow(try m.reserve(btc, side: .sell, qty: 0.06, price: 60_000), "down to flat, working counted")
        XCTAssertThrowsRedline(.blocked(.reduceOnly), "with 0.1 already working to close the 0.1 long, a sell only opens") {
            try m.reserve(btc, side: .sell, qty: 0.01, price: 60_000)
        }
    }

    func testTheWayOutPassesEvenWhenTheBookIsOverItsLimit() throws {
        let m = try monitor(symbolLimit: 5_000, book: 6_000)
        try m.updatePosition(symbol: "BTCUSDT", qty: 0.1, price: 40_000) // $4,000
        try m.updatePosition(symbol: "ETHUSDT", qty: -1, price: 2_000)   // short $2,000: book $6,000
        try m.markPrice(symbol: "ETHUSDT", price: 3_000)                 // book $7,000
        XCTAssertEqual(m.tradingState.mode, .reducing)
        let eth = try m.symbolID("ETHUSDT"), btc = try m.symbolID("BTCUSDT")
        XCTAssertNoThrow(try m.reserve(eth, side: .buy, qty: 1, price: 3_000), "buys back the short")
        XCTAssertNoThrow(try m.reserve(btc, side: .sell, qty: 0.1, price: 40_000), "sells the long")
        XCTAssertThrowsRedline(.blocked(.reduceOnly)) { try m.reserve(btc, side: .buy, qty: 0.01, price: 40_000) }
    }

    func testWithWorkingOrdersOnBothSidesOnlyTheSideThatShrinksIsAWayOut() throws {
        let m = try monitor()
        let btc = try m.symbolID("BTCUSDT")
        try m.updatePosition(symbol: "BTCUSDT", qty: 0.05, price: 40_000)
        _ = try m.reserve(btc, side: .buy, qty: 0.05, price: 40_000)  // long worst 0.1
        _ = try m.reserve(btc, side: .sell, qty: 0.02, price: 40_000) // short worst -0.03 (still long)
        try m.markPrice(symbol: "BTCUSDT", price: 60_000)             // 0.1 x 60,000 = $6,000: REDUCING
        XCTAssertEqual(m.tradingState.mode, .reducing)
        // Sells move the short worst case from -0.03 toward 0 and past it; up to +0.03 they open no more than they close.
        XCTAssertNoThrow(try m.reserve(btc, side: .sell, qty: 0.06, price: 60_000))
        XCTAssertThrowsRedline(.blocked(.reduceOnly)) { try m.reserve(btc, side: .sell, qty: 0.01, price: 60_000) }
        XCTAssertThrowsRedline(.blocked(.reduceOnly)) { try m.reserve(btc, side: .buy, qty: 0.01, price: 60_000) }
    }

    func testAHaltBlocksEvenTheWayOut() throws {
        let (m, btc) = try overTheLimit()
        m.manualFreeze(reason: "operator")
        XCTAssertThrowsRedline(.blocked(.frozen)) { try m.reserve(btc, side: .sell, qty: 0.05, price: 60_000) }
        XCTAssertTrue(m.unfreeze(reason: "go"))
        XCTAssertEqual(m.tradingState.mode, .reducing, "a breach still in place resumes into REDUCING")
        XCTAssertNoThrow(try m.reserve(btc, side: .sell, qty: 0.05, price: 60_000))
    }

    func testInActiveAnOrderThatDoesNotRaiseItsSideSkipsTheLimitCheck() throws {
        let m = try monitor()
        let btc = try m.symbolID("BTCUSDT")
        try m.updatePosition(symbol: "BTCUSDT", qty: 0.12, price: 40_000) // $4,800 of $5,000
        XCTAssertEqual(m.tradingState.mode, .active)
        XCTAssertThrowsRedline(.blocked(.symbolLimit)) { try m.reserve(btc, side: .buy, qty: 0.01, price: 40_000) }
        // Across zero: closes 0.12, opens 0.12 short ($4,800 of its own): no limit to check.
        XCTAssertNoThrow(try m.reserve(btc, side: .sell, qty: 0.24, price: 40_000))
        XCTAssertThrowsRedline(.blocked(.symbolLimit), "opens more than it closes: checked, and over") {
            try m.reserve(btc, side: .sell, qty: 0.01, price: 40_000)
        }
    }

    func testAnOrderAcrossZeroThatOpensLessThanItClosesPassesWhileReducing() throws {
        let m = try monitor()
        let btc = try m.symbolID("BTCUSDT")
        try m.updatePosition(symbol: "BTCUSDT", qty: -0.2, price: 40_000) // short $8,000 > $5,000
        XCTAssertEqual(m.tradingState.mode, .reducing)
        XCTAssertNoThrow(try m.reserve(btc, side: .buy, qty: 0.3, price: 40_000), "closes 0.2, opens 0.1")
    }

    // MARK: Impossible venue events

    func testAnOverFillMovesThePositionIsCountedAndLoggedOncePerOrder() throws {
        let m = try monitor()
        let venue = ScriptedVenue()
        let router = try OrderRouter(monitor: m, client: venue, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        venue.pending = [.acknowledged(id), .filled(id, quantity: 3_000_000, price: 40_000 * Int64(RL_FP_SCALE)),
                         .filled(id, quantity: 1_000_000, price: 40_000 * Int64(RL_FP_SCALE))]
        router.poll()
        XCTAssertEqual(try router.order(id).status, .filled)
        XCTAssertEqual(m.position(of: "BTCUSDT")?.quantity, 0.04, "the venue is the truth")
        XCTAssertEqual(m.position(of: "BTCUSDT")?.workingBuy, 0)
        XCTAssertEqual(router.anomalousFills, 2)
        let metrics = parsePrometheus(m.prometheusText())
        XCTAssertEqual(metrics["anomalous_events_total{kind=\"order_fill\"}"], 2)
        XCTAssertEqual(metrics["anomalous_events_total{kind=\"fill\"}"], 2, "the engine counts the excess it recorded")
    }

    func testAFillForAFinishedOrderNeverConsumesAnotherOrdersWorkingQuantity() throws {
        let m = try monitor() // $5,000 per symbol
        try m.markPrice(symbol: "BTCUSDT", price: 40_000)
        let venue = ScriptedVenue()
        let router = try OrderRouter(monitor: m, client: venue, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        let x = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.05, price: 40_000)
        let y = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.05, price: 40_000)
        venue.pending = [.acknowledged(x), .acknowledged(y)]
        router.poll()
        try router.cancel(x)
        // X is canceled, then the venue reports a fill for it anyway.
        venue.pending = [.canceled(x), .filled(x, quantity: 5_000_000, price: 40_000 * Int64(RL_FP_SCALE))]
        router.poll()
        m.drain()
        let p = try XCTUnwrap(m.position(of: "BTCUSDT"))
        XCTAssertEqual(p.quantity, 0.05, "the venue is the truth")
        XCTAssertEqual(p.workingBuy, 0.05, "Y is still working and still reserved")
        XCTAssertEqual(router.anomalousFills, 1)
        // Worst case: 0.05 held + 0.05 working = $4,000; 0.03 more is $5,200.
        XCTAssertThrowsRedline(.blocked(.symbolLimit)) {
            try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.03, price: 40_000)
        }
        XCTAssertNoThrow(try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.025, price: 40_000))
    }

    func testAHugeVenueOverFillIsRecordedAndAnUnrecordableOneHalts() throws {
        let m = try monitor()
        try m.markPrice(symbol: "BTCUSDT", price: 40_000)
        let venue = ScriptedVenue()
        let router = try OrderRouter(monitor: m, client: venue, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        let x = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        let y = try router.placeOrder(symbol: "ETHUSDT", side: .sell, qty: 0.1, price: 2_000)
        // A million BTC beyond the order: worth more than the exposure cap, and still the truth.
        venue.pending = [.acknowledged(x), .filled(x, quantity: 100_000_001_000_000, price: 40_000 * Int64(RL_FP_SCALE))]
        router.poll()
        m.drain()
        XCTAssertEqual(m.position(of: "BTCUSDT")?.quantity, 1_000_000.01, "recorded, not dropped")
        XCTAssertEqual(m.tradingState.mode, .reducing)
        XCTAssertThrowsRedline(.blocked(.reduceOnly)) {
            try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        }
        // Beyond what a position can hold at all (2^61 units of 10^-8): the book is unknown, trading halts.
        venue.pending = [.acknowledged(y), .filled(y, quantity: Int64(1) << 62, price: 2_000 * Int64(RL_FP_SCALE))]
        router.poll()
        m.drain()
        XCTAssertEqual(m.tradingState.mode, .halted)
        XCTAssertEqual(m.freezeEvents.last?.trigger, .unrecordableFill)
        XCTAssertEqual(m.freezeEvents.last?.metadata["symbol"], "ETHUSDT")
        let metrics = parsePrometheus(m.prometheusText())
        XCTAssertEqual(metrics["freeze_triggered_total{reason=\"unrecordable_fill\"}"], 1)
        XCTAssertFalse(m.unfreeze(reason: "transient?", byCircuitBreaker: true), "only an operator lifts it")
    }

    // MARK: Market data that cannot be real

    func testABadTickIsRefusedAndCannotWedgeTheBook() throws {
        let m = try monitor()
        try m.updatePosition(symbol: "BTCUSDT", qty: 1, price: 4_000)
        try m.updatePosition(symbol: "ETHUSDT", qty: 1, price: 2_000)
        XCTAssertThrowsRedline(.blocked(.overflow)) { try m.markPrice(symbol: "BTCUSDT", price: 9e10) }
        XCTAssertThrowsRedline(.blocked(.overflow)) { try m.updatePosition(symbol: "ETHUSDT", qty: 1, price: 9e10) }
        XCTAssertEqual(m.position(of: "BTCUSDT")?.markPrice, 4_000, "a refused tick changes nothing")
        XCTAssertEqual(m.totalExposure, 6_000)
        try m.updatePosition(symbol: "BTCUSDT", qty: -1, price: 4_000)
        try m.updatePosition(symbol: "ETHUSDT", qty: -1, price: 2_000)
        XCTAssertEqual(m.tradingState.mode, .active)
        XCTAssertNoThrow(try m.reserve(try m.symbolID("BTCUSDT"), side: .buy, qty: 1, price: 4_000))
    }

    func testAMarkWithBothSidesWorkingIsNotABreachBeforeTheOverlapIsCredited() throws {
        // 0.1 BTC working on each side: the worst case is one side, $4,000 at $40,000.
        // (A checker counts the second side in full until the risk side grants
        // the overlap back, so the book is lowered to $4,800 only after that.)
        let m = try monitor(symbolLimit: 4_800, book: 10_000)
        let btc = try m.symbolID("BTCUSDT")
        try m.markPrice(symbol: "BTCUSDT", price: 40_000)
        _ = try m.reserve(btc, side: .buy, qty: 0.1, price: 40_000)
        _ = try m.reserve(btc, side: .sell, qty: 0.1, price: 40_000)
        try m.markPrice(symbol: "BTCUSDT", price: 40_000)
        try m.updateLimits(try RiskLimits(maxInventoryUSD: 4_800, maxTotalNotional: 4_800, edgeFreezeThresholdBps: 200))
        XCTAssertEqual(m.tradingState.mode, .active)
        XCTAssertEqual(m.totalExposure, 4_000)
        // At $47,000 the worst case is $4,700: under both limits (and above
        // the resume share, so a false breach would stick).
        let changes = m.stateChanges.count
        try m.markPrice(symbol: "BTCUSDT", price: 47_000)
        XCTAssertEqual(m.tradingState.mode, .active)
        XCTAssertEqual(m.stateChanges.count, changes, "not even a passing breach")
        XCTAssertEqual(m.totalExposure, 4_700)
        // At $50,000 it is $5,000: over both.
        try m.markPrice(symbol: "BTCUSDT", price: 50_000)
        XCTAssertEqual(m.tradingState.mode, .reducing)
    }

    func testReleasesBeyondWhatIsWorkingNeverMakeWorkingNegative() throws {
        let m = try monitor()
        let ring = try m.makeRing(capacity: 64)
        let btc = try m.symbolID("BTCUSDT")
        let r = try m.reserve(btc, side: .buy, qty: 0.05, price: 40_000)
        var cancel = rl_event_t(type: RL_EVENT_CANCEL_ACK, symbol: btc.rawValue, side: .buy, qty: 10 * r.quantity,
                                price: r.price)
        XCTAssertEqual(ring.push(&cancel), RL_OK)
        m.drain()
        XCTAssertEqual(m.position(of: "BTCUSDT")?.workingBuy, 0)
        XCTAssertEqual(m.anomalies["cancel"], 1)
        // A $5,000 limit still admits $5,000 and no more.
        XCTAssertThrowsRedline(.blocked(.symbolLimit)) { try m.reserve(btc, side: .buy, qty: 0.13, price: 40_000) }
        XCTAssertNoThrow(try m.reserve(btc, side: .buy, qty: 0.125, price: 40_000))
    }

    // MARK: Conversions toward risk

    func testTheReservationHoldsTheFixedPointValuesToSend() throws {
        let m = try monitor()
        let btc = try m.symbolID("BTCUSDT")
        let exact = try m.reserve(btc, side: .buy, qty: 1.1e-2, price: 40_000.12)
        XCTAssertEqual(exact.quantity, 1_100_000)
        XCTAssertEqual(exact.price, 4_000_012_000_000)
        let eth = try m.symbolID("ETHUSDT")
        let rounded = try m.reserve(eth, side: .buy, qty: 1.000000005, price: 2_000)
        XCTAssertEqual(rounded.quantity, 100_000_001, "rounded up: the reservation covers what was asked")
        XCTAssertThrowsRedline(.blocked(.imprecise), "0.001000000005 cannot round within 1e-8 of itself") {
            try m.reserve(btc, side: .buy, qty: 0.001000000005, price: 40_000)
        }
        XCTAssertThrowsRedline(.blocked(.imprecise)) { try m.reserve(btc, side: .buy, qty: 0.01, price: 1.49e-8) }
        XCTAssertThrowsRedline(.blocked(.imprecise)) { try m.reserve(btc, side: .buy, qty: 1e-9, price: 100) }
    }

    func testBinaryNoiseInADecimalIsNotAnExtraDigit() throws {
        let m = try monitor()
        let eth = try m.symbolID("ETHUSDT")
        let sum = try m.reserve(eth, side: .buy, qty: 0.1 + 0.2, price: 0.07 * 3)
        XCTAssertEqual(sum.quantity, 30_000_000, "0.1 + 0.2 is 0.3")
        XCTAssertEqual(sum.price, 21_000_000, "0.07 x 3 is 0.21")
        let third = try m.reserve(eth, side: .buy, qty: 1000.0 / 3, price: 1)
        XCTAssertEqual(third.quantity, 33_333_333_334, "a real ninth digit still rounds up")
    }

    func testAQuantityWithNineDecimalsCannotPassALimitByRounding() throws {
        // $5,000 at $1: 5000.000000005 units would be $5,000.000000005.
        let m = try RuntimeRiskMonitor(
            limits: try RiskLimits(maxInventoryUSD: 5_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 200),
            symbols: ["X"], logger: quietLogger())
        XCTAssertEqual(m.check(try m.symbolID("X"), side: .buy, qty: 5_000.000000005, price: 1), .blocked(.symbolLimit))
        XCTAssertEqual(m.check(try m.symbolID("X"), side: .buy, qty: 5_000, price: 1), .allowed)
    }

    // MARK: Bad input: typed errors, no state changed

    func testASymbolNameWithAnEmbeddedNULIsRefusedAndSnapshotsStillRestore() throws {
        let m = try monitor()
        XCTAssertThrowsRedline(.invalidSymbolName("BAD\u{0}NAME")) { try m.register(symbol: "BAD\u{0}NAME") }
        XCTAssertEqual(m.symbols, ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
        let fresh = try RuntimeRiskMonitor(limits: .default, logger: quietLogger())
        XCTAssertNoThrow(try fresh.restore(from: m.snapshot()))
        XCTAssertEqual(fresh.symbols, m.symbols)
    }

    func testASnapshotWhoseSidePriceIsNotItsMarkIsRefused() throws {
        let m = try RuntimeRiskMonitor(
            limits: try RiskLimits(maxInventoryUSD: 500, maxTotalNotional: 10_000, edgeFreezeThresholdBps: 200),
            symbols: ["SOLUSDT"], logger: quietLogger())
        func crafted(_ symbol: [String: Any]) throws -> MonitorSnapshot {
            var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(m.snapshot())) as! [String: Any]
            json["symbols"] = [symbol]
            return try JSONDecoder().decode(MonitorSnapshot.self, from: JSONSerialization.data(withJSONObject: json))
        }
        let price: Int64 = 100 * Int64(RL_FP_SCALE)
        // Short 3 at $100 with the buy side unvalued: a buy of 9 at $1 would then count $6, not $600.
        let unvalued = try crafted(["name": "SOLUSDT", "position": -3 * Int64(RL_FP_SCALE), "workingBuy": 0,
                                    "workingSell": 0, "mark": price, "buyPrice": 0, "sellPrice": price])
        XCTAssertThrowsError(try m.restore(from: unvalued))
        // A position with no mark cannot be valued either.
        let unmarked = try crafted(["name": "SOLUSDT", "position": 3 * Int64(RL_FP_SCALE), "workingBuy": 0,
                                    "workingSell": 0, "mark": 0, "buyPrice": -price, "sellPrice": 0])
        XCTAssertThrowsError(try m.restore(from: unmarked))
        // A side valued at the cap would saturate the book for good, as a live mark that high is refused.
        let huge = Int64.max
        let saturating = try crafted(["name": "SOLUSDT", "position": 1 * Int64(RL_FP_SCALE), "workingBuy": 0,
                                      "workingSell": 0, "mark": huge, "buyPrice": huge, "sellPrice": huge])
        XCTAssertThrowsError(try m.restore(from: saturating))
        XCTAssertEqual(m.position(of: "SOLUSDT")?.quantity, 0, "nothing restored")
        let sol = try m.symbolID("SOLUSDT")
        XCTAssertNoThrow(try m.reserve(sol, side: .buy, qty: 400, price: 1))
    }

    func testLoweringTheBookUnderTheFirstInventoryLimitAppliesAndSurvivesARestart() throws {
        let dir = try makeTemporaryDirectory()
        let first = try RiskLimits(maxInventoryUSD: 10_000, maxTotalNotional: 50_000, edgeFreezeThresholdBps: 200)
        let m = try RuntimeRiskMonitor(limits: first, logger: quietLogger())
        let (journal, _) = try Journal.open(directory: dir, monitor: m, options: journalOptions(), logger: quietLogger())
        try m.register(symbol: "BTCUSDT")
        let lower = try RiskLimits(maxInventoryUSD: 1_000, maxTotalNotional: 5_000, edgeFreezeThresholdBps: 200)
        try m.updateLimits(lower)
        XCTAssertEqual(m.position(of: "BTCUSDT")?.limitUSD, 1_000)
        XCTAssertEqual(m.limits, lower)
        try journal.flush()
        journal.close()
        let restarted = try RuntimeRiskMonitor(limits: first, logger: quietLogger())
        let (again, _) = try Journal.open(directory: dir, monitor: restarted, options: journalOptions(),
                                          logger: quietLogger())
        defer { again.close() }
        XCTAssertEqual(restarted.limits, lower)
        XCTAssertEqual(restarted.position(of: "BTCUSDT")?.limitUSD, 1_000)
    }

    func testLimitsAreValidatedOnceForCAndSwiftAlike() throws {
        let m = try monitor()
        // A negative threshold is a valid one, in C and in Swift.
        let negative = try RiskLimits(maxInventoryUSD: 5_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: -25)
        try m.updateLimits(negative)
        XCTAssertEqual(rl_engine_edge_threshold(m.engineHandle), -25 * Int64(RL_FP_SCALE))
        XCTAssertEqual(m.limits, negative)
        // Invalid limits throw and change nothing, in either.
        var bad = negative
        bad.edgeFreezeThresholdBps = .nan
        XCTAssertThrowsError(try m.updateLimits(bad))
        bad = negative
        bad.resumeShare = 1.5
        XCTAssertThrowsError(try m.updateLimits(bad))
        XCTAssertEqual(m.limits, negative)
        XCTAssertEqual(rl_engine_edge_threshold(m.engineHandle), -25 * Int64(RL_FP_SCALE))
        XCTAssertThrowsError(try RiskLimits(maxInventoryUSD: 30_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 0))
    }

    func testAPositionUpdateThatWouldOverflowThrowsAndChangesNothing() throws {
        let m = try monitor()
        try m.updatePosition(symbol: "BTCUSDT", qty: 0.1, price: 40_000)
        let before = m.position(of: "BTCUSDT")
        XCTAssertThrowsRedline(.blocked(.overflow)) { try m.updatePosition(symbol: "BTCUSDT", qty: 9e10, price: 40_000) }
        XCTAssertThrowsRedline(.blocked(.invalidQuantity)) { try m.updatePosition(symbol: "BTCUSDT", qty: .nan, price: 1) }
        XCTAssertEqual(m.position(of: "BTCUSDT"), before)
    }

    func testTheFreezeEventHoldsTheEdgeThatCausedItNotALaterOne() throws {
        let h = try Harness()
        try h.router.reportEdge(bps: 150)
        try h.router.reportEdge(bps: 20)
        h.router.poll()
        XCTAssertEqual(h.monitor.freezeEvents.count, 1)
        XCTAssertEqual(h.monitor.freezeEvents.first?.metadata["edge_bps"], "150.0")
    }

    func testRestoringAnOlderSnapshotNeverMovesTheEpochBackwards() throws {
        let m = try monitor()
        let old = m.snapshot() // epoch 0, active
        m.manualFreeze(reason: "one")
        XCTAssertTrue(m.unfreeze(reason: "two"))
        m.manualFreeze(reason: "three")
        let epoch = m.tradingState.epoch
        try m.restore(from: old)
        XCTAssertGreaterThan(m.tradingState.epoch, epoch)
        XCTAssertEqual(m.tradingState.mode, .active)
    }
}
