import Foundation
import Synchronization
@testable import Redline
import RedlineCore
import XCTest

/// A fill no position can record (an order the router does not know, or a
/// price of zero) halts trading (`unrecordable_fill`): something traded that
/// the book does not show. Before, it was counted as an invalid event and
/// dropped, and every later check judged a book short of the venue's.
final class UnrecordableFillTests: XCTestCase {
    /// A venue that answers what the test puts in `inject` too.
    protocol ScriptableVenue: AnyObject {
        var inject: [ExchangeEvent] { get set }
    }

    /// A venue whose answers the test scripts.
    final class ScriptedVenue: ExchangeClient, ScriptableVenue {
        var inject: [ExchangeEvent] = []
        var open: [OrderID] = []
        var cancels: [OrderID] = []

        func submit(_ order: ExchangeOrder) throws(ExchangeError) { open.append(order.id) }
        func cancel(_ id: OrderID) throws(ExchangeError) {
            cancels.append(id)
            open.removeAll { $0 == id }
            inject.append(.canceled(id))
        }
        func pollEvents(_ body: (ExchangeEvent) -> Void) {
            while !inject.isEmpty { body(inject.removeFirst()) }
        }
    }

    private let px = Int64(100 * FixedPoint.scale)
    private func fp(_ value: Double) -> Int64 { Int64((value * FixedPoint.scale).rounded()) }

