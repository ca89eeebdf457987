import Foundation
import Redline
import RedlineCore
import XCTest

/// A cancel the venue never answers: lost on its way, or its answer lost.
/// Past `cancelAnswerTimeout` the router asks the venue about the order and
/// settles it as it ended, or sends the cancel again. Before this, such an
/// order stayed `pendingCancel` (reserved) until a restart, and a lost cancel
/// left it working at the venue through a freeze.
final class UnansweredCancelTests: XCTestCase {
    private func fp(_ value: Double) -> Int64 { Int64((value * FixedPoint.scale).rounded()) }

    private func setUp(timeout: Duration = .milliseconds(40), client: ((SimulatedExchange) -> any ExchangeClient)? = nil)
        throws -> (SimulatedExchange, RuntimeRiskMonitor, OrderRouter)
    {
        let venue = SimulatedExchange()
        let limits = try RiskLimits(maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: -1e6)
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
        let router = try OrderRouter(monitor: monitor, client: client?(venue) ?? venue, orderCapacity: 64, ringCapacity: 1024,
                                     cancelAnswerTimeout: timeout, logger: quietLogger())
        return (venue, monitor, router)
    }

    /// Poll as a strategy loop does, for up to `seconds`, until `done`.
    private func poll(_ router: OrderRouter, for seconds: Double, until done: () -> Bool = { false }) {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end && !done() {
            router.poll()
            usleep(200)
        }
    }

