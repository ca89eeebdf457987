import Foundation
@testable import Redline
import RedlineCore
import XCTest

/// Adversarial review of the router's handling of venue event sequences
/// (review21, at f68fd7a). Each test marked "Found" fails on f68fd7a; the
/// tests marked "Held" are what the review checked and found to hold.
///
/// The invariant checked after each sequence: the engine's working
/// quantities and working-order count equal what the venue still has
/// working, and the position equals what the venue filled.
final class VenueSequenceReviewTests: XCTestCase {
    /// A venue whose answers the test scripts. Cancels are recorded; cancels
    /// of ids in `unknownAtVenue` are answered `cancelRejected` at once (the
    /// venue does not know the order). With `massCancelSupported`, a mass
    /// cancel answers `.canceled` for every id in `openAtVenue`.
    final class SeqVenue: ExchangeClient {
        var submitted: [ExchangeOrder] = []
        var cancels: [OrderID] = []
        var pending: [ExchangeEvent] = []
        var unknownAtVenue: Set<OrderID> = []
        var massCancelSupported = false
        var openAtVenue: [OrderID] = []
        /// Called from inside `pollEvents`, after the event at this index was delivered.
        var hook: ((Int) -> Void)?

        func submit(_ order: ExchangeOrder) throws(ExchangeError) { submitted.append(order) }
        func cancel(_ id: OrderID) throws(ExchangeError) {
            cancels.append(id)
            if unknownAtVenue.contains(id) { pending.append(.cancelRejected(id)) }
        }
        func massCancel() throws(ExchangeError) {
            guard massCancelSupported else { throw .unsupported }
            pending.append(contentsOf: openAtVenue.map { .canceled($0) })
            openAtVenue.removeAll()
        }
        func pollEvents(_ body: (ExchangeEvent) -> Void) {
            var index = 0
            while !pending.isEmpty {
                let event = pending.removeFirst()
                body(event)
                hook?(index)
                index += 1
            }
        }
    }

    private func fp(_ value: Double) -> Int64 { Int64((value * FixedPoint.scale).rounded()) }
    private let px: Int64 = Int64(100 * FixedPoint.scale)

    private func setUp(ringCapacity: Int = 1024) throws -> (RuntimeRiskMonitor, SeqVenue, OrderRouter) {
        let limits = try RiskLimits(maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: -1e6)
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
        let venue = SeqVenue()
        let router = try OrderRouter(monitor: monitor, client: venue, ringCapacity: ringCapacity, logger: quietLogger())
        return (monitor, venue, router)
    }

    /// The engine agrees with the router: working = the remaining of the
    /// router's active orders, per side; working orders = active orders.
    private func assertEngineMatchesRouter(_ monitor: RuntimeRiskMonitor, _ router: OrderRouter, position: Double,
                                           _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
        monitor.drain()
        var buy: Int64 = 0, sell: Int64 = 0
        for id in router.orders.activeOrderIDs {
            guard let record = try? router.order(id) else { continue }
            if record.side == .buy { buy += record.remaining } else { sell += record.remaining }
        }
        let state = monitor.position(of: "BTCUSDT")
        XCTAssertEqual(state?.workingBuy ?? -1, Double(buy) / FixedPoint.scale, accuracy: 1e-9, "buy \(message)", file: file, line: line)
        XCTAssertEqual(state?.workingSell ?? -1, Double(sell) / FixedPoint.scale, accuracy: 1e-9, "sell \(message)", file: file, line: line)
        XCTAssertEqual(state?.quantity ?? .nan, position, accuracy: 1e-9, "position \(message)", file: file, line: line)
        XCTAssertEqual(monitor.workingOrders(symbol: "BTCUSDT"), router.activeOrderCount, "orders \(message)", file: file, line: line)
    }

    // MARK: Found

