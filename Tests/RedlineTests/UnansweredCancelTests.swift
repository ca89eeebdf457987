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

    private func setUp(timeout: Duration = .milliseconds(40), capacity: Int = 64,
                       client: ((SimulatedExchange) -> any ExchangeClient)? = nil)
        throws -> (SimulatedExchange, RuntimeRiskMonitor, OrderRouter)
    {
        let venue = SimulatedExchange()
        let (monitor, router) = try makeWatchedRouter(client?(venue) ?? venue, capacity: capacity, timeout: timeout)
        return (venue, monitor, router)
    }

    func testALostCancelIsSentAgainOnceOverdueAndNotBefore() throws {
        let (venue, monitor, router) = try setUp(timeout: .milliseconds(300))
        let id = try restOrders(router, 1)[0]
        venue.loseNextCancels = 1
        try router.cancel(id)
        pollRouter(router, for: 0.1)
        XCTAssertEqual(try router.order(id).status, .pendingCancel, "not overdue yet")
        XCTAssertEqual(venue.cancelRequests, 1, "nothing sent again before the timeout")
        pollRouter(router, for: 3) { router.activeOrderCount == 0 }
        XCTAssertEqual(try router.order(id).status, .canceled)
        XCTAssertEqual(venue.cancelRequests, 2, "sent once more")
        XCTAssertEqual(venue.restingCount, 0, "nothing works at the venue")
        XCTAssertEqual(router.unansweredCancels, 1)
        XCTAssertEqual(unansweredCancels(monitor, "resent"), 1)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    func testALostAnswerIsSettledFromTheVenuesStatusWithoutASecondCancel() throws {
        let (venue, monitor, router) = try setUp()
        let id = try restOrders(router, 1)[0]
        venue.loseNextCancelAnswers = 1
        try router.cancel(id)
        XCTAssertEqual(venue.restingCount, 0, "canceled at the venue")
        pollRouter(router, for: 3) { router.activeOrderCount == 0 }
        XCTAssertEqual(try router.order(id).status, .canceled)
        XCTAssertEqual(venue.cancelRequests, 1, "asked, not sent again")
        XCTAssertEqual(unansweredCancels(monitor, "settled"), 1)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    /// A fill whose report was lost, then a cancel whose answer was lost: the
    /// venue's status says how much it executed, and the position moves by it.
    func testAFillNeverSeenIsCountedWhenTheLostAnswerIsSettled() throws {
        let (venue, monitor, router) = try setUp()
        let id = try restOrders(router, 1)[0]
        venue.fillQuietly(id, quantity: fp(0.004))
        venue.loseNextCancelAnswers = 1
        try router.cancel(id)
        pollRouter(router, for: 3) { router.activeOrderCount == 0 }
        XCTAssertEqual(try router.order(id).status, .canceled)
        XCTAssertEqual(try router.order(id).executed, fp(0.004))
        XCTAssertEqual(router.anomalousFills, 1, "the fill never seen is an anomaly")
        assertBooks(monitor, router, working: 0, orders: 0, position: 0.004)
    }

    /// The kill switch: a freeze's mass cancel is lost. Within two timeouts
    /// every order is canceled one by one, and nothing works at the venue.
    func testAFreezeWhoseMassCancelIsLostStillCancelsEveryOrder() throws {
        let (venue, monitor, router) = try setUp()
        _ = try restOrders(router, 5)
        venue.loseNextCancels = 1
        XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
        let report = try XCTUnwrap(router.pollFreeze())
        XCTAssertTrue(report.massCancel)
        XCTAssertEqual(report.stillActive, 5, "the mass cancel went nowhere")
        XCTAssertEqual(venue.restingCount, 5)
        pollRouter(router, for: 3) { router.activeOrderCount == 0 }
        XCTAssertEqual(venue.restingCount, 0, "nothing works at the venue through the freeze")
        XCTAssertEqual(venue.cancelRequests, 5, "one cancel each, sent again")
        XCTAssertEqual(unansweredCancels(monitor, "resent"), 5)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    /// A venue that cannot be asked: the cancel is sent again each timeout
    /// until it is answered.
    func testWithoutAStatusQueryTheCancelIsSentAgain() throws {
        let (venue, monitor, router) = try setUp { StatusQueryVenue($0) { _, _ throws(ExchangeError) in throw .unsupported } }
        let id = try restOrders(router, 1)[0]
        venue.loseNextCancels = 2
        try router.cancel(id)
        pollRouter(router, for: 3) { router.activeOrderCount == 0 }
        XCTAssertEqual(try router.order(id).status, .canceled)
        XCTAssertEqual(venue.cancelRequests, 3, "two lost, the third answered")
        XCTAssertEqual(unansweredCancels(monitor, "resent"), 2)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    /// Answers that come in time are never second-guessed: a busy book of
    /// placed and canceled orders finds nothing unanswered.
    func testAnsweredCancelsAreNeverCountedUnanswered() throws {
        let (venue, monitor, router) = try setUp(timeout: .milliseconds(5))
        for _ in 0..<200 {
            let ids = try restOrders(router, 3)
            for id in ids { try router.cancel(id) }
            router.poll()
            usleep(100)
        }
        pollRouter(router, for: 0.05)
        XCTAssertEqual(router.unansweredCancels, 0)
        XCTAssertEqual(venue.cancelRequests, 600)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    /// A fill report waiting in the client when the look runs, at a venue
    /// without running totals: counted once (the look takes the waiting
    /// answers first; helper-27 found it counted from the status and again
    /// from the report).
    func testAFillWaitingWhenTheLookRunsIsCountedOnce() throws {
        let (venue, monitor, router) = try setUp { NoRunningTotals($0) }
        let id = try restOrders(router, 1)[0]
        venue.loseNextCancels = 1
        try router.cancel(id)
        pollRouter(router, for: 2) { (try? router.order(id))?.cancelWatched == true }
        XCTAssertTrue(try router.order(id).cancelWatched, "the first look marked it")
        usleep(60_000) // the next look is due
        venue.fillResting(id, quantity: fp(0.004), price: fp(40_000))
        for _ in 0..<16 where router.unansweredCancels == 0 { router.pollFreeze() }
        XCTAssertEqual(router.unansweredCancels, 1)
        pollRouter(router, for: 3) { router.activeOrderCount == 0 }
        XCTAssertEqual(venue.restingCount, 0)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0.004, "the venue's position")
    }

    /// The kill switch with the status query down (.unavailable) and the
    /// freeze's mass cancel lost: the cancels go again all the same.
    func testAFreezeWithTheStatusQueryDownStillCancelsEveryOrder() throws {
        let (venue, monitor, router) = try setUp { StatusQueryVenue($0) { _, _ throws(ExchangeError) in throw .unavailable } }
        _ = try restOrders(router, 3)
        venue.loseNextCancels = 1
        XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
        XCTAssertEqual(router.pollFreeze()?.massCancel, true)
        pollRouter(router, for: 3) { router.activeOrderCount == 0 }
        XCTAssertEqual(venue.restingCount, 0, "nothing works at the venue through the freeze")
        XCTAssertEqual(venue.cancelRequests, 3)
        XCTAssertEqual(unansweredCancels(monitor, "unasked"), 3)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    /// A venue that says it never had the order: released, it could work
    /// there unreserved (a lagging query). It stays reserved; its cancel goes again.
    func testAnOrderTheVenueSaysItNeverHadStaysReservedAndItsCancelGoesAgain() throws {
        let (venue, monitor, router) = try setUp { StatusQueryVenue($0, massCancel: false) { _, _ in nil } }
        let id = try restOrders(router, 1)[0]
        venue.loseNextCancels = 1
        try router.cancel(id)
        pollRouter(router, for: 3) { router.activeOrderCount == 0 }
        XCTAssertEqual(try router.order(id).status, .canceled, "the cancel sent again was answered")
        XCTAssertEqual(venue.cancelRequests, 2)
        XCTAssertEqual(unansweredCancels(monitor, "unknown"), 1)
        XCTAssertEqual(router.anomalousFills, 1)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    /// A lost mass cancel over a book of 2,000, at a venue whose status query
    /// takes 100 us: the look does not ask about each (helper-27 measured one
    /// poll of 202 ms); halted, it sends the mass cancel again. Counted in
    /// queries per poll (at most 64 a look), not in milliseconds, which a
    /// sanitizer build on a busy host would stretch.
    func testALookOverALostMassCancelNeverHoldsTheStrategy() throws {
        nonisolated(unsafe) var queries = 0
        let (venue, monitor, router) = try setUp(capacity: 4096) { venue in
            StatusQueryVenue(venue) { venue, id throws(ExchangeError) in
                queries += 1
                let until = rl_clock_ns() + 100_000
                while rl_clock_ns() < until {}
                return try venue.orderStatus(id)
            }
        }
        _ = try restOrders(router, 2000)
        venue.loseNextCancels = 1
        XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
        _ = router.pollFreeze()
        var most = 0
        let end = Date().addingTimeInterval(5)
        while Date() < end && router.activeOrderCount > 0 {
            queries = 0
            router.pollFreeze()
            most = max(most, queries)
            router.processExchangeEvents()
            monitor.drain()
        }
        XCTAssertEqual(venue.restingCount, 0)
        XCTAssertEqual(venue.massCancelRequests, 2, "the mass cancel, then once more")
        XCTAssertLessThanOrEqual(most, 64, "one pollFreeze asked the venue about \(most) orders")
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    /// The same, and then the venue refuses every cancel: each is owed, in
    /// time linear in the book (helper-27 measured 2.85 s for 8,000 orders,
    /// quadratic, before owed cancels were looked up once per look).
    /// Compared across book sizes (the least of three runs of each), not in
    /// milliseconds, which a sanitizer build on a busy host would stretch:
    /// four times the book takes about four times as long, where the
    /// quadratic look took sixteen.
    func testALookOverManyOwedCancelsIsLinear() throws {
        func longestPoll(_ orders: Int) throws -> Double {
            let (venue, monitor, router) = try setUp(capacity: 16_384)
            _ = try restOrders(router, orders)
            venue.loseNextCancels = 1
            XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
            _ = router.pollFreeze()
            venue.failAllCancels = true
            var longest: UInt64 = 0
            let end = Date().addingTimeInterval(10)
            while Date() < end && router.owedCancelCount < orders {
                let start = rl_clock_ns()
                router.pollFreeze()
                longest = max(longest, rl_clock_ns() - start)
            }
            XCTAssertEqual(router.owedCancelCount, orders)
            return Double(longest)
        }
        let small = try (0..<3).map { _ in try longestPoll(2000) }.min()!
        let large = try (0..<3).map { _ in try longestPoll(8000) }.min()!
        XCTAssertLessThan(large / small, 9, "8,000 owed cancels took \(large / 1e6) ms against \(small / 1e6) ms for 2,000")
    }

    private func statuses(_ router: OrderRouter, _ ids: [OrderID]) -> [String: Int] {
        var counts: [String: Int] = [:]
        for id in ids { counts["\((try? router.order(id))?.status.description ?? "gone")", default: 0] += 1 }
        return counts
    }

    /// helper-28: more than 64 lost answers outside a halt were each sent
    /// again without asking, rejected (the venue had canceled them) and put
    /// back to working, reserved for good. Now a look asks 64 in turn, and a
    /// reject of a cancel sent again leaves the order for a later look to ask.
    func testMoreThan64LostAnswersAreAllSettled() throws {
        let (venue, monitor, router) = try setUp(capacity: 256)
        let ids = try restOrders(router, 100)
        venue.loseNextCancelAnswers = 100
        for id in ids { try router.cancel(id) }
        XCTAssertEqual(venue.restingCount, 0, "every order canceled at the venue")
        pollRouter(router, for: 5) { router.activeOrderCount == 0 }
        XCTAssertEqual(router.activeOrderCount, 0, "\(statuses(router, ids)), cancels \(venue.cancelRequests)")
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    /// helper-28: a freeze's mass cancel carried out and its answers lost,
    /// over 100 orders: sent again every look and never settled; after the
    /// lift each went back to working. Now every order is asked about in turn.
    func testAFreezeWhoseMassCancelAnswersAreLostSettlesTheBook() throws {
        let (venue, monitor, router) = try setUp(capacity: 256)
        let ids = try restOrders(router, 100)
        venue.loseNextCancelAnswers = 1
        XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
        XCTAssertEqual(router.pollFreeze()?.massCancel, true)
        XCTAssertEqual(venue.restingCount, 0)
        pollRouter(router, for: 5) { router.activeOrderCount == 0 }
        XCTAssertEqual(router.activeOrderCount, 0, "\(statuses(router, ids)); mass cancels \(venue.massCancelRequests)")
        XCTAssertLessThanOrEqual(venue.massCancelRequests, 2, "the mass cancel once more at most")
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    /// helper-28: fill reports lost for 70 of 100 orders a freeze cancels
    /// left the position 0.7 short of the venue's (fail open). Each is asked
    /// about in turn, and the fills move the position.
    func testFillsLostOverMoreThan64OrdersMoveThePosition() throws {
        let (venue, monitor, router) = try setUp(capacity: 256)
        let ids = try restOrders(router, 100)
        for id in ids.prefix(70) { venue.fillQuietly(id, quantity: fp(0.01)) }
        XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
        _ = router.pollFreeze()
        pollRouter(router, for: 5) { router.activeOrderCount == 0 }
        XCTAssertEqual(router.activeOrderCount, 0, "\(statuses(router, ids))")
        assertBooks(monitor, router, working: 0, orders: 0, position: 0.7, "the venue's position")
    }

    /// helper-28: a venue without a mass cancel, a freeze, 100 answers lost:
    /// each cancel was sent again, rejected, owed again (halted), in a loop,
    /// 1,200 cancels in 2 s. Now a reject of a cancel sent again waits for a look to ask.
    func testAFreezeWithoutMassCancelAndLostAnswersSettlesWithoutLooping() throws {
        let (venue, monitor, router) = try setUp(capacity: 256) {
            StatusQueryVenue($0, massCancel: false) { venue, id throws(ExchangeError) in try venue.orderStatus(id) }
        }
        let ids = try restOrders(router, 100)
        venue.loseNextCancelAnswers = 100
        XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
        XCTAssertEqual(router.pollFreeze()?.sent, 100)
        pollRouter(router, for: 5) { router.activeOrderCount == 0 }
        XCTAssertEqual(router.activeOrderCount, 0, "\(statuses(router, ids)); owed \(router.owedCancelCount)")
        XCTAssertLessThanOrEqual(venue.cancelRequests, 200, "each cancel once more at most")
        XCTAssertEqual(router.owedCancelCount, 0)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    /// helper-28: "canceled" about an order the venue filled is an impossible
    /// event, counted, even after a look marked the order.
    func testACanceledAfterAFillIsStillAnInvalidEvent() throws {
        let (venue, _, router) = try setUp { InjectingVenue($0) }
        let client = try XCTUnwrap(router.client as? InjectingVenue)
        let id = try restOrders(router, 1)[0]
        venue.loseNextCancels = 1
        try router.cancel(id)
        pollRouter(router, for: 2) { (try? router.order(id))?.cancelWatched == true }
        XCTAssertTrue(try router.order(id).cancelWatched)
        venue.fillResting(id, price: fp(40_000))
        router.processExchangeEvents()
        XCTAssertEqual(try router.order(id).status, .filled)
        client.inject.append(.canceled(id))
        router.processExchangeEvents()
        XCTAssertEqual(router.invalidExchangeEvents, 1)
    }

    /// helper-28: an order the venue never received (its submit lost) was
    /// held working and reserved for good. Said "never received" twice, a
    /// look apart and after its cancel went again, it is released.
    func testAnOrderTheVenueNeverReceivedIsReleasedAfterTwoAnswers() throws {
        let (venue, monitor, router) = try setUp { InjectingVenue($0) }
        let client = try XCTUnwrap(router.client as? InjectingVenue)
        client.dropSubmits = 1
        let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        XCTAssertEqual(venue.restingCount, 0, "never reached the venue")
        XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
        _ = router.pollFreeze()
        pollRouter(router, for: 3) { router.activeOrderCount == 0 }
        XCTAssertEqual(try router.order(id).status, .canceled)
        XCTAssertEqual(unansweredCancels(monitor, "unknown"), 2)
        XCTAssertTrue(monitor.unfreeze(reason: "drill over"))
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    /// helper-28: a strategy whose loop turns (`poll()`) come every 20 ms
    /// (timeout 40 ms) looked only every 16th turn: its freeze's lost mass
    /// cancel went again after 0.65 s. Each `poll()` reads the clock now.
    func testASlowLoopLooksWithinTwoTimeouts() throws {
        let (venue, monitor, router) = try setUp()
        _ = try restOrders(router, 5)
        venue.loseNextCancels = 1
        XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
        XCTAssertEqual(router.pollFreeze()?.massCancel, true)
        let start = Date()
        var turns = 0
        while Date().timeIntervalSince(start) < 3 && venue.restingCount > 0 {
            router.poll()
            turns += 1
            usleep(20_000)
        }
        XCTAssertEqual(venue.restingCount, 0)
        // Two timeouts are four turns of 20 ms, fewer where the host
        // oversleeps; a look every 16th turn took 32.
        XCTAssertLessThan(turns, 12, "orders worked at the venue through the freeze for \(turns) turns of the loop")
    }

    func testTheTimeoutIsValidated() throws {
        XCTAssertThrowsError(try setUp(timeout: .zero)) { XCTAssertTrue("\($0)".contains("cancelAnswerTimeout"), "\($0)") }
        XCTAssertThrowsError(try setUp(timeout: .seconds(3601))) { XCTAssertTrue("\($0)".contains("cancelAnswerTimeout"), "\($0)") }
    }
}

/// Fills without running totals (`cumulative` 0).
private final class NoRunningTotals: ExchangeClient {
    let venue: SimulatedExchange
    init(_ venue: SimulatedExchange) { self.venue = venue }
    func submit(_ order: ExchangeOrder) throws(ExchangeError) { try venue.submit(order) }
    func cancel(_ id: OrderID) throws(ExchangeError) { try venue.cancel(id) }
    func pollEvents(_ body: (ExchangeEvent) -> Void) {
        venue.pollEvents { event in
            if case .filled(let id, let quantity, let price, _) = event { body(.filled(id, quantity: quantity, price: price)) } else { body(event) }
        }
    }
    func orderStatus(_ id: OrderID) throws(ExchangeError) -> VenueOrderStatus? { try venue.orderStatus(id) }
    func massCancel() throws(ExchangeError) { try venue.massCancel() }
}

