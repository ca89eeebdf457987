import Foundation
import Redline
import RedlineCore
import XCTest

/// Orders in flight at a crash are in doubt after the restart: REDUCING
/// until the router has asked the venue, which settles each one.
final class ReconciliationTests: XCTestCase {
    private let btc = SymbolID(rawValue: 0)
    private func fp(_ value: Double) -> Int64 { Int64((value * FixedPoint.scale).rounded()) }

    func testARestartReconcilesEveryOrderInDoubtWithTheVenue() throws {
        let dir = try makeTemporaryDirectory()
        let venue = SimulatedExchange(.init(seed: 1)) // every order rests
        let placed = try crashWithOrdersResting(dir, venue, count: 6)
        // While the engine is down: one order fills half, one is canceled, and
        // one order reached the venue whose reservation never became durable.
        venue.fillQuietly(placed[0], quantity: fp(0.005))
        try venue.cancel(placed[1])
        let unknown = OrderID(rawValue: placed[5].rawValue + 1)
        try venue.submit(ExchangeOrder(id: unknown, symbol: btc, side: .buy, quantity: fp(0.02), price: fp(40_000)))
        venue.forgetUnpolledEvents()

        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        defer { journal.close() }
        XCTAssertEqual(Set(monitor.ordersInDoubt.map(\.id)), Set(placed))
        XCTAssertEqual(monitor.tradingState.mode, .reducing, "REDUCING until reconciled")
        XCTAssertEqual(monitor.freezeEvents.last?.trigger, .ordersInDoubt)
        XCTAssertThrowsRedline(.blocked(.reduceOnly)) { try monitor.reserve(self.btc, side: .buy, qty: 0.001, price: 40_000) }

        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        XCTAssertFalse(placed.contains { $0.session == router.orders.session }, "a new session: no id repeats")
        let report = try router.reconcile()
        XCTAssertEqual(Set(report.adopted), Set(placed).subtracting([placed[1]]))
        XCTAssertEqual(report.filledWhileDown, [placed[0]: fp(0.005)])
        XCTAssertEqual(report.released, [placed[1]])
        XCTAssertEqual(report.adoptedUnknown, [unknown])
        XCTAssertEqual(monitor.tradingState.mode, .active)
        XCTAssertTrue(monitor.ordersInDoubt.isEmpty)
        let position = try XCTUnwrap(monitor.position(of: "BTCUSDT"))
        XCTAssertEqual(position.quantity, 0.005, "the fill while down moved the position")
        XCTAssertEqual(position.workingBuy, 0.005 + 4 * 0.01 + 0.02, accuracy: 1e-9, "working is what the venue holds")
        let metrics = parsePrometheus(monitor.prometheusText())
        XCTAssertEqual(metrics["orders_in_doubt_settled_total{settlement=\"released\"}"], 1)
        XCTAssertEqual(metrics["orders_in_doubt_settled_total{settlement=\"adopted_unknown\"}"], 1)

        // Adopted orders are this router's now: their fills and cancels apply.
        venue.fillResting(placed[2], price: fp(40_000))
        router.poll()
        XCTAssertEqual(try router.order(placed[2]).status, .filled)
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity ?? 0, 0.015, accuracy: 1e-9)
        try router.cancel(unknown)
        router.poll()
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.workingBuy ?? 0, 0.005 + 3 * 0.01, accuracy: 1e-9)
        try journal.flush()
    }

    func testWorkingQuantityNoOrderAccountsForIsReleasedAndNothingAccumulatesOverRestarts() throws {
        let dir = try makeTemporaryDirectory()
        for round in 0..<5 {
            let monitor = try freshMonitor()
            let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
            if round == 0 { try monitor.register(symbol: "BTCUSDT") }
            // The venue did not survive (cancel on disconnect): nothing is open there.
            let venue = SimulatedExchange(.init(seed: UInt64(round + 1)))
            let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
            if round > 0 {
                XCTAssertEqual(monitor.tradingState.mode, .reducing, "round \(round)")
                let report = try router.reconcile()
                XCTAssertEqual(report.released.count, 3, "round \(round): the last run's orders, by id")
            }
            XCTAssertEqual(monitor.position(of: "BTCUSDT")?.workingBuy, 0, "round \(round): nothing accumulates")
            XCTAssertEqual(monitor.tradingState.mode, .active)
            for _ in 0..<3 { _ = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000) }
            router.poll()
            try journal.flush()
            journal.close() // a crash with 3 orders working
        }
    }

    func testAVenueThatCannotBeAskedLeavesTradingReducing() throws {
        let dir = try makeTemporaryDirectory()
        do {
            let monitor = try freshMonitor()
            let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
            try monitor.register(symbol: "BTCUSDT")
            _ = try monitor.reserve(btc, side: .buy, qty: 0.01, price: 40_000)
            var accepted = rl_event_t(type: RL_EVENT_ORDER_ACCEPTED, symbol: 0, side: .buy, orderID: 77, qty: fp(0.01), price: fp(40_000))
            let ring = try monitor.makeRing(capacity: 8)
            XCTAssertEqual(ring.push(&accepted), RL_OK)
            monitor.drain()
            try journal.flush()
            journal.close()
        }
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        defer { journal.close() }
        let router = try OrderRouter(monitor: monitor, client: ScriptedVenue(), orderCapacity: 8, ringCapacity: 8, logger: quietLogger())
        XCTAssertThrowsRedline(.exchange(.unsupported)) { try router.reconcile() }
        XCTAssertEqual(monitor.tradingState.mode, .reducing, "fail closed: still in doubt")
        XCTAssertEqual(monitor.ordersInDoubt.count, 1)
    }

    /// Trades into a journal, leaves `count` buys of 0.01 resting at `venue`, and "crashes".
    private func crashWithOrdersResting(_ dir: String, _ venue: SimulatedExchange, count: Int,
                                        longFirst: Double = 0, frozenFirst: Bool = false) throws -> [OrderID] {
        try crashAfterSession(journaling: dir, venue: venue) { monitor, router in
            if longFirst > 0 { try monitor.updatePosition(symbol: "BTCUSDT", qty: longFirst, price: 40_000) }
            let placed = try (0..<count).map { _ in try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000) }
            router.poll()
            if frozenFirst {
                XCTAssertTrue(monitor.manualFreeze(reason: "kill switch")) // the router has not polled since
                monitor.drain()
                venue.forgetUnpolledEvents()
            }
            return placed
        }
    }

    /// Found by a review: the kill switch, then a crash before the router
    /// polled. After the restart the engine is HALTED, the venue still holds
    /// the orders, reconcile adopts them, and the router, which starts at the
    /// halt's epoch, never canceled them: they worked at the venue for the
    /// whole halt. Reconcile now cancels what it adopts into a HALTED engine.
    func testOrdersAdoptedIntoAFrozenEngineAreCanceled() throws {
        let dir = try makeTemporaryDirectory()
        let venue = SimulatedExchange(.init(seed: 1)) // every order rests
        let placed = try crashWithOrdersResting(dir, venue, count: 3, frozenFirst: true)
        XCTAssertEqual(venue.restingCount, 3)
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        defer { journal.close() }
        XCTAssertTrue(monitor.isFrozen, "a frozen engine comes back frozen")
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        let report = try router.reconcile()
        XCTAssertEqual(Set(report.adopted), Set(placed))
        for _ in 0..<5 { router.poll() }
        XCTAssertTrue(monitor.isFrozen)
        XCTAssertEqual(venue.restingCount, 0, "HALTED: every router cancels its orders, adopted ones included")
        XCTAssertEqual(router.activeOrderCount, 0)
    }

    func testOrdersThatEndedWhileDownAreSettledAsTheVenueSaysFillsIncluded() throws {
        let dir = try makeTemporaryDirectory()
        let venue = SimulatedExchange(.init(seed: 1))
        let placed = try crashWithOrdersResting(dir, venue, count: 3)
        venue.fillQuietly(placed[0], quantity: fp(0.01))   // filled in full: gone from open orders
        venue.fillQuietly(placed[1], quantity: fp(0.004))  // filled in part, then canceled
        venue.cancelQuietly(placed[1])
        venue.cancelQuietly(placed[2])                     // canceled, nothing filled
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        defer { journal.close() }
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        let report = try router.reconcile()
        XCTAssertEqual(report.released, placed)
        XCTAssertEqual(report.filledWhileDown, [placed[0]: fp(0.01), placed[1]: fp(0.004)])
        let position = try XCTUnwrap(monitor.position(of: "BTCUSDT"))
        XCTAssertEqual(position.quantity, 0.014, accuracy: 1e-12, "every fill while down is in the position")
        XCTAssertEqual(position.workingBuy, 0)
        XCTAssertEqual(monitor.tradingState.mode, .active)
    }

    func testAFailedReconcileChangesNothingAndReconcilingAgainChangesNothing() throws {
        let dir = try makeTemporaryDirectory()
        let venue = SimulatedExchange(.init(seed: 1))
        let placed = try crashWithOrdersResting(dir, venue, count: 3)
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        defer { journal.close() }
        // Its own client (one router each), on the same venue account.
        let small = try OrderRouter(monitor: monitor, client: AnotherSessionVenue(venue), orderCapacity: 2, ringCapacity: 64,
                                    logger: quietLogger())
        XCTAssertThrowsRedline(.orderCapacityExhausted(capacity: 2)) { try small.reconcile() }
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.workingBuy ?? 0, 0.03, accuracy: 1e-12, "nothing changed")
        XCTAssertEqual(monitor.ordersInDoubt.count, 3)
        XCTAssertEqual(monitor.tradingState.mode, .reducing)
        XCTAssertEqual(small.orders.activeCount, 0)

        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        XCTAssertEqual(Set(try router.reconcile().adopted), Set(placed))
        XCTAssertEqual(monitor.tradingState.mode, .active)
        // Again, on this router and on another live one: the orders are owned; nothing moves.
        XCTAssertEqual(try router.reconcile(), OrderRouter.ReconciliationReport())
        XCTAssertEqual(try small.reconcile(), OrderRouter.ReconciliationReport())
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.workingBuy ?? 0, 0.03, accuracy: 1e-12)
        XCTAssertEqual(venue.restingCount, 3)
    }

    func testReconcilingLeavesTheRoutersOwnLiveOrdersAlone() throws {
        let dir = try makeTemporaryDirectory()
        let venue = SimulatedExchange(.init(seed: 1))
        let placed = try crashWithOrdersResting(dir, venue, count: 1, longFirst: 0.05)
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        defer { journal.close() }
        XCTAssertEqual(monitor.tradingState.mode, .reducing)
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        // The way out is open before reconciling: a sell that reduces the long.
        let sell = try router.placeOrder(symbol: "BTCUSDT", side: .sell, qty: 0.02, price: 40_000)
        router.poll()
        let report = try router.reconcile()
        XCTAssertEqual(report.adopted, placed)
        XCTAssertEqual(report.unattributedReleased, 0)
        let position = try XCTUnwrap(monitor.position(of: "BTCUSDT"))
        XCTAssertEqual(position.workingSell, 0.02, accuracy: 1e-12, "the live sell keeps its reservation")
        XCTAssertEqual(position.workingBuy, 0.01, accuracy: 1e-12)
        try router.cancel(sell)
        router.poll()
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.workingSell, 0)
        XCTAssertEqual(monitor.anomalies.values.reduce(0, +), 0, "no release beyond what was working: \(monitor.anomalies)")
    }

    func testAnOrderTheStatusQuerySaysIsOpenIsAdoptedNotReleased() throws {
        let dir = try makeTemporaryDirectory()
        let venue = SimulatedExchange(.init(seed: 1))
        let placed = try crashWithOrdersResting(dir, venue, count: 2)
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        defer { journal.close() }
        let router = try OrderRouter(monitor: monitor, client: ListMissesOneVenue(venue, missing: placed[1]),
                                     orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        let report = try router.reconcile()
        XCTAssertEqual(Set(report.adopted), Set(placed))
        XCTAssertEqual(report.released, [])
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.workingBuy ?? 0, 0.02, accuracy: 1e-12)
    }

    func testReconcilingAgainWithAFillNotYetPolledReleasesNothing() throws {
        let dir = try makeTemporaryDirectory()
        let venue = SimulatedExchange(.init(seed: 1))
        _ = try crashWithOrdersResting(dir, venue, count: 0)
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        defer { journal.close() }
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        router.poll()
        venue.fillResting(id, quantity: fp(0.004), price: fp(40_000)) // told, but not yet polled
        XCTAssertEqual(try router.reconcile().unattributedReleased, 0)
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.workingBuy ?? 0, 0.01, accuracy: 1e-12, "the engine's view stands")
        router.poll()
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.workingBuy ?? 0, 0.006, accuracy: 1e-12)
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity ?? 0, 0.004, accuracy: 1e-12)
    }

    func testAnOrderListedOpenWithNothingLeftIsSettledOnceAsFilled() throws {
        let dir = try makeTemporaryDirectory()
        let venue = SimulatedExchange(.init(seed: 1))
        let placed = try crashWithOrdersResting(dir, venue, count: 1)
        venue.fillQuietly(placed[0], quantity: fp(0.01))
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        defer { journal.close() }
        // A venue that still lists it, with nothing left.
        let router = try OrderRouter(monitor: monitor, client: ListsFilledAsOpenVenue(venue, filled: placed[0]),
                                     orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        let report = try router.reconcile()
        XCTAssertEqual(report.filledWhileDown, [placed[0]: fp(0.01)])
        XCTAssertEqual(try router.reconcile(), OrderRouter.ReconciliationReport(), "settled once")
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity ?? 0, 0.01, accuracy: 1e-12)
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.workingBuy ?? 0, 0)
    }

    func testAFillBetweenConnectingAndReconcilingIsCountedOnce() throws {
        let dir = try makeTemporaryDirectory()
        let venue = SimulatedExchange(.init(seed: 1))
        let placed = try crashWithOrdersResting(dir, venue, count: 1)
        venue.forgetUnpolledEvents()
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        defer { journal.close() }
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        venue.fillResting(placed[0], quantity: fp(0.004), price: fp(40_000)) // the market trades after logon
        let report = try router.reconcile()
        XCTAssertEqual(report.filledWhileDown, [placed[0]: fp(0.004)])
        router.poll() // the same fill's event: the venue's running total says it is counted
        let position = try XCTUnwrap(monitor.position(of: "BTCUSDT"))
        XCTAssertEqual(position.quantity, 0.004, accuracy: 1e-12, "counted once")
        XCTAssertEqual(position.workingBuy, 0.006, accuracy: 1e-12, "what is open at the venue stays working")
        venue.fillResting(placed[0], quantity: fp(0.002), price: fp(40_000)) // a later fill counts
        router.poll()
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity ?? 0, 0.006, accuracy: 1e-12)
    }

    func testAnOrderTheJournalNeverSawThatFilledInPartWhileDownMovesThePosition() throws {
        let dir = try makeTemporaryDirectory()
        let venue = SimulatedExchange(.init(seed: 1))
        let placed = try crashWithOrdersResting(dir, venue, count: 1)
        let unknown = OrderID(rawValue: placed[0].rawValue + 1)
        try venue.submit(ExchangeOrder(id: unknown, symbol: btc, side: .buy, quantity: fp(0.02), price: fp(40_000)))
        venue.fillQuietly(unknown, quantity: fp(0.015))
        venue.forgetUnpolledEvents()
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        defer { journal.close() }
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        let report = try router.reconcile()
        XCTAssertEqual(report.adoptedUnknown, [unknown])
        XCTAssertEqual(report.filledWhileDown[unknown], fp(0.015))
        let position = try XCTUnwrap(monitor.position(of: "BTCUSDT"))
        XCTAssertEqual(position.quantity, 0.015, accuracy: 1e-12)
        XCTAssertEqual(position.workingBuy, 0.01 + 0.005, accuracy: 1e-12)
    }

    func testAVenueThatCannotTellHowAnOrderEndedLeavesTradingReducing() throws {
        let dir = try makeTemporaryDirectory()
        let venue = SimulatedExchange(.init(seed: 1))
        let placed = try crashWithOrdersResting(dir, venue, count: 2)
        venue.fillQuietly(placed[0], quantity: fp(0.01))
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        defer { journal.close() }
        let router = try OrderRouter(monitor: monitor, client: AnotherSessionVenue(venue, tellsHowOrdersEnded: false), orderCapacity: 64,
                                     ringCapacity: 64, logger: quietLogger())
        XCTAssertThrowsRedline(.exchange(.unsupported)) { try router.reconcile() }
        XCTAssertEqual(monitor.tradingState.mode, .reducing, "fail closed: a fill may be unknown")
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.workingBuy ?? 0, 0.02, accuracy: 1e-12)
        XCTAssertEqual(router.orders.activeCount, 0, "nothing adopted either")
    }
}

