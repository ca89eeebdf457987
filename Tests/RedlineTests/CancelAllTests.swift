import Foundation
import Redline
import RedlineCore
import XCTest

/// A freeze's cancel-all: one mass cancel where the venue has one (one
/// message whatever the count), one cancel per order where it has not, and
/// the edge report on the router's lane.
final class CancelAllTests: XCTestCase {
    /// A venue without mass cancel: SimulatedExchange behind the protocol's
    /// required calls only (massCancel keeps its default, `.unsupported`).
    final class PlainVenue: ExchangeClient {
        let inner: SimulatedExchange
        init(_ inner: SimulatedExchange) { self.inner = inner }
        func submit(_ order: ExchangeOrder) throws(ExchangeError) { try inner.submit(order) }
        func cancel(_ id: OrderID) throws(ExchangeError) { try inner.cancel(id) }
        func pollEvents(_ body: (ExchangeEvent) -> Void) { inner.pollEvents(body) }
    }

    /// A venue whose answers arrive one poll late, as a real one's do.
    final class LateVenue: ExchangeClient {
        let inner: SimulatedExchange
        private var held: [ExchangeEvent] = []
        init(_ inner: SimulatedExchange) { self.inner = inner }
        func submit(_ order: ExchangeOrder) throws(ExchangeError) { try inner.submit(order) }
        func cancel(_ id: OrderID) throws(ExchangeError) { try inner.cancel(id) }
        func massCancel() throws(ExchangeError) { try inner.massCancel() }
        func pollEvents(_ body: (ExchangeEvent) -> Void) {
            let due = held
            held.removeAll()
            inner.pollEvents { held.append($0) }
            due.forEach(body)
        }
    }

    /// The venue's fills, summed per symbol as they are reported (signed: buys up).
    final class TallyVenue: ExchangeClient {
        let inner: SimulatedExchange
        private var orders: [OrderID: ExchangeOrder] = [:]
        private(set) var filled: [SymbolID: Int64] = [:]
        init(_ inner: SimulatedExchange) { self.inner = inner }
        func submit(_ order: ExchangeOrder) throws(ExchangeError) {
            try inner.submit(order)
            orders[order.id] = order
        }
        func cancel(_ id: OrderID) throws(ExchangeError) { try inner.cancel(id) }
        func massCancel() throws(ExchangeError) { try inner.massCancel() }
        func pollEvents(_ body: (ExchangeEvent) -> Void) {
            inner.pollEvents { event in
                if case .filled(let id, let quantity, _, _) = event, let order = orders[id] {
                    filled[order.symbol, default: 0] += order.side == .buy ? quantity : -quantity
                }
                body(event)
            }
        }
    }

    /// A venue without mass cancel that holds its cancel acks until told
    /// (`releaseCancelAcks`), and answers a second cancel for an order whose
    /// cancel it already has at once, ahead of them: "already pending cancel"
    /// (as real venues do). Such a reject puts the order back to working
    /// before the first cancel's ack arrives, which then finds the order
    /// working (an impossible event) and leaves it active for good.
    final class PendingCancelVenue: ExchangeClient {
        let inner: SimulatedExchange
        private var cancelAsked: Set<OrderID> = []
        private var answers: [ExchangeEvent] = []
        private var heldAcks: [ExchangeEvent] = []
        private(set) var secondCancels = 0
        var refuse: Set<OrderID> = [] // cancels for these are not sent (throw)
        var rejectOnce: Set<OrderID> = [] // the next cancel for these is rejected ("busy"), the order left working
        init(_ inner: SimulatedExchange) { self.inner = inner }
        func submit(_ order: ExchangeOrder) throws(ExchangeError) { try inner.submit(order) }
        func cancel(_ id: OrderID) throws(ExchangeError) {
            if refuse.contains(id) { throw .cancelFailed(id) }
            if rejectOnce.remove(id) != nil {
                answers.append(.cancelRejected(id))
                return
            }
            guard cancelAsked.insert(id).inserted else {
                secondCancels += 1
                answers.append(.cancelRejected(id))
                return
            }
            try inner.cancel(id)
        }
        func releaseCancelAcks() {
            answers.append(contentsOf: heldAcks)
            heldAcks.removeAll()
        }
        func pollEvents(_ body: (ExchangeEvent) -> Void) {
            inner.pollEvents { event in
                if case .canceled = event { heldAcks.append(event) } else { answers.append(event) }
            }
            let due = answers
            answers.removeAll()
            due.forEach(body)
        }
    }

