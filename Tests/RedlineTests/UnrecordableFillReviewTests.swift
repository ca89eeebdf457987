import Foundation
@testable import Redline
import RedlineCore
import XCTest

/// Adversarial review (helper-30) of the unrecordable-fill change (0bc3faf,
/// f2730e4): a fill no position can take halts trading (`unrecordable_fill`),
/// and fills for orders restart reconciliation settled as ended are told
/// apart. Tests marked "Found" failed on f2730e4; the others held.
final class UnrecordableFillReviewTests: XCTestCase, UnknownFillFixture {
    /// Orders and what the venue knows of them, shared by every session
    /// (client) of one account: the queries (open orders, status) answer for
    /// the whole account, as a venue's REST API does.
    final class Account {
        var open: [OrderID: ExchangeOrder] = [:]
        var statuses: [OrderID: VenueOrderStatus] = [:]
    }

    /// One venue session of an `Account`: its own stream of answers (the
    /// test scripts it in `pending`). Cancels are answered unless `answerCancels` is off.
    final class Venue: ExchangeClient {
        let account: Account
        var pending: [ExchangeEvent] = []
        var cancels: [OrderID] = []
        var answerCancels = true

        init(_ account: Account = Account()) { self.account = account }

        func submit(_ order: ExchangeOrder) throws(ExchangeError) { account.open[order.id] = order }
        func cancel(_ id: OrderID) throws(ExchangeError) {
            cancels.append(id)
            guard answerCancels else { return }
            if let order = account.open.removeValue(forKey: id) {
                account.statuses[id] = VenueOrderStatus(id: id, state: .canceled, quantity: order.quantity, filledQuantity: 0)
            }
            pending.append(.canceled(id))
        }
        func pollEvents(_ body: (ExchangeEvent) -> Void) {
            while !pending.isEmpty { body(pending.removeFirst()) }
        }
        func openOrders() throws(ExchangeError) -> [VenueOrder] {
            account.open.values.map { VenueOrder(id: $0.id, symbol: $0.symbol, side: $0.side, remaining: $0.quantity, price: $0.price) }
        }
        func orderStatus(_ id: OrderID) throws(ExchangeError) -> VenueOrderStatus? {
            if let status = account.statuses[id] { return status }
            return account.open[id].map { VenueOrderStatus(id: id, state: .open, quantity: $0.quantity, filledQuantity: 0) }
        }
        /// The order ended at the venue while nobody listened.
        func end(_ id: OrderID, _ state: VenueOrderStatus.State, filled: Int64) {
            let order = account.open.removeValue(forKey: id)!
            account.statuses[id] = VenueOrderStatus(id: id, state: state, quantity: order.quantity, filledQuantity: filled)
        }
    }

    // MARK: Findings

    /// Found (helper-30): an unknown fill while trading is already HALTED for a
    /// persistent reason (the operator's kill switch) published nothing: no
    /// FreezeEvent, no `freeze_triggered_total{reason="unrecordable_fill"}`,
    /// and the halt's reason stayed `manual`, so an operator lifting "their"
    /// kill switch resumed trading on a book short of the venue's without
    /// being told. The book-unknown halt now takes over any other: recorded,
    /// counted, and the reason the operator sees before lifting it.
    func testAnUnknownFillDuringAManualHaltIsRecordedAndTakesTheHaltOver() throws {
        let venue = Venue()
        let (monitor, router) = try plainRouter(venue)
        let mine = try working(router, venue)
        XCTAssertTrue(monitor.manualFreeze(reason: "operator pause", router: router))
        monitor.drain()
        router.poll()
        let before = monitor.tradingState.epoch
        deliver(.filled(stranger(mine), quantity: fp(0.004), price: Int64(100 * FixedPoint.scale)), monitor, venue, router)
        XCTAssertEqual(router.invalidExchangeEvents, 1)
        XCTAssertEqual(metric(monitor, "freeze_triggered_total{reason=\"unrecordable_fill\"}") ?? 0, 1)
        XCTAssertEqual(monitor.freezeEvents.map(\.trigger), [.manual, .unrecordableFill])
        XCTAssertEqual(monitor.tradingState.mode, .halted)
        XCTAssertEqual(monitor.tradingState.reasonCode, UInt8(RL_FREEZE_REASON_UNRECORDABLE.rawValue),
                       "the reason an operator sees before lifting the halt")
        XCTAssertGreaterThan(monitor.tradingState.epoch, before)
        // A second unknown fill adds nothing: the book is unknown already.
        deliver(.filled(stranger(mine), quantity: fp(0.001), price: Int64(100 * FixedPoint.scale)), monitor, venue, router)
        XCTAssertEqual(monitor.freezeEvents.count, 2)
        XCTAssertFalse(monitor.unfreeze(reason: "breaker", byCircuitBreaker: true))
    }