/// A venue whose list of open orders leaves one out, as a list that raced a
/// status query would: asked about it, it says open.
private final class ListMissesOneVenue: ExchangeClient {
    let venue: SimulatedExchange
    let missing: OrderID
    init(_ venue: SimulatedExchange, missing: OrderID) { self.venue = venue; self.missing = missing }
    func submit(_ order: ExchangeOrder) throws(ExchangeError) { try venue.submit(order) }
    func cancel(_ id: OrderID) throws(ExchangeError) { try venue.cancel(id) }
    func pollEvents(_ body: (ExchangeEvent) -> Void) { venue.pollEvents(body) }
    func openOrders() throws(ExchangeError) -> [VenueOrder] { try venue.openOrders().filter { $0.id != missing } }
    func orderStatus(_ id: OrderID) throws(ExchangeError) -> VenueOrderStatus? { try venue.orderStatus(id) }
}

/// A venue that lists a filled order as open with nothing left.
private final class ListsFilledAsOpenVenue: ExchangeClient {
    let venue: SimulatedExchange
    let filled: OrderID
    init(_ venue: SimulatedExchange, filled: OrderID) { self.venue = venue; self.filled = filled }
    func submit(_ order: ExchangeOrder) throws(ExchangeError) { try venue.submit(order) }
    func cancel(_ id: OrderID) throws(ExchangeError) { try venue.cancel(id) }
    func pollEvents(_ body: (ExchangeEvent) -> Void) { venue.pollEvents(body) }
    func openOrders() throws(ExchangeError) -> [VenueOrder] {
        try venue.openOrders() + [VenueOrder(id: filled, symbol: SymbolID(rawValue: 0), side: .buy, remaining: 0, price: 4_000_000_000_000)]
    }
    func orderStatus(_ id: OrderID) throws(ExchangeError) -> VenueOrderStatus? { try venue.orderStatus(id) }
}

/// Another client (session) on the same venue account: it lists the same
/// open orders and has no mass cancel (that would reach the other session's).
/// With `tellsHowOrdersEnded` false it cannot tell how a finished order
/// ended either (`orderStatus` throws `.unsupported`).
private final class AnotherSessionVenue: ExchangeClient {
    let venue: SimulatedExchange
    let tellsHowOrdersEnded: Bool
    init(_ venue: SimulatedExchange, tellsHowOrdersEnded: Bool = true) {
        self.venue = venue
        self.tellsHowOrdersEnded = tellsHowOrdersEnded
    }
    func submit(_ order: ExchangeOrder) throws(ExchangeError) { try venue.submit(order) }
    func cancel(_ id: OrderID) throws(ExchangeError) { try venue.cancel(id) }
    func pollEvents(_ body: (ExchangeEvent) -> Void) { venue.pollEvents(body) }
    func openOrders() throws(ExchangeError) -> [VenueOrder] { try venue.openOrders() }
    func orderStatus(_ id: OrderID) throws(ExchangeError) -> VenueOrderStatus? {
        guard tellsHowOrdersEnded else { throw .unsupported }
        return try venue.orderStatus(id)
    }
}