    private func rest(_ router: OrderRouter, _ count: Int) throws -> [OrderID] {
        let ids = try (0..<count).map { _ in try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000) }
        router.poll()
        return ids
    }

    private func metric(_ monitor: RuntimeRiskMonitor, _ outcome: String) -> Double? {
        parsePrometheus(monitor.prometheusText())["cancels_unanswered_total{outcome=\"\(outcome)\"}"]
    }

    func testALostCancelIsSentAgainOnceOverdueAndNotBefore() throws {
        let (venue, monitor, router) = try setUp(timeout: .milliseconds(300))
        let id = try rest(router, 1)[0]
        venue.loseNextCancels = 1
        try router.cancel(id)
        poll(router, for: 0.1)
        XCTAssertEqual(try router.order(id).status, .pendingCancel, "not overdue yet")
        XCTAssertEqual(venue.cancelRequests, 1, "nothing sent again before the timeout")
        poll(router, for: 3) { router.activeOrderCount == 0 }
        XCTAssertEqual(try router.order(id).status, .canceled)
        XCTAssertEqual(venue.cancelRequests, 2, "sent once more")
        XCTAssertEqual(venue.restingCount, 0, "nothing works at the venue")
        XCTAssertEqual(router.unansweredCancels, 1)
        XCTAssertEqual(metric(monitor, "resent"), 1)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    func testALostAnswerIsSettledFromTheVenuesStatusWithoutASecondCancel() throws {
        let (venue, monitor, router) = try setUp()
        let id = try rest(router, 1)[0]
        venue.loseNextCancelAnswers = 1
        try router.cancel(id)
        XCTAssertEqual(venue.restingCount, 0, "canceled at the venue")
        poll(router, for: 3) { router.activeOrderCount == 0 }
        XCTAssertEqual(try router.order(id).status, .canceled)
        XCTAssertEqual(venue.cancelRequests, 1, "asked, not sent again")
        XCTAssertEqual(metric(monitor, "settled"), 1)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    /// A fill whose report was lost, then a cancel whose answer was lost: the
    /// venue's status says how much it executed, and the position moves by it.
    func testAFillNeverSeenIsCountedWhenTheLostAnswerIsSettled() throws {
        let (venue, monitor, router) = try setUp()
        let id = try rest(router, 1)[0]
        venue.fillQuietly(id, quantity: fp(0.004))
        venue.loseNextCancelAnswers = 1
        try router.cancel(id)
        poll(router, for: 3) { router.activeOrderCount == 0 }
        XCTAssertEqual(try router.order(id).status, .canceled)
        XCTAssertEqual(try router.order(id).executed, fp(0.004))
        XCTAssertEqual(router.anomalousFills, 1, "the fill never seen is an anomaly")
        assertBooks(monitor, router, working: 0, orders: 0, position: 0.004)
    }

    /// The kill switch: a freeze's mass cancel is lost. Within two timeouts
    /// every order is canceled one by one, and nothing works at the venue.
    func testAFreezeWhoseMassCancelIsLostStillCancelsEveryOrder() throws {
        let (venue, monitor, router) = try setUp()
        _ = try rest(router, 5)
        venue.loseNextCancels = 1
        XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
        let report = try XCTUnwrap(router.pollFreeze())
        XCTAssertTrue(report.massCancel)
        XCTAssertEqual(report.stillActive, 5, "the mass cancel went nowhere")
        XCTAssertEqual(venue.restingCount, 5)
        poll(router, for: 3) { router.activeOrderCount == 0 }
        XCTAssertEqual(venue.restingCount, 0, "nothing works at the venue through the freeze")
        XCTAssertEqual(venue.cancelRequests, 5, "one cancel each, sent again")
        XCTAssertEqual(metric(monitor, "resent"), 5)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    /// A venue that cannot be asked: the cancel is sent again each timeout
    /// until it is answered.
    func testWithoutAStatusQueryTheCancelIsSentAgain() throws {
        let (venue, monitor, router) = try setUp { NoStatusQuery($0) }
        let id = try rest(router, 1)[0]
        venue.loseNextCancels = 2
        try router.cancel(id)
        poll(router, for: 3) { router.activeOrderCount == 0 }
        XCTAssertEqual(try router.order(id).status, .canceled)
        XCTAssertEqual(venue.cancelRequests, 3, "two lost, the third answered")
        XCTAssertEqual(metric(monitor, "resent"), 2)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    /// A venue that says it never had the order: nothing works there, so its
    /// reservation is released (an anomaly).
    func testAnOrderTheVenueNeverHadIsReleased() throws {
        let (venue, monitor, router) = try setUp { ForgetfulVenue($0) }
        let id = try rest(router, 1)[0]
        venue.loseNextCancels = 1
        try router.cancel(id)
        poll(router, for: 3) { router.activeOrderCount == 0 }
        XCTAssertEqual(try router.order(id).status, .canceled)
        XCTAssertEqual(metric(monitor, "released"), 1)
        XCTAssertEqual(router.anomalousFills, 1)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    /// Answers that come in time are never second-guessed: a busy book of
    /// placed and canceled orders finds nothing unanswered.
    func testAnsweredCancelsAreNeverCountedUnanswered() throws {
        let (venue, monitor, router) = try setUp(timeout: .milliseconds(5))
        for _ in 0..<200 {
            let ids = try rest(router, 3)
            for id in ids { try router.cancel(id) }
            router.poll()
            usleep(100)
        }
        poll(router, for: 0.05)
        XCTAssertEqual(router.unansweredCancels, 0)
        XCTAssertEqual(venue.cancelRequests, 600)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    func testTheTimeoutIsValidated() throws {
        XCTAssertThrowsError(try setUp(timeout: .zero)) { XCTAssertTrue("\($0)".contains("cancelAnswerTimeout"), "\($0)") }
        XCTAssertThrowsError(try setUp(timeout: .seconds(3601))) { XCTAssertTrue("\($0)".contains("cancelAnswerTimeout"), "\($0)") }
    }
}

/// A venue client whose status query is unsupported.
private final class NoStatusQuery: ExchangeClient {
    let venue: SimulatedExchange
    init(_ venue: SimulatedExchange) { self.venue = venue }
    func submit(_ order: ExchangeOrder) throws(ExchangeError) { try venue.submit(order) }
    func cancel(_ id: OrderID) throws(ExchangeError) { try venue.cancel(id) }
    func pollEvents(_ body: (ExchangeEvent) -> Void) { venue.pollEvents(body) }
    func massCancel() throws(ExchangeError) { try venue.massCancel() }
}

/// A venue client whose status query knows no order.
private final class ForgetfulVenue: ExchangeClient {
    let venue: SimulatedExchange
    init(_ venue: SimulatedExchange) { self.venue = venue }
    func submit(_ order: ExchangeOrder) throws(ExchangeError) { try venue.submit(order) }
    func cancel(_ id: OrderID) throws(ExchangeError) { try venue.cancel(id) }
    func pollEvents(_ body: (ExchangeEvent) -> Void) { venue.pollEvents(body) }
    func orderStatus(_ id: OrderID) throws(ExchangeError) -> VenueOrderStatus? { nil }
}