    private func setUp() throws -> (RuntimeRiskMonitor, ScriptedVenue, OrderRouter) {
        let limits = try RiskLimits(maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: -1e6)
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
        let venue = ScriptedVenue()
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 256,
                                     logger: quietLogger())
        return (monitor, venue, router)
    }

    /// A working order, acknowledged.
    private func working(_ router: OrderRouter, _ venue: ScriptedVenue) throws -> OrderID {
        let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        venue.inject = [.acknowledged(id)]
        router.poll()
        return id
    }

    /// Delivers `event`, lets the risk side take it in, and polls again so
    /// the router sees the halt.
    private func deliver(_ event: ExchangeEvent, _ monitor: RuntimeRiskMonitor, _ venue: some ScriptableVenue,
                         _ router: OrderRouter) {
        venue.inject = [event]
        router.poll()
        monitor.drain()
        router.poll()
    }

    private func assertHaltedByUnrecordableFill(_ monitor: RuntimeRiskMonitor, qty: Double, price: Double,
                                                file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(monitor.tradingState.mode, .halted, file: file, line: line)
        let event = try XCTUnwrap(monitor.freezeEvents.last, file: file, line: line)
        XCTAssertEqual(event.trigger, .unrecordableFill, file: file, line: line)
        XCTAssertEqual(event.metadata["scope"], "unknown_order", file: file, line: line)
        XCTAssertEqual(event.metadata["qty"], "\(qty)", file: file, line: line)
        XCTAssertEqual(event.metadata["price"], "\(price)", file: file, line: line)
        XCTAssertTrue(event.reason.contains("no position can record"), event.reason, file: file, line: line)
    }

    func testAFillForAnotherSessionsOrderHaltsAndCancelsEverything() throws {
        let (monitor, venue, router) = try setUp()
        let mine = try working(router, venue)
        let theirs = OrderID(rawValue: mine.rawValue ^ (UInt64(7) << 48))
        deliver(.filled(theirs, quantity: fp(0.004), price: px), monitor, venue, router)
        try assertHaltedByUnrecordableFill(monitor, qty: 0.004, price: 100)
        XCTAssertEqual(router.invalidExchangeEvents, 1)
        XCTAssertEqual(venue.cancels, [mine], "the halt cancels the working order")
        XCTAssertEqual(router.activeOrderCount, 0)
        XCTAssertThrowsError(try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100),
                             "no new order while the book is unknown")
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity, 0, "nothing was put in a position")
        let metrics = parsePrometheus(monitor.prometheusText())
        XCTAssertEqual(metrics["freeze_triggered_total{reason=\"unrecordable_fill\"}"], 1)
        XCTAssertFalse(monitor.unfreeze(reason: "transient?", byCircuitBreaker: true), "only an operator lifts it")
        XCTAssertTrue(monitor.unfreeze(reason: "reconciled with the venue by hand"))
        XCTAssertEqual(monitor.tradingState.mode, .active)
    }

    /// The router halts trading on its own thread
    /// (`rl_engine_halt_unrecordable_fill`) before its poll returns: every
    /// router of the process refuses from then on, before the risk side has
    /// run. The risk side records the halt, with the fill's quantity and
    /// price, at its next step; an operator who lifts it finds both routers
    /// trading. (Before, the halt went through the ring, and every other
    /// router accepted orders until the risk side took it.)
    func testTheRouterHaltsOnItsOwnThreadForEveryRouterAndTradesAfterTheOperatorLiftsIt() throws {
        let (monitor, venue, router) = try setUp()
        let other = try OrderRouter(monitor: monitor, client: ScriptedVenue(), orderCapacity: 64, ringCapacity: 256,
                                    logger: quietLogger())
        let mine = try working(router, venue)
        venue.inject = [.filled(OrderID(rawValue: mine.rawValue ^ (UInt64(7) << 48)), quantity: fp(0.004), price: px)]
        router.processExchangeEvents()
        XCTAssertEqual(monitor.tradingState.mode, .halted, "halted before the risk side ran")
        XCTAssertEqual(monitor.tradingState.reasonCode, UInt8(RL_FREEZE_REASON_UNRECORDABLE.rawValue))
        XCTAssertThrowsRedline(.blocked(.frozen)) { try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100) }
        XCTAssertThrowsRedline(.blocked(.frozen)) { try other.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100) }
        monitor.drain()
        try assertHaltedByUnrecordableFill(monitor, qty: 0.004, price: 100)
        XCTAssertEqual(monitor.freezeEvents.filter { $0.trigger == .unrecordableFill }.count, 1)
        XCTAssertTrue(monitor.unfreeze(reason: "reconciled with the venue by hand"))
        XCTAssertNoThrow(try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100),
                         "the router trades again once the halt it made was lifted")
        XCTAssertNoThrow(try other.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100))
    }

    /// The race that halt closes, with the risk thread running: router A is
    /// given an unknown fill while router B trades on its own thread. Once
    /// A's poll has returned, B accepts no order, in any round (each new
    /// order is looked at right after B read A's "handled" flag). With the
    /// halt sent through A's ring instead, B accepted orders after it in 2
    /// of 20 rounds.
    func testNoRouterAcceptsAnOrderOnceAnUnknownFillIsHandledUnderLoad() throws {
        let limits = try RiskLimits(maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: -1e6)
        var acceptedBefore = 0
        for round in 0..<40 {
            let runtime = try RedlineRuntime.make(limits: limits, symbols: ["BTCUSDT"],
                                                  configuration: .init(cpu: RedlineRuntime.cpuCount - 1), logger: quietLogger())
            let venueA = InjectingVenue(SimulatedExchange())
            let routerA = try OrderRouter(monitor: runtime.monitor, client: venueA, orderCapacity: 64, ringCapacity: 256,
                                          logger: quietLogger())
            // Owned by B's thread from its start (the main thread reads it only after B is done).
            nonisolated(unsafe) let routerB = try OrderRouter(monitor: runtime.monitor, client: SimulatedExchange(.init(seed: UInt64(round), fillRatio: 1)),
                                          orderCapacity: 1024, ringCapacity: 1 << 12, logger: quietLogger())
            let mine = try routerA.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
            try runtime.start()
            let handled = Atomic<Bool>(false), started = Atomic<Bool>(false)
            let acceptedAfter = Atomic<Int>(0), accepted = Atomic<Int>(0)
            let done = DispatchGroup()
            done.enter()
            Thread {
                var i = 0
                while true {
                    // acquiring: pairs with the releasing store after A's poll returned.
                    let after = handled.load(ordering: .acquiring)
                    do {
                        _ = try routerB.placeOrder(symbol: "BTCUSDT", side: i & 1 == 0 ? .buy : .sell, qty: 0.01, price: 100)
                        accepted.add(1, ordering: .relaxed)
                        if after { acceptedAfter.add(1, ordering: .relaxed) }
                    } catch {
                        if after { break }
                    }
                    routerB.poll()
                    i += 1
                    if i == 200 { started.store(true, ordering: .releasing) }
                }
                done.leave()
            }.start()
            while !started.load(ordering: .acquiring) { usleep(100) }
            venueA.inject = [.filled(OrderID(rawValue: mine.rawValue ^ (UInt64(7) << 48)), quantity: fp(0.004), price: px)]
            routerA.processExchangeEvents()
            handled.store(true, ordering: .releasing) // releasing: pairs with B's acquiring load
            done.wait()
            try runtime.stop()
            XCTAssertEqual(acceptedAfter.load(ordering: .relaxed), 0, "round \(round): B accepted orders after A handled the fill")
            acceptedBefore += accepted.load(ordering: .relaxed)
            XCTAssertEqual(runtime.monitor.freezeEvents.last?.trigger, .unrecordableFill, "round \(round)")
        }
        XCTAssertGreaterThanOrEqual(acceptedBefore, 40 * 200, "B traded before each fill")
    }

    /// An order whose slot later orders have taken (an older generation of
    /// the same slot): its record is gone, so a very late fill cannot be put
    /// in its position.
    func testAFillForAnOrderWhoseSlotWasReusedHalts() throws {
        let (monitor, venue, router) = try setUp()
        let first = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        venue.inject = [.rejected(first)]
        router.poll()
        // Every slot taken once more, so `first`'s slot holds a newer order.
        var reused: OrderID?
        for _ in 0..<router.orders.slotCount {
            let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
            if router.orders.slot(of: id) == router.orders.idSlot(first) { reused = id }
            venue.inject = [.rejected(id)]
            router.poll()
        }
        XCTAssertNotNil(reused, "the slot was taken again")
        XCTAssertThrowsError(try router.order(first), "the first order's record is gone")
        deliver(.filled(first, quantity: fp(0.01), price: px, cumulative: fp(0.01)), monitor, venue, router)
        try assertHaltedByUnrecordableFill(monitor, qty: 0.01, price: 100)
    }

    /// A known order filled at a price of zero: the quantity traded, but no
    /// value can be put on it.
    func testAFillAtPriceZeroHalts() throws {
        let (monitor, venue, router) = try setUp()
        let id = try working(router, venue)
        deliver(.filled(id, quantity: fp(0.003), price: 0), monitor, venue, router)
        try assertHaltedByUnrecordableFill(monitor, qty: 0.003, price: 0)
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity, 0)
    }

    /// Answers that move no position stay counted, and trading goes on: an
    /// ack or a cancel ack for an order the router does not know, and a
    /// "fill" of nothing.
    func testImpossibleAnswersThatMoveNothingDoNotHalt() throws {
        let (monitor, venue, router) = try setUp()
        let mine = try working(router, venue)
        let unknown = OrderID(rawValue: mine.rawValue ^ (UInt64(7) << 48))
        for event: ExchangeEvent in [.acknowledged(unknown), .canceled(unknown), .expired(unknown),
                                     .filled(unknown, quantity: 0, price: px), .filled(mine, quantity: -5, price: px)] {
            deliver(event, monitor, venue, router)
        }
        XCTAssertEqual(router.invalidExchangeEvents, 5)
        XCTAssertEqual(monitor.tradingState.mode, .active)
        XCTAssertTrue(monitor.freezeEvents.isEmpty)
        XCTAssertNoThrow(try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100))
    }

    /// A fill after the cancel ack, while the order's record is still there,
    /// is a real venue race: it moves the position, and trading goes on.
    func testALateFillOfAKnownOrderStillMovesThePositionWithoutAHalt() throws {
        let (monitor, venue, router) = try setUp()
        let id = try working(router, venue)
        try router.cancel(id)
        router.poll()
        deliver(.filled(id, quantity: fp(0.002), price: px), monitor, venue, router)
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity ?? 0, 0.002, accuracy: 1e-12)
        XCTAssertEqual(monitor.tradingState.mode, .active)
        XCTAssertEqual(router.invalidExchangeEvents, 0)
    }

    // MARK: After a restart

    /// Orders reconciliation settled as ended at the venue are not unknown:
    /// the venue may send their fills again after the restart. A resend (its
    /// running total within what the venue's status counted) moves nothing;
    /// more than that moves the position by the difference, flagged; a fill
    /// for an id reconciliation never saw still halts.
    func testFillsTheVenueSendsAgainForOrdersSettledAtRestartDoNotHalt() throws {
        let dir = try makeTemporaryDirectory()
        // The simulated venue, which survives the engine's restart; every order rests.
        let venue = InjectingVenue(SimulatedExchange(.init(seed: 1)))
        // A crash: the orders stay at the venue.
        let placed = try crashAfterSession(journaling: dir, venue: venue) { _, router in
            let placed = try (0..<2).map { _ in try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000) }
            router.poll()
            return placed
        }
        // While the engine is down: the first fills in full, the second is canceled.
        venue.venue.fillQuietly(placed[0], quantity: fp(0.01))
        venue.venue.cancelQuietly(placed[1])
        venue.venue.forgetUnpolledEvents()

        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        defer { journal.close() }
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 64, ringCapacity: 64, logger: quietLogger())
        let report = try router.reconcile()
        XCTAssertEqual(Set(report.released), Set(placed))
        XCTAssertEqual(report.filledWhileDown, [placed[0]: fp(0.01)])
        monitor.drain()
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity ?? 0, 0.01, accuracy: 1e-12)

        // The venue sends the first order's fill again: a resend.
        let price = fp(40_000)
        deliver(.filled(placed[0], quantity: fp(0.01), price: price, cumulative: fp(0.01)), monitor, venue, router)
        XCTAssertEqual(monitor.tradingState.mode, .active, "a resend is no unknown fill")
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity ?? 0, 0.01, accuracy: 1e-12, "counted once")
        XCTAssertEqual(router.invalidExchangeEvents, 0)
        // A running total beyond what the status counted: the difference moves the position.
        deliver(.filled(placed[0], quantity: fp(0.004), price: price, cumulative: fp(0.014)), monitor, venue, router)
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity ?? 0, 0.014, accuracy: 1e-12)
        XCTAssertEqual(router.anomalousFills, 1)
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.workingBuy ?? -1, 0, accuracy: 1e-12, "no reservation consumed")
        XCTAssertEqual(monitor.tradingState.mode, .active)
        // The second order ended canceled with nothing filled: a fill for it
        // now contradicts the venue's own status, but it is an order the
        // router knows where to put: moved, flagged, no halt.
        deliver(.filled(placed[1], quantity: fp(0.002), price: price, cumulative: fp(0.002)), monitor, venue, router)
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.quantity ?? 0, 0.016, accuracy: 1e-12)
        XCTAssertEqual(monitor.tradingState.mode, .active)
        // An id reconciliation never saw: unknown, halts.
        let stranger = OrderID(rawValue: placed[1].rawValue + 1)
        deliver(.filled(stranger, quantity: fp(0.002), price: price), monitor, venue, router)
        try assertHaltedByUnrecordableFill(monitor, qty: 0.002, price: 40_000)
    }
}

extension InjectingVenue: UnrecordableFillTests.ScriptableVenue {}
