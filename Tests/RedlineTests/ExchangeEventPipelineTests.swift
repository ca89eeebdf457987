@testable import Redline
import RedlineCore
import XCTest

/// `OrderRouter.processExchangeEvents` handles each venue event a few events
/// after it arrives (its order's record fetched meanwhile) and stages what
/// it sends to the risk side: every event must still be handled once and in
/// order, whatever the count, and when a venue adapter calls back into the
/// router from inside its own `pollEvents`. From an adversarial review.
final class ExchangeEventPipelineTests: XCTestCase {
    /// A venue adapter that, part-way through delivering its events, calls
    /// back into the router (as an adapter's session-level handler might:
    /// a cancel-on-disconnect hook that runs the router's cancel-all, or a
    /// wrapper that re-polls).
    final class ReentrantVenue: ExchangeClient {
        let inner: SimulatedExchange
        weak var router: OrderRouter?
        var reenterAfter = -1
        var useCancelAll = false
        private var delivered = 0
        init(_ inner: SimulatedExchange) { self.inner = inner }
        func submit(_ order: ExchangeOrder) throws(ExchangeError) { try inner.submit(order) }
        func cancel(_ id: OrderID) throws(ExchangeError) { try inner.cancel(id) }
        func massCancel() throws(ExchangeError) { try inner.massCancel() }
        func pollEvents(_ body: (ExchangeEvent) -> Void) {
            inner.pollEvents { event in
                body(event)
                delivered += 1
                if delivered == reenterAfter {
                    if useCancelAll { router?.cancelAllOrders(reason: "adapter hook") } else { router?.processExchangeEvents() }
                }
            }
        }
    }

    /// A venue that delivers a scripted list of events.
    final class ScriptedVenue: ExchangeClient {
        let inner: SimulatedExchange
        var script: [ExchangeEvent] = []
        init(_ inner: SimulatedExchange) { self.inner = inner }
        func submit(_ order: ExchangeOrder) throws(ExchangeError) { try inner.submit(order) }
        func cancel(_ id: OrderID) throws(ExchangeError) { try inner.cancel(id) }
        func pollEvents(_ body: (ExchangeEvent) -> Void) {
            let due = script
            script.removeAll()
            inner.pollEvents { _ in }
            due.forEach(body)
        }
    }

    private func limits() throws -> RiskLimits {
        try RiskLimits(maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: -1e6)
    }

    /// 20 buy orders placed (not yet polled) through a `ReentrantVenue` that knows the router.
    private func twentyRestingOrdersBehindAReentrantVenue() throws
        -> (RuntimeRiskMonitor, SimulatedExchange, ReentrantVenue, OrderRouter, [OrderID])
    {
        let monitor = try RuntimeRiskMonitor(limits: limits(), symbols: ["BTCUSDT"], logger: quietLogger())
        let inner = SimulatedExchange(.init(seed: 3, fillRatio: 0))
        let venue = ReentrantVenue(inner)
        let router = try OrderRouter(monitor: monitor, client: venue, logger: quietLogger())
        venue.router = router
        var ids: [OrderID] = []
        for _ in 0..<20 { ids.append(try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)) }
        return (monitor, inner, venue, router, ids)
    }

    /// A processExchangeEvents from inside the venue's pollEvents handles
    /// the outer call's waiting events first: none is lost, none handled
    /// twice (the waiting range once lived in the outer call's locals, and
    /// the nested call overwrote it).
    func testANestedPollFromInsideTheVenuesPollHandlesEveryEventOnce() throws {
        let (monitor, inner, venue, router, ids) = try twentyRestingOrdersBehindAReentrantVenue()
        router.poll()
        XCTAssertEqual(router.activeOrderCount, 20)
        for id in ids { inner.fillResting(id, price: Int64(100 * FixedPoint.scale)) }
        venue.reenterAfter = 20 + 3 // the 3rd fill
        router.poll()
        monitor.drain()
        XCTAssertEqual(router.activeOrderCount, 0, "every order was filled at the venue")
        XCTAssertEqual(router.invalidExchangeEvents, 0)
        XCTAssertEqual(router.anomalousFills, 0, "no fill handled twice")
        let state = try XCTUnwrap(monitor.position(of: "BTCUSDT"))
        XCTAssertEqual(state.quantity, 0.2, accuracy: 1e-9, "the position is what the venue filled")
        XCTAssertEqual(state.workingBuy, 0, accuracy: 1e-9)
        XCTAssertEqual(monitor.workingOrders(symbol: "BTCUSDT"), 0)
    }

    /// The same through the router's own cancel-all, run from the adapter's
    /// hook while the router is polling.
    func testACancelAllFromInsideTheVenuesPollLeavesNothingBehind() throws {
        let (monitor, inner, venue, router, ids) = try twentyRestingOrdersBehindAReentrantVenue()
        router.poll() // 20 acks: all resting
        for id in ids.prefix(6) { inner.fillResting(id, price: Int64(100 * FixedPoint.scale)) }
        venue.useCancelAll = true
        venue.reenterAfter = 20 + 3 // the adapter's hook runs a cancel-all after the 3rd fill
        router.poll()
        router.poll()
        monitor.drain()
        XCTAssertEqual(router.activeOrderCount, 0, "6 filled and 14 canceled at the venue")
        XCTAssertEqual(inner.restingCount, 0)
        XCTAssertEqual(router.invalidExchangeEvents, 0)
        let state = try XCTUnwrap(monitor.position(of: "BTCUSDT"))
        XCTAssertEqual(state.quantity, 0.06, accuracy: 1e-9, "the position is what the venue filled")
        XCTAssertEqual(state.workingBuy, 0, accuracy: 1e-9)
        XCTAssertEqual(monitor.workingOrders(symbol: "BTCUSDT"), 0)
    }

    /// 0, 1, 7, 8, 9 and 17 events in one poll: each handled once, in order.
    func testThePipelineHandlesEveryCountOfEventsOnceInOrder() throws {
        for n in [0, 1, 7, 8, 9, 17] {
            let monitor = try RuntimeRiskMonitor(limits: limits(), symbols: ["BTCUSDT"], logger: quietLogger())
            let venue = ScriptedVenue(SimulatedExchange(.init(seed: 3, fillRatio: 0)))
            let router = try OrderRouter(monitor: monitor, client: venue, ringCapacity: 4, logger: quietLogger())
            var ids: [OrderID] = []
            for _ in 0..<n { ids.append(try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)) }
            // ack then partial fill then expiry for each: order matters (an expiry before its ack is invalid)
            venue.script = ids.flatMap { [ExchangeEvent.acknowledged($0)] }
                + ids.map { ExchangeEvent.filled($0, quantity: Int64(0.004 * FixedPoint.scale), price: Int64(100 * FixedPoint.scale)) }
                + ids.map { ExchangeEvent.expired($0) }
            XCTAssertEqual(router.processExchangeEvents(), 3 * n)
            monitor.drain()
            XCTAssertEqual(router.invalidExchangeEvents, 0, "n=\(n)")
            XCTAssertEqual(router.activeOrderCount, 0, "n=\(n)")
            let state = try XCTUnwrap(monitor.position(of: "BTCUSDT"))
            XCTAssertEqual(state.quantity, 0.004 * Double(n), accuracy: 1e-9, "n=\(n)")
            XCTAssertEqual(state.workingBuy, 0, accuracy: 1e-9, "n=\(n)")
            XCTAssertEqual(monitor.workingOrders(symbol: "BTCUSDT"), 0, "n=\(n)")
        }
    }
}