    /// Found: reconciliation kept as "executed" the venue's filledQuantity,
    /// not what it moved the position by. A venue that filled more than the
    /// order (0.015 of 0.01) while the engine was down: reconciliation moves
    /// 0.01 (capped at what was working), the registry says 0.015, and the
    /// venue's later report with running total 0.015 moves nothing. The
    /// position stays 0.01 against the venue's 0.015, trading ACTIVE. At
    /// 0bc3faf the same report halted (fail closed).
    func testAReportAfterAnOverfillWhileDownLeavesThePositionShortWithoutAHalt() throws {
        let dir = try makeTemporaryDirectory()
        let venue = Venue()
        let placed = try crashWithOneOrder(dir, venue)
        venue.end(placed, .filled, filled: fp(0.015)) // the venue filled 0.015 of the 0.01 order

        let (monitor, journal) = try journaled(dir)
        defer { journal.close() }
        let router = try OrderRouter(monitor: monitor, client: Venue(venue.account), orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        try router.reconcile()
        monitor.drain()
        let client = router.client as! Venue
        deliver(.filled(placed, quantity: fp(0.005), price: px40k, cumulative: fp(0.015)), monitor, client, router)
        let position = monitor.position(of: "BTCUSDT")?.quantity ?? .nan
        XCTAssertTrue(abs(position - 0.015) < 1e-9 || monitor.tradingState.mode == .halted,
                      "venue executed 0.015; book holds \(position), trading \(monitor.tradingState.mode)")
    }

    /// Found: the registry lived in the router that ran the reconciliation,
    /// but reconciliation settles every strategy's orders in doubt. Two
    /// routers on one account (each its own session): the first reconciles
    /// (the other strategy's order ended filled while down: counted), then
    /// the venue resends that fill (running total within the status) on the
    /// session of the router that placed it. It halts trading (persistent),
    /// though it moves nothing.
    func testAResendOnAnotherRoutersSessionAfterRestartDoesNotHalt() throws {
        let dir = try makeTemporaryDirectory()
        let account = Account()
        let theirs: OrderID
        do {
            let (monitor, journal) = try journaled(dir)
            let first = try OrderRouter(monitor: monitor, client: Venue(account), orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
            let second = try OrderRouter(monitor: monitor, client: Venue(account), orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
            _ = try first.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
            theirs = try second.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
            first.poll()
            second.poll()
            try journal.flush()
            journal.close()
        }
        Venue(account).end(theirs, .filled, filled: fp(0.01))

        let (monitor, journal) = try journaled(dir)
        defer { journal.close() }
        let firstVenue = Venue(account), secondVenue = Venue(account)
        let first = try OrderRouter(monitor: monitor, client: firstVenue, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        let second = try OrderRouter(monitor: monitor, client: secondVenue, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        let report = try first.reconcile()
        XCTAssertEqual(report.filledWhileDown[theirs], fp(0.01))
        try second.reconcile()
        monitor.drain()
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity ?? .nan, 0.01, accuracy: 1e-9)
        // The resend arrives on the session that placed the order.
        deliver(.filled(theirs, quantity: fp(0.01), price: px40k, cumulative: fp(0.01)), monitor, secondVenue, second)
        first.poll()
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity ?? .nan, 0.01, accuracy: 1e-9, "counted once")
        XCTAssertEqual(monitor.tradingState.mode, .active,
                       "a resend of a fill reconciliation counted halted trading: \(monitor.freezeEvents.last.map { "\($0.trigger) \($0.metadata)" } ?? "-")")
    }

    /// Found (minor): a pure resend (running total within what was
    /// counted) at price 0 of an order settled at restart halts trading; the
    /// same resend of an order the router still holds moves nothing and does not.
    func testAResendAtPriceZeroOfASettledOrderIsTreatedAsAResendOfAKnownOrderIs() throws {
        // A known order: the resend is ignored.
        do {
            let venue = Venue()
            let (monitor, router) = try plainRouter(venue)
            let id = try working(router, venue)
            deliver(.filled(id, quantity: fp(0.01), price: Int64(100 * FixedPoint.scale), cumulative: fp(0.01)), monitor, venue, router)
            deliver(.filled(id, quantity: fp(0.01), price: 0, cumulative: fp(0.01)), monitor, venue, router)
            XCTAssertEqual(monitor.tradingState.mode, .active, "known order: a resend at price 0 moves nothing")
        }
        // An order settled at restart.
        let dir = try makeTemporaryDirectory()
        let venue = Venue()
        let placed = try crashWithOneOrder(dir, venue)
        venue.end(placed, .filled, filled: fp(0.01))
        let (monitor, journal) = try journaled(dir)
        defer { journal.close() }
        let client = Venue(venue.account)
        let router = try OrderRouter(monitor: monitor, client: client, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        try router.reconcile()
        monitor.drain()
        deliver(.filled(placed, quantity: fp(0.01), price: 0, cumulative: fp(0.01)), monitor, client, router)
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity ?? .nan, 0.01, accuracy: 1e-9)
        XCTAssertEqual(monitor.tradingState.mode, .active, "settled order: the same resend at price 0 halted trading")
    }

    /// Found (window): the router that saw a fill it could not record asked
    /// the risk side to halt through its ring, and accepted orders until the
    /// risk side had applied it: here (no risk thread, `processExchangeEvents`
    /// then `placeOrder`) a new order was accepted after the unknown fill.
    /// It now halts on its own thread, as an edge collapse does
    /// (`rl_engine_halt_unrecordable_fill`).
    func testTheRouterThatSawAnUnknownFillAcceptsNoNewOrder() throws {
        let venue = Venue()
        let (monitor, router) = try plainRouter(venue)
        let mine = try working(router, venue)
        venue.pending = [.filled(stranger(mine), quantity: fp(0.004), price: Int64(100 * FixedPoint.scale))]
        router.processExchangeEvents()
        XCTAssertEqual(router.invalidExchangeEvents, 1)
        XCTAssertThrowsError(try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100),
                             "an order accepted after the router knew the book was unknown")
        monitor.drain()
    }

    // MARK: Checks that hold

    /// A transient halt (heartbeat lost), then an unknown fill: the reason
    /// becomes unrecordable_fill and the breaker never lifts it.
    func testAnUnknownFillDuringATransientHaltIsNeverLiftedByTheBreaker() throws {
        let limits = try RiskLimits(
            maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: -1e6, heartbeatTimeoutMilliseconds: 100,
            circuitBreaker: CircuitBreakerSettings(cooldownSeconds: 1, maxCooldownSeconds: 4, windowSeconds: 60, escalateAfter: 4))
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], manualClock: true, logger: quietLogger())
        let venue = Venue()
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 256, logger: quietLogger())
        func at(_ seconds: Double, heartbeat: Bool = false) throws {
            try monitor.setClock(nanoseconds: UInt64((seconds * 1e9).rounded()))
            if heartbeat { monitor.heartbeat() }
            monitor.drain()
            router.poll()
        }
        try at(1.0, heartbeat: true)
        let mine = try working(router, venue)
        try at(1.2)
        XCTAssertEqual(monitor.freezeEvents.last?.trigger, .heartbeatLost)
        deliver(.filled(stranger(mine), quantity: fp(0.004), price: Int64(100 * FixedPoint.scale)), monitor, venue, router)
        XCTAssertEqual(monitor.freezeEvents.last?.trigger, .unrecordableFill)
        try at(10, heartbeat: true)
        try at(20, heartbeat: true)
        XCTAssertEqual(monitor.tradingState.mode, .halted, "the breaker must not lift it")
    }

    /// A restart after the halt comes back HALTED with its FreezeEvent
    /// (scope unknown_order); only an operator lifts it.
    func testARestartAfterAnUnknownFillComesBackHaltedWithItsFreezeEvent() throws {
        let dir = try makeTemporaryDirectory()
        do {
            let (monitor, journal) = try journaled(dir)
            let venue = Venue()
            let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
            let mine = try working(router, venue, price: 40_000)
            deliver(.filled(stranger(mine), quantity: fp(0.004), price: px40k), monitor, venue, router)
            XCTAssertEqual(monitor.tradingState.mode, .halted)
            try journal.flush()
            journal.close()
        }
        let (monitor, journal) = try journaled(dir)
        defer { journal.close() }
        XCTAssertEqual(monitor.tradingState.mode, .halted)
        let event = try XCTUnwrap(monitor.freezeEvents.last)
        XCTAssertEqual(event.trigger, .unrecordableFill)
        XCTAssertEqual(event.metadata["scope"], "unknown_order")
        XCTAssertEqual(event.metadata["qty"], "0.004")
        let router = try OrderRouter(monitor: monitor, client: Venue(), orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        try router.reconcile()
        monitor.drain()
        XCTAssertEqual(monitor.tradingState.mode, .halted, "reconciliation does not lift it")
        XCTAssertFalse(monitor.unfreeze(reason: "breaker", byCircuitBreaker: true))
        XCTAssertTrue(monitor.unfreeze(reason: "operator reconciled by hand"))
    }

    /// The C control from a C caller halts (persistent) with scope unknown_order.
    func testTheCControlHaltsAndOnlyAnOperatorLiftsIt() throws {
        let venue = Venue()
        let (monitor, _) = try plainRouter(venue)
        XCTAssertEqual(rl_engine_apply_control(monitor.engineHandle, RL_CONTROL_UNRECORDABLE_FILL, RL_SYMBOL_NONE, 0, 0), 0)
        monitor.drain()
        _ = monitor.syncFreezeEvents()
        XCTAssertEqual(monitor.tradingState.mode, .halted)
        XCTAssertEqual(monitor.freezeEvents.last?.trigger, .unrecordableFill)
        XCTAssertEqual(monitor.freezeEvents.last?.metadata["scope"], "unknown_order")
        XCTAssertFalse(monitor.unfreeze(reason: "breaker", byCircuitBreaker: true))
        XCTAssertTrue(monitor.unfreeze(reason: "operator"))
    }

    /// Adopted orders: a late fill after an adopted order ended (its slot
    /// not reused yet) moves the position and does not halt.
    func testALateFillOfAnAdoptedOrderAfterItEndedDoesNotHalt() throws {
        let dir = try makeTemporaryDirectory()
        let venue = Venue()
        let placed = try crashWithOneOrder(dir, venue)
        let (monitor, journal) = try journaled(dir)
        defer { journal.close() }
        let client = Venue(venue.account)
        let router = try OrderRouter(monitor: monitor, client: client, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        let report = try router.reconcile()
        XCTAssertEqual(report.adopted, [placed])
        try router.cancel(placed)
        router.poll()
        deliver(.filled(placed, quantity: fp(0.003), price: px40k, cumulative: fp(0.003)), monitor, client, router)
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity ?? .nan, 0.003, accuracy: 1e-9)
        XCTAssertEqual(monitor.tradingState.mode, .active)
        deliver(.filled(placed, quantity: fp(0.003), price: px40k, cumulative: fp(0.003)), monitor, client, router)
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity ?? .nan, 0.003, accuracy: 1e-9, "resend counted once")
    }

    /// A partial fill journaled before the crash, the rest canceled while
    /// down: the resend of the journaled fill moves nothing, a later total
    /// moves the difference, and a second reconcile changes nothing.
    func testASettledOrderWithAJournaledPartialFillCountsEachPartOnce() throws {
        let dir = try makeTemporaryDirectory()
        let venue = Venue()
        let placed: OrderID
        do {
            let (monitor, journal) = try journaled(dir)
            let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
            placed = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
            venue.pending = [.acknowledged(placed), .filled(placed, quantity: fp(0.004), price: px40k, cumulative: fp(0.004))]
            router.poll()
            monitor.drain()
            try journal.flush()
            journal.close()
        }
        venue.end(placed, .canceled, filled: fp(0.004))
        let (monitor, journal) = try journaled(dir)
        defer { journal.close() }
        let client = Venue(venue.account)
        let router = try OrderRouter(monitor: monitor, client: client, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        let report = try router.reconcile()
        XCTAssertEqual(report.released, [placed])
        XCTAssertEqual(try router.reconcile(), OrderRouter.ReconciliationReport(), "a second reconcile changes nothing")
        monitor.drain()
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity ?? .nan, 0.004, accuracy: 1e-9)
        deliver(.filled(placed, quantity: fp(0.004), price: px40k, cumulative: fp(0.004)), monitor, client, router)
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity ?? .nan, 0.004, accuracy: 1e-9, "a resend")
        deliver(.filled(placed, quantity: fp(0.002), price: px40k, cumulative: fp(0.006)), monitor, client, router)
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity ?? .nan, 0.006, accuracy: 1e-9)
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.workingBuy ?? .nan, 0, accuracy: 1e-9)
        XCTAssertEqual(monitor.tradingState.mode, .active)
    }

    /// The look settles an order from the venue's status (fill found there),
    /// then the venue's own fill report arrives late: counted once, no halt.
    func testALateFillAfterTheLookSettledItsOrderIsCountedOnceWithoutAHalt() throws {
        let venue = Venue()
        let limits = try RiskLimits(maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: -1e6)
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 256,
                                     cancelAnswerTimeout: .milliseconds(5), logger: quietLogger())
        let id = try working(router, venue)
        venue.answerCancels = false
        try router.cancel(id)
        venue.end(id, .canceled, filled: fp(0.004)) // filled 0.004, then canceled; both answers lost
        let deadline = Date().addingTimeInterval(5)
        while (try router.order(id)).status == .pendingCancel && Date() < deadline {
            usleep(2_000)
            router.poll()
        }
        XCTAssertEqual(try router.order(id).status, .canceled)
        monitor.drain()
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity ?? .nan, 0.004, accuracy: 1e-9)
        deliver(.filled(id, quantity: fp(0.004), price: Int64(100 * FixedPoint.scale), cumulative: fp(0.004)), monitor, venue, router)
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity ?? .nan, 0.004, accuracy: 1e-9, "counted once")
        XCTAssertEqual(monitor.tradingState.mode, .active)
        XCTAssertEqual(router.invalidExchangeEvents, 0)
    }

    /// An order in doubt the venue says it never received is released whole;
    /// a fill for it later halts (fail closed: it may have worked unreserved).
    func testAFillForAnInDoubtOrderTheVenueNeverHadHalts() throws {
        let dir = try makeTemporaryDirectory()
        let venue = Venue()
        let placed = try crashWithOneOrder(dir, venue)
        venue.account.open[placed] = nil // the venue never had it (as it says)
        let (monitor, journal) = try journaled(dir)
        defer { journal.close() }
        let client = Venue(venue.account)
        let router = try OrderRouter(monitor: monitor, client: client, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        XCTAssertEqual(try router.reconcile().released, [placed])
        deliver(.filled(placed, quantity: fp(0.01), price: px40k, cumulative: fp(0.01)), monitor, client, router)
        XCTAssertEqual(monitor.tradingState.mode, .halted)
        XCTAssertEqual(monitor.freezeEvents.last?.trigger, .unrecordableFill)
    }
}