    /// A second freeze while the first one's cancels are still unanswered
    /// sends no second cancel: its "already pending" reject would put the
    /// orders back to working, their acks would then be impossible events,
    /// and the orders would stay active and reserved for good. (The cancel-all
    /// sent one to every active order, pendingCancel ones included.)
    func testASecondFreezeSendsNoSecondCancelToOrdersAwaitingTheirAck() throws {
        let monitor = try RuntimeRiskMonitor(limits: limits(), symbols: ["BTCUSDT"], logger: quietLogger())
        let venue = PendingCancelVenue(SimulatedExchange(.init(seed: 7, fillRatio: 0)))
        let router = try OrderRouter(monitor: monitor, client: venue, logger: quietLogger())
        for _ in 0..<10 { _ = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100) }
        router.poll()
        XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
        XCTAssertEqual(try XCTUnwrap(router.pollFreeze()).sent, 10)
        XCTAssertEqual(venue.inner.cancelRequests, 10)
        XCTAssertTrue(monitor.unfreeze(reason: "drill over"))
        router.poll()
        XCTAssertTrue(monitor.manualFreeze(reason: "again"))
        let second = try XCTUnwrap(router.pollFreeze())
        XCTAssertEqual(second.sent, 0, "each order already has its cancel")
        XCTAssertEqual(venue.secondCancels, 0)
        XCTAssertEqual(second.stillActive, 10, "waiting, reserved, for their acks")
        venue.releaseCancelAcks()
        router.poll()
        XCTAssertEqual(router.activeOrderCount, 0)
        XCTAssertEqual(router.invalidExchangeEvents, 0)
        monitor.drain()
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.workingBuy, 0)
    }

    /// A cancel the venue rejects during a halt (busy, not a fill) puts the
    /// order back to working: it is owed a cancel again, sent with the
    /// backoff, so that no order works through the halt. (It stayed working
    /// at the venue for the whole halt, with no cancel owed.)
    func testACancelRejectedDuringAHaltIsOwedAndSentAgain() throws {
        let monitor = try RuntimeRiskMonitor(limits: limits(), symbols: ["BTCUSDT"], logger: quietLogger())
        let venue = PendingCancelVenue(SimulatedExchange(.init(seed: 9, fillRatio: 0)))
        let router = try OrderRouter(monitor: monitor, client: venue, logger: quietLogger())
        let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        router.poll()
        venue.rejectOnce = [id]
        XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
        router.pollFreeze()
        XCTAssertEqual(try router.order(id).status, .pendingCancel, "its cancel is owed again")
        XCTAssertEqual(router.owedCancelCount, 1)
        usleep(2_000)
        router.poll()
        XCTAssertEqual(router.owedCancelCount, 0)
        XCTAssertEqual(venue.inner.cancelRequests, 1, "sent again, and taken")
        venue.releaseCancelAcks()
        router.poll()
        XCTAssertEqual(try router.order(id).status, .canceled)
        XCTAssertEqual(venue.inner.restingCount, 0)
        XCTAssertEqual(venue.secondCancels, 0)
        // Not halted: a rejected cancel leaves the order working, owing nothing.
        XCTAssertTrue(monitor.unfreeze(reason: "drill over"))
        router.poll()
        let other = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        router.poll()
        venue.rejectOnce = [other]
        try router.cancel(other)
        router.poll()
        XCTAssertEqual(try router.order(other).status, .acknowledged)
        XCTAssertEqual(router.owedCancelCount, 0)
    }

    /// A cancel the strategy asked for but could not send is owed: a freeze's
    /// cancel-all (which skips orders already pendingCancel) and the polls
    /// send it.
    func testACancelTheStrategyCouldNotSendIsOwedAndSentByTheFreeze() throws {
        let monitor = try RuntimeRiskMonitor(limits: limits(), symbols: ["BTCUSDT"], logger: quietLogger())
        let venue = PendingCancelVenue(SimulatedExchange(.init(seed: 8, fillRatio: 0)))
        let router = try OrderRouter(monitor: monitor, client: venue, logger: quietLogger())
        let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        router.poll()
        venue.refuse = [id]
        XCTAssertThrowsError(try router.cancel(id))
        XCTAssertEqual(try router.order(id).status, .pendingCancel)
        XCTAssertEqual(router.owedCancelCount, 1)
        venue.refuse = []
        let cancelsBefore = venue.inner.cancelRequests
        XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
        let report = try XCTUnwrap(router.pollFreeze())
        // Once: by the cancel-all, or by the owed retry at the start of the
        // same poll when its 1 ms backoff (real time) has run, as it can under
        // ThreadSanitizer.
        XCTAssertEqual(venue.inner.cancelRequests - cancelsBefore, 1, "the owed cancel goes, once")
        XCTAssertLessThanOrEqual(report.sent, 1, "the owed cancel goes with the cancel-all")
        XCTAssertEqual(router.owedCancelCount, 0)
        venue.releaseCancelAcks()
        router.poll()
        XCTAssertEqual(try router.order(id).status, .canceled)
        XCTAssertEqual(venue.secondCancels, 0)
    }

    private func limits() throws -> RiskLimits {
        try RiskLimits(maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: 100)
    }

    func testAFreezeCancelsThousandsOfOrdersWithOneMassCancel() throws {
        let monitor = try RuntimeRiskMonitor(limits: limits(), symbols: ["BTCUSDT", "ETHUSDT"], logger: quietLogger())
        let venue = SimulatedExchange(.init(seed: 1, fillRatio: 0, capacity: 8_192))
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 8_192, ringCapacity: 32_768,
                                     logger: quietLogger())
        for i in 0..<5_000 {
            _ = try router.placeOrder(symbol: i % 2 == 0 ? "BTCUSDT" : "ETHUSDT", side: .buy, qty: 0.001, price: 100)
            if i % 512 == 0 { router.poll() }
        }
        router.poll()
        XCTAssertEqual(router.activeOrderCount, 5_000)
        try router.reportEdge(bps: 50)  // below the 100 bps threshold, on the lane
        monitor.drain()
        let report = try XCTUnwrap(router.pollFreeze())
        XCTAssertTrue(report.massCancel)
        XCTAssertEqual(venue.massCancelRequests, 1)
        XCTAssertEqual(venue.cancelRequests, 0, "no order was canceled one by one")
        XCTAssertEqual(report.requested, 5_000)
        XCTAssertEqual(report.canceled, 5_000)
        XCTAssertTrue(report.isComplete)
        XCTAssertGreaterThan(report.durationNanoseconds, 0)
        XCTAssertLessThanOrEqual(report.sentNanoseconds, report.durationNanoseconds)
        monitor.drain()
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.workingBuy, 0, "every reservation released")
        XCTAssertEqual(monitor.workingOrders(symbol: "ETHUSDT"), 0)
        XCTAssertEqual(monitor.freezeEvents.last?.trigger, .edgeCollapse)
    }

    /// With answers in flight, the mass cancel is still the only request: no
    /// second cancel per order (a venue's "already pending cancel" reject
    /// would put the order back to working). The orders wait, reserved,
    /// until their acks arrive.
    func testALateVenueGetsOneMassCancelAndTheOrdersWaitForTheirAcks() throws {
        let monitor = try RuntimeRiskMonitor(limits: limits(), symbols: ["BTCUSDT"], logger: quietLogger())
        let inner = SimulatedExchange(.init(seed: 5, fillRatio: 0))
        let router = try OrderRouter(monitor: monitor, client: LateVenue(inner), logger: quietLogger())
        for _ in 0..<100 { _ = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.001, price: 100) }
        router.poll()
        router.poll()
        XCTAssertEqual(router.activeOrderCount, 100)
        XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
        let report = try XCTUnwrap(router.pollFreeze())
        XCTAssertTrue(report.massCancel)
        XCTAssertEqual(inner.massCancelRequests, 1)
        XCTAssertEqual(inner.cancelRequests, 0, "no order canceled twice")
        XCTAssertEqual(report.stillActive, 100, "the acks are on their way")
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.workingBuy ?? 0, 0.1, accuracy: 1e-9, "still reserved")
        router.poll()
        router.poll()
        XCTAssertEqual(router.activeOrderCount, 0)
        XCTAssertEqual(router.invalidExchangeEvents, 0)
        XCTAssertEqual(monitor.position(of: "BTCUSDT")?.workingBuy, 0)
    }

    func testAVenueWithoutMassCancelGetsOneCancelPerOrder() throws {
        let monitor = try RuntimeRiskMonitor(limits: limits(), symbols: ["BTCUSDT"], logger: quietLogger())
        let inner = SimulatedExchange(.init(seed: 2, fillRatio: 0))
        let router = try OrderRouter(monitor: monitor, client: PlainVenue(inner), logger: quietLogger())
        for _ in 0..<10 { _ = try router.placeOrder(symbol: "BTCUSDT", side: .sell, qty: 0.01, price: 100) }
        router.poll()
        XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
        let report = try XCTUnwrap(router.pollFreeze())
        XCTAssertFalse(report.massCancel)
        XCTAssertEqual(inner.cancelRequests, 10)
        XCTAssertEqual(inner.massCancelRequests, 0, "the wrapper never reaches the venue's mass cancel")
        XCTAssertEqual(report.canceled, 10)
        XCTAssertTrue(report.isComplete)
        // The router remembers: the next cancel-all does not ask again.
        XCTAssertTrue(monitor.unfreeze(reason: "drill over"))
        _ = try router.placeOrder(symbol: "BTCUSDT", side: .sell, qty: 0.01, price: 100)
        router.poll()
        XCTAssertEqual(router.cancelAllOrders(reason: "again").canceled, 1)
    }

    func testARefusedMassCancelFallsBackToOneCancelPerOrder() throws {
        let monitor = try RuntimeRiskMonitor(limits: limits(), symbols: ["BTCUSDT"], logger: quietLogger())
        let venue = SimulatedExchange(.init(seed: 3, fillRatio: 0))
        let router = try OrderRouter(monitor: monitor, client: venue, cancelRetries: 2, logger: quietLogger())
        for _ in 0..<3 { _ = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100) }
        router.poll()
        venue.failNextCancels = 1 // refuses the mass cancel, and the first single cancel
        let report = router.cancelAllOrders(reason: "test")
        XCTAssertFalse(report.massCancel)
        XCTAssertEqual(venue.massCancelRequests, 1)
        XCTAssertEqual(venue.cancelRequests, 4, "three orders, one retried")
        XCTAssertEqual(report.canceled, 3)
        XCTAssertTrue(report.isComplete)
    }

    /// The answers a poll handles go to the risk side in batches. Through a
    /// ring smaller than one batch (no risk thread: a full ring is drained
    /// here), with fills, partial fills and cancels mixed: every fill moves
    /// the position by exactly what the venue filled, every cancel releases
    /// exactly what was left, and nothing stays working.
    func testBatchedAnswersThroughARingSmallerThanABatchReleaseExactlyWhatWasLeft() throws {
        let monitor = try RuntimeRiskMonitor(limits: limits(), symbols: ["BTCUSDT", "ETHUSDT"], logger: quietLogger())
        let venue = TallyVenue(SimulatedExchange(.init(seed: 11, fillRatio: 0.2, partialFillRatio: 0.4, capacity: 1_024)))
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 1_024, ringCapacity: 8,
                                     logger: quietLogger())
        for i in 0..<600 {
            _ = try router.placeOrder(symbol: i % 3 == 0 ? "ETHUSDT" : "BTCUSDT", side: i % 2 == 0 ? .buy : .sell,
                                      qty: 0.002 * Double(1 + i % 5), price: 100)
            if i % 100 == 99 { router.poll() }
        }
        router.poll()
        monitor.drain()
        XCTAssertGreaterThan(router.ring.fullCount, 0, "the ring was smaller than a batch")
        let btc = try monitor.symbolID("BTCUSDT"), eth = try monitor.symbolID("ETHUSDT")
        let positions = [("BTCUSDT", venue.filled[btc, default: 0]), ("ETHUSDT", venue.filled[eth, default: 0])]
        XCTAssertNotEqual(positions[0].1, 0)
        let active = router.activeOrderCount
        XCTAssertGreaterThan(active, 300, "most orders rest")
        let report = router.cancelAllOrders(reason: "test")
        monitor.drain()
        XCTAssertTrue(report.massCancel)
        XCTAssertEqual(report.requested, active)
        XCTAssertEqual(report.canceled, active)
        XCTAssertTrue(report.isComplete)
        for (symbol, position) in positions {
            let state = try XCTUnwrap(monitor.position(of: symbol))
            XCTAssertEqual(state.quantity, FixedPoint.double(position), accuracy: 1e-9, symbol)
            XCTAssertEqual(state.workingBuy, 0, symbol)
            XCTAssertEqual(state.workingSell, 0, symbol)
            XCTAssertEqual(monitor.workingOrders(symbol: symbol), 0, symbol)
        }
        XCTAssertEqual(router.invalidExchangeEvents, 0)
    }

    /// 10,000 resting orders canceled while the risk thread runs, through a
    /// 64-event ring: the batches race the risk thread's reads, and every
    /// release lands once.
    func testTenThousandAcksRaceTheRiskThroughASmallRing() throws {
        let monitor = try RuntimeRiskMonitor(limits: limits(), symbols: ["BTCUSDT", "ETHUSDT"], logger: quietLogger())
        let venue = SimulatedExchange(.init(seed: 12, fillRatio: 0, partialFillRatio: 0.3, capacity: 12_000))
        let router = try OrderRouter(monitor: monitor, client: venue, orderCapacity: 12_000, ringCapacity: 64,
                                     logger: quietLogger())
        let runtime = try RedlineRuntime(monitor: monitor, configuration: .init(cpu: RedlineRuntime.cpuCount - 1),
                                         logger: quietLogger())
        try runtime.start()
        for i in 0..<10_000 {
            _ = try router.placeOrder(symbol: i % 2 == 0 ? "BTCUSDT" : "ETHUSDT", side: i % 4 < 2 ? .buy : .sell,
                                      qty: 0.01, price: 100)
            if i % 256 == 255 { router.poll() }
        }
        router.poll()
        XCTAssertEqual(router.activeOrderCount, 10_000)
        XCTAssertTrue(monitor.manualFreeze(reason: "drill"))
        let report = try XCTUnwrap(router.pollFreeze())
        XCTAssertTrue(report.massCancel)
        XCTAssertEqual(report.canceled, 10_000)
        XCTAssertTrue(report.isComplete)
        try runtime.stop()
        for symbol in ["BTCUSDT", "ETHUSDT"] {
            let state = try XCTUnwrap(monitor.position(of: symbol))
            XCTAssertEqual(state.workingBuy, 0, symbol)
            XCTAssertEqual(state.workingSell, 0, symbol)
            XCTAssertEqual(monitor.workingOrders(symbol: symbol), 0, symbol)
        }
        XCTAssertEqual(monitor.anomalies.values.reduce(0, +), 0, "no release found less working than it carried")
    }
}