    /// Found. The strategy cancels an order before the venue answered it,
    /// and the venue rejects the order (a price band, a bad tick): the reject
    /// meets `pendingCancel`, for which the transition table has no
    /// `.reject` (OrderStateMachine.swift:85-110). The reject is counted as
    /// impossible and ignored; the cancel's answer, "unknown order", then
    /// puts the order back to `acknowledged`. A dead order stays active and
    /// reserved for good. The router's own SimulatedExchange produces the
    /// sequence (rejectRatio 1, a cancel before the poll).
    func testARejectOfAnOrderWhoseCancelIsInFlightReleasesIt() throws {
        let limits = try RiskLimits(maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: -1e6)
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
        let venue = SimulatedExchange(.init(seed: 1, rejectRatio: 1))
        let router = try OrderRouter(monitor: monitor, client: venue, logger: quietLogger())
        let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        try router.cancel(id) // before the venue's answer: the venue says "unknown order"
        router.poll()         // rejected(id), cancelRejected(id)
        XCTAssertEqual(try router.order(id).status, .rejected, "the venue rejected it")
        XCTAssertEqual(router.invalidExchangeEvents, 0, "a reject racing a cancel is no impossible event")
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    /// Found (consequence of the above). The leaked reservation blocks the
    /// way out: long 0.1 BTC, a flattening sell is canceled before its answer
    /// and rejected by the venue (leaked: 0.1 working sell). A market move
    /// puts the engine in REDUCING; the strategy's next flattening sell is
    /// judged against the dead order's 0.1 as well, reads as a raise of the
    /// short side, and is refused.
    func testALeakedReservationDoesNotBlockTheWayOut() throws {
        for cancelBeforeTheAnswer in [false, true] { // false: the control, the way out holds
            let limits = try RiskLimits(maxInventoryUSD: 5_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: -1e6)
            let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
            let venue = SimulatedExchange(.init(seed: 1, rejectRatio: 1))
            let router = try OrderRouter(monitor: monitor, client: venue, logger: quietLogger())
            try monitor.updatePosition(symbol: "BTCUSDT", qty: 0.1, price: 40_000) // $4,000
            let dead = try router.placeOrder(symbol: "BTCUSDT", side: .sell, qty: 0.1, price: 40_000)
            if cancelBeforeTheAnswer { try router.cancel(dead) }
            router.poll() // rejected(dead) [, cancelRejected(dead)]
            try monitor.markPrice(symbol: "BTCUSDT", price: 60_000) // $6,000 > $5,000
            monitor.drain()
            XCTAssertEqual(monitor.tradingState.mode, .reducing)
            XCTAssertNoThrow(try router.placeOrder(symbol: "BTCUSDT", side: .sell, qty: 0.1, price: 60_000),
                             "a sell that only flattens the long is the way out (cancel first: \(cancelBeforeTheAnswer))")
        }
    }

    /// Found. The same during a halt: the freeze's cancel-all marks the
    /// order in flight `pendingCancel`, the venue rejects the order and
    /// answers the cancel "unknown order". The reject is ignored, the cancel
    /// reject is taken as "busy": the order is owed a cancel, sent again and
    /// again (every backoff) to a venue that never knew it, and stays reserved.
    func testAFreezeOverAnOrderTheVenueRejectsLeavesNothingWorking() throws {
        let (monitor, venue, router) = try setUp()
        let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
        XCTAssertEqual(try XCTUnwrap(router.pollFreeze()).sent, 1)
        venue.unknownAtVenue.insert(id)
        venue.pending = [.rejected(id), .cancelRejected(id)]
        router.poll()
        for _ in 0..<3 { usleep(3_000); router.poll() }
        XCTAssertEqual(try router.order(id).status, .rejected)
        XCTAssertEqual(venue.cancels.count, 1, "no cancel is owed to an order the venue rejected")
        XCTAssertEqual(router.owedCancelCount, 0)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    /// Found. Outside a halt, the strategy's cancel is rejected "busy" while
    /// its cancel-all's mass cancel is on its way; the mass cancel then
    /// cancels the order. Both answers come in the cancel-all's own poll:
    /// the cancel reject puts the order back to `acknowledged` (no halt, so
    /// no cancel is owed), and the mass cancel's ack then meets
    /// `acknowledged`, for which the table has no `.cancelAck`: counted as
    /// impossible, ignored. The venue canceled the order; the engine keeps
    /// it working and reserved for good.
    func testAMassCancelsAckAfterAnEarlierCancelsRejectReleasesTheOrder() throws {
        let (monitor, venue, router) = try setUp()
        venue.massCancelSupported = true
        let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        venue.openAtVenue = [id]
        venue.pending = [.acknowledged(id)]
        router.poll()
        try router.cancel(id)
        venue.pending.append(.cancelRejected(id)) // "busy": the first cancel is refused
        let report = router.cancelAllOrders(reason: "flatten before the close") // mass cancel: canceled(id)
        XCTAssertTrue(report.massCancel)
        router.poll()
        XCTAssertEqual(try router.order(id).status, .canceled, "the venue canceled it")
        XCTAssertEqual(router.invalidExchangeEvents, 0)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    /// Found (same root as above). A cancel the router did not ask for
    /// (the venue's self-trade prevention, a cancel-on-disconnect, or an
    /// IOC's remainder, which many venues report as canceled rather than
    /// expired) meets `acknowledged` or `partiallyFilled`: counted as
    /// impossible and ignored. The remainder stays reserved, and the order
    /// active, for good.
    func testAnUnsolicitedCancelReleasesTheRemainder() throws {
        let (monitor, venue, router) = try setUp()
        let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        venue.pending = [.acknowledged(id), .filled(id, quantity: fp(0.004), price: px, cumulative: fp(0.004)), .canceled(id)]
        router.poll()
        XCTAssertEqual(try router.order(id).status, .canceled)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0.004)
    }

    /// Found. A fill reported after its order's cancel ack moves the
    /// position ("A fill moves the position by all the venue says, even ...
    /// after it finished", OrderRouter.fill) only while the finished order's
    /// slot is not reused. The free list is a stack: the very next order
    /// takes the slot, the late fill then names an unknown order, is counted
    /// invalid and dropped, and the position misses it (fails open).
    func testALateFillAfterTheCancelAckMovesThePositionAfterTheSlotIsReused() throws {
        let (monitor, venue, router) = try setUp()
        let a = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        venue.pending = [.acknowledged(a)]
        router.poll()
        try router.cancel(a)
        venue.pending = [.canceled(a)]
        router.poll()
        let b = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        XCTAssertNotEqual(a, b)
        venue.pending = [.acknowledged(b), .filled(a, quantity: fp(0.004), price: px, cumulative: fp(0.004))]
        router.poll()
        assertBooks(monitor, router, working: 0.01, orders: 1, position: 0.004, "the venue filled 0.004 of a")
    }

    /// Found. The venue's running total (`cumulative`) de-duplicates fills
    /// only against `record.filled`, which holds what was applied within the
    /// order's remaining: a fill beyond it (after a cancel ack, or past the
    /// order's size) is not recorded there, so a resend of it (FIX PossDup
    /// after a reconnect) is counted again and the position moves twice.
    func testAResentFillBeyondWhatTheOrderHadLeftIsCountedOnce() throws {
        do { // a late fill after the cancel ack, then its resend
            let (monitor, venue, router) = try setUp()
            let a = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
            venue.pending = [.acknowledged(a)]
            router.poll()
            try router.cancel(a)
            let late = ExchangeEvent.filled(a, quantity: fp(0.004), price: px, cumulative: fp(0.004))
            venue.pending = [.canceled(a), late, late]
            router.poll()
            assertBooks(monitor, router, working: 0, orders: 0, position: 0.004, "late fill resent")
        }
        do { // an overfill, then its resend
            let (monitor, venue, router) = try setUp()
            let a = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
            let over = ExchangeEvent.filled(a, quantity: fp(0.012), price: px, cumulative: fp(0.012))
            venue.pending = [.acknowledged(a), over, over]
            router.poll()
            assertBooks(monitor, router, working: 0, orders: 0, position: 0.012, "overfill resent")
        }
    }

    /// Found. OrderID keeps 16 bits of the slot's generation, and the free
    /// list is a stack: a strategy with one order at a time reuses slot 0
    /// for every order, and its 65,537th order gets its 1st order's id
    /// (OrderTypes.swift:36, OrderStateMachine.swift:147-149). The id goes
    /// to the venue as the client order id (a duplicate ClOrdID within the
    /// day), and any late or resent event for the old order is taken as the
    /// new one's (OrderTypes.swift:24 says a stale id does not find a newer
    /// order; ids "never repeat").
    func testOrderIDsDoNotRepeatWithinASession() throws {
        let limits = try RiskLimits(maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: -1e6)
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
        let venue = SimulatedExchange(.init(seed: 1, rejectRatio: 1, capacity: 1024))
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 1024, ringCapacity: 1024,
                                     logger: quietLogger())
        let symbol = try monitor.symbolID("BTCUSDT")
        var seen = Set<UInt64>()
        var repeated: (Int, OrderID)?
        for n in 0..<65_537 {
            let id = try router.placeOrder(symbol: symbol, side: .buy, qty: 0.01, price: 100)
            if !seen.insert(id.rawValue).inserted { repeated = (n, id); break }
            router.processExchangeEvents() // rejected: the slot is free again
            if n % 512 == 0 { monitor.drain() }
        }
        XCTAssertNil(repeated.map { "order #\($0.0 + 1) got id \($0.1), already used in this session" })
    }

    /// Found. An adopted order's end frees the client order id of whichever
    /// order of this router sits in the slot its old id names
    /// (`clientIDs.remove(slot: id.slot)` in release/fill: an adopted id's
    /// slot is its old session's, not the slot it lives in). A second order
    /// under a client order id still working is then accepted.
    func testTheEndOfAnAdoptedOrderLeavesOtherOrdersClientIDsWorking() throws {
        let limits = try RiskLimits(maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: -1e6)
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
        let venue = SimulatedExchange(.init(seed: 1))
        let router = try OrderRouter(monitor: monitor, client: venue, logger: quietLogger())
        // Open at the venue from an earlier session (9), slot 1 there.
        let old = OrderID(rawValue: UInt64(9) << 48 | UInt64(1) << 32 | 1)
        try venue.submit(ExchangeOrder(id: old, symbol: SymbolID(rawValue: 0), side: .buy, quantity: fp(0.01), price: px))
        venue.forgetUnpolledEvents()
        let report = try router.reconcile()
        XCTAssertEqual(report.adoptedUnknown, [old]) // adopted into slot 0
        let mine = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100, clientOrderID: 77)
        XCTAssertEqual(router.orders.slot(of: mine), Int(old.rawValue & 0xFFFF), "the old id names the slot this order has")
        router.poll()
        try router.cancel(old)
        router.poll()
        XCTAssertEqual(try router.order(old).status, .canceled)
        XCTAssertTrue(try router.order(mine).status.isActive)
        XCTAssertThrowsRedline(.blocked(.duplicateOrderID), "77 is still working") {
            try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100, clientOrderID: 77)
        }
    }

    /// Found (minor). The owed-cancel retry backs off (1 ms doubling to 1 s)
    /// only while the venue refuses to take the cancel. A cancel the venue
    /// takes and then rejects during a halt is owed again by `oweCancel`,
    /// which resets the backoff to 1 ms: a venue that rejects every cancel
    /// of an order ("unknown order", or busy) gets one cancel per poll,
    /// about a thousand a second per order, for the whole halt.
    func testACancelTheVenueKeepsRejectingDuringAHaltIsRetriedWithABackoff() throws {
        let (monitor, venue, router) = try setUp()
        let a = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        venue.pending = [.acknowledged(a)]
        router.poll()
        venue.unknownAtVenue.insert(a) // every cancel of it is answered cancelRejected
        XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
        let started = Date()
        while Date().timeIntervalSince(started) < 0.064 { router.poll(); usleep(500) }
        // With a doubling backoff from 1 ms: sends near 0, 1, 3, 7, 15, 31, 63 ms.
        XCTAssertLessThanOrEqual(venue.cancels.count, 10, "cancels sent in 64 ms")
    }

    /// Found (minor). A fill whose running total contradicts itself (below
    /// the fill's own quantity) is impossible, yet it was dropped without a
    /// count or a log line (OrderRouter.handle, `counted <= 0`). A total at
    /// or below what was counted is taken as a resend (SlotReuseReviewTests).
    func testAFillWhoseRunningTotalGoesBackwardsIsCounted() throws {
        let (monitor, venue, router) = try setUp()
        let a = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        venue.pending = [.acknowledged(a), .filled(a, quantity: fp(0.005), price: px, cumulative: fp(0.005)),
                         .filled(a, quantity: fp(0.003), price: px, cumulative: fp(0.002))]
        router.poll()
        assertEngineMatchesRouter(monitor, router, position: 0.005)
        XCTAssertGreaterThan(router.invalidExchangeEvents + router.anomalousFills, 0, "an impossible fill is counted")
    }

    // MARK: Held

    /// Held. Impossible or repeated answers leave the engine equal to the
    /// router and the position equal to the fills, each counted.
    func testImpossibleAndRepeatedAnswersKeepTheBooksExact() throws {
        typealias Step = (OrderID) -> [ExchangeEvent]
        let q = fp(0.01)
        // name, cancel asked first, events, position, invalid events
        let cases: [(String, Bool, Step, Double, Int)] = [
            ("duplicate ack", false, { [.acknowledged($0), .acknowledged($0)] }, 0, 1),
            ("duplicate cancel ack", true, { [.acknowledged($0), .canceled($0), .canceled($0)] }, 0, 1),
            ("cancel ack after full fill", true, { [.acknowledged($0), .filled($0, quantity: q, price: self.px, cumulative: q), .canceled($0)] }, 0.01, 1),
            ("cancel reject after full fill", true, { [.acknowledged($0), .filled($0, quantity: q, price: self.px, cumulative: q), .cancelRejected($0)] }, 0.01, 0),
            ("reject after ack", false, { [.acknowledged($0), .rejected($0)] }, 0, 1),
            ("expire before ack (an IOC ended before its ack)", false, { [.expired($0)] }, 0, 0),
            ("fill for more than remaining", false, { [.acknowledged($0), .filled($0, quantity: self.fp(0.015), price: self.px)] }, 0.015, 0),
            ("partial fills repeated (cumulative)", false, {
                [.acknowledged($0), .filled($0, quantity: self.fp(0.004), price: self.px, cumulative: self.fp(0.004)),
                 .filled($0, quantity: self.fp(0.004), price: self.px, cumulative: self.fp(0.004)),
                 .filled($0, quantity: self.fp(0.002), price: self.px, cumulative: self.fp(0.006))] }, 0.006, 0),
            ("fill after cancel ack, slot free", true, { [.acknowledged($0), .canceled($0), .filled($0, quantity: self.fp(0.003), price: self.px)] }, 0.003, 0),
            ("fill at price 0", false, { [.acknowledged($0), .filled($0, quantity: self.fp(0.003), price: 0)] }, 0, 1),
            ("another session's id", false, { id in [.acknowledged(OrderID(rawValue: id.rawValue ^ (UInt64(7) << 48))), .canceled(OrderID(rawValue: id.rawValue ^ (UInt64(7) << 48)))] }, 0, 2),
            ("an older generation's id", true, { id in [.canceled(OrderID(rawValue: id.rawValue &- (UInt64(1) << 32)))] }, 0, 1),
            ("events before the submit's ack, same batch", false, { [.filled($0, quantity: self.fp(0.004), price: self.px, cumulative: self.fp(0.004)), .acknowledged($0)] }, 0.004, 1),
        ]
        for (name, cancelFirst, step, position, invalid) in cases {
            let (monitor, venue, router) = try setUp()
            // An earlier order on the same slot, so an older generation exists.
            let first = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
            venue.pending = [.rejected(first)]
            router.poll()
            let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
            if cancelFirst { try router.cancel(id) }
            venue.pending = step(id)
            router.poll()
            assertEngineMatchesRouter(monitor, router, position: position, name)
            XCTAssertEqual(router.invalidExchangeEvents, invalid, name)
        }
    }

    /// Held. Expire while pendingCancel, then the cancel's late reject and ack:
    /// released once.
    func testAnExpiryWhilePendingCancelReleasesOnce() throws {
        let (monitor, venue, router) = try setUp()
        let a = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        venue.pending = [.acknowledged(a), .filled(a, quantity: fp(0.004), price: px, cumulative: fp(0.004))]
        router.poll()
        try router.cancel(a)
        venue.pending = [.expired(a), .cancelRejected(a), .canceled(a)]
        router.poll()
        XCTAssertEqual(try router.order(a).status, .expired)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0.004)
    }

    /// Held. A venue hook places an order from inside `pollEvents`, and the
    /// new order's ack and fills arrive in the same batch, behind a ring of
    /// 2 toward the risk side and a burst of 100 answers.
    func testAnOrderPlacedFromInsideThePollWithItsAnswersInTheSameBatchBehindAFullRing() throws {
        let (monitor, venue, router) = try setUp(ringCapacity: 2)
        var ids: [OrderID] = []
        for _ in 0..<50 { ids.append(try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)) }
        venue.pending = ids.flatMap { [ExchangeEvent.acknowledged($0), .filled($0, quantity: fp(0.004), price: px, cumulative: fp(0.004))] }
        var placed: OrderID?
        venue.hook = { index in
            guard index == 10, placed == nil, let id = try? router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
            else { return }
            placed = id
            venue.pending.append(contentsOf: [.acknowledged(id), .filled(id, quantity: self.fp(0.01), price: self.px, cumulative: self.fp(0.01))])
        }
        router.poll()
        XCTAssertNotNil(placed)
        XCTAssertEqual(try router.order(XCTUnwrap(placed)).status, .filled)
        assertEngineMatchesRouter(monitor, router, position: 50 * 0.004 + 0.01)
        XCTAssertEqual(router.invalidExchangeEvents, 0)
        venue.hook = nil
        router.cancelAllOrders(reason: "end")
        venue.pending = ids.map { .canceled($0) }
        router.poll()
        assertBooks(monitor, router, working: 0, orders: 0, position: 50 * 0.004 + 0.01)
    }

    /// Held. cancelRejected ("busy") during a halt owes the cancel again and
    /// the order is canceled once the retry lands; outside a halt the order
    /// works again, still reserved.
    func testACancelRejectForAnotherReasonThanAFill() throws {
        do { // halted
            let (monitor, venue, router) = try setUp()
            let a = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
            venue.pending = [.acknowledged(a)]
            router.poll()
            XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
            router.pollFreeze()
            venue.pending = [.cancelRejected(a)]
            router.poll()
            XCTAssertEqual(try router.order(a).status, .pendingCancel)
            XCTAssertEqual(router.owedCancelCount, 1)
            usleep(3_000)
            router.poll()
            XCTAssertEqual(venue.cancels.count, 2)
            venue.pending = [.canceled(a)]
            router.poll()
            assertBooks(monitor, router, working: 0, orders: 0, position: 0)
        }
        do { // not halted
            let (monitor, venue, router) = try setUp()
            let a = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
            venue.pending = [.acknowledged(a)]
            router.poll()
            try router.cancel(a)
            venue.pending = [.cancelRejected(a)]
            router.poll()
            XCTAssertEqual(try router.order(a).status, .acknowledged)
            assertBooks(monitor, router, working: 0.01, orders: 1, position: 0)
        }
    }
}