/// What the two reviews of the unrecordable-fill halt share: a router on a
/// scripted venue account, answers delivered and taken in, and journaled
/// sessions that end as a crash does.
protocol UnknownFillFixture {}

extension UnknownFillFixture {
    typealias Venue = UnrecordableFillReviewTests.Venue

    func fp(_ value: Double) -> Int64 { Int64((value * FixedPoint.scale).rounded()) }
    var px40k: Int64 { Int64(40_000 * FixedPoint.scale) }

    func plainRouter(_ venue: Venue) throws -> (RuntimeRiskMonitor, OrderRouter) {
        let limits = try RiskLimits(maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: -1e6)
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 256, logger: quietLogger())
        return (monitor, router)
    }

    func working(_ router: OrderRouter, _ venue: Venue, qty: Double = 0.01, price: Double = 100) throws -> OrderID {
        let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: qty, price: price)
        venue.pending = [.acknowledged(id)]
        router.poll()
        return id
    }

    func deliver(_ event: ExchangeEvent, _ monitor: RuntimeRiskMonitor, _ venue: Venue, _ router: OrderRouter) {
        venue.pending.append(event)
        router.poll()
        monitor.drain()
        router.poll()
    }

    func stranger(_ id: OrderID) -> OrderID { OrderID(rawValue: id.rawValue ^ (UInt64(7) << 48)) }

    /// A router on `monitor` with one order working at 40,000, and the
    /// venue's fill of 0.004 at 40,000 for an order the router does not know
    /// (not delivered yet).
    func routerAndUnknownFill(_ monitor: RuntimeRiskMonitor,
                              durability: OrderRouter.Durability = .reservedBeforeSubmit)
        throws -> (venue: Venue, router: OrderRouter, fill: ExchangeEvent) {
        let venue = Venue()
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 64,
                                     durability: durability, logger: quietLogger())
        let mine = try working(router, venue, price: 40_000)
        return (venue, router, .filled(stranger(mine), quantity: fp(0.004), price: px40k))
    }

    func metric(_ monitor: RuntimeRiskMonitor, _ name: String) -> Double? {
        parsePrometheus(monitor.prometheusText())[name]
    }

    /// A monitor with a journal, BTCUSDT registered and marked at 40,000.
    func journaled(_ dir: String) throws -> (RuntimeRiskMonitor, Journal) {
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        if (try? monitor.symbolID("BTCUSDT")) == nil {
            try monitor.register(symbol: "BTCUSDT")
            try monitor.markPrice(symbol: "BTCUSDT", price: 40_000)
        }
        return (monitor, journal)
    }

    /// A journaled session through `venue` that places one buy of 0.01 at
    /// 40,000 and crashes with it working.
    func crashWithOneOrder(_ dir: String, _ venue: Venue) throws -> OrderID {
        try crashAfterSession(journaling: dir, venue: venue) { _, router in
            let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
            router.poll()
            return id
        }
    }
}
