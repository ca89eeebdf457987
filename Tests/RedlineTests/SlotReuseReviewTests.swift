import Foundation
@testable import Redline
import RedlineCore
import XCTest

/// Adversarial review of ab5755d (FIFO slot reuse, the new id layout,
/// `OrderRecord.executed`, the new transitions, the owed-cancel backoff).
/// Tests marked "Found" fail at f34b7bc; those marked "Held" are what the
/// review checked and found to hold.
final class SlotReuseReviewTests: XCTestCase {
    typealias SeqVenue = VenueSequenceReviewTests.SeqVenue

    /// A scripted venue whose cancel sends can be made to fail (the link
    /// refuses `failCancelSends` more attempts).
    final class FlakyCancelVenue: ExchangeClient {
        var pending: [ExchangeEvent] = []
        var cancels: [OrderID] = []
        var failCancelSends = 0
        func submit(_ order: ExchangeOrder) throws(ExchangeError) {}
        func cancel(_ id: OrderID) throws(ExchangeError) {
            if failCancelSends > 0 { failCancelSends -= 1; throw .unavailable }
            cancels.append(id)
        }
        func pollEvents(_ body: (ExchangeEvent) -> Void) {
            while !pending.isEmpty { body(pending.removeFirst()) }
        }
    }

    private func fp(_ value: Double) -> Int64 { Int64((value * FixedPoint.scale).rounded()) }
    private let px: Int64 = Int64(100 * FixedPoint.scale)

    private func makeRouter(_ client: any ExchangeClient, orderCapacity: Int = 65_536) throws -> (RuntimeRiskMonitor, OrderRouter) {
        try makeBTCRouter(client, orderCapacity: orderCapacity)
    }

    // MARK: Found

    /// Found. FIFO reuse keeps a finished order readable only for as many
    /// new orders as there were free slots when it finished, not "a whole
    /// `orderCapacity` of new orders" (README, OrderStateMachine.freeSlots):
    /// with the book near capacity (a router sized to its working-order
    /// limit, a market maker's resting quotes) the next order takes the slot
    /// at once, exactly as the LIFO stack did. A fill after the cancel ack
    /// then names an unknown order, is counted invalid and dropped: the
    /// position misses it (fails open).
    func testALateFillAfterTheCancelAckCountsWithTheBookNearCapacity() throws {
        let venue = SeqVenue()
        let capacity = 16
        let (monitor, router) = try makeRouter(venue, orderCapacity: capacity)
        var resting: [OrderID] = []
        for _ in 0..<(capacity - 1) { // quotes resting at the venue
            let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
            venue.pending.append(.acknowledged(id))
            resting.append(id)
        }
        let a = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        venue.pending.append(.acknowledged(a))
        router.poll()
        try router.cancel(a)
        venue.pending = [.canceled(a)]
        router.poll()
        let b = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100) // the only free slot: a's
        venue.pending = [.acknowledged(b), .filled(a, quantity: fp(0.004), price: px, cumulative: fp(0.004))]
        router.poll()
        XCTAssertEqual(router.invalidExchangeEvents, 0, "a fill after the cancel ack is a real venue race, not unknown")
        assertBooks(monitor, router, working: 0.01 * Double(capacity), orders: capacity, position: 0.004,
                    "the venue filled 0.004 of a after its cancel ack")
    }

    /// Found. An order the venue cancels before acknowledging it (an IOC
    /// with nothing to match, which FIX venues report as ExecType=4
    /// Canceled, often with no New before it; a post-only that would
    /// cross) meets `pending` + `cancelAck`, which the table still lacks
    /// (OrderStateMachine.next: ab5755d added pending + expire only). The
    /// cancel is counted invalid and ignored: the order stays active and its
    /// quantity reserved for good (and in a halt its cancel is owed forever).
    func testACancelBeforeTheOrdersAckReleasesIt() throws {
        let venue = SeqVenue()
        let (monitor, router) = try makeRouter(venue)
        let ioc = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        venue.pending = [.canceled(ioc)] // no ack: the venue canceled it at once
        router.poll()
        XCTAssertEqual(try router.order(ioc).status, .canceled)
        XCTAssertEqual(router.invalidExchangeEvents, 0)
        assertBooks(monitor, router, working: 0, orders: 0, position: 0)
    }

    /// Found. The owed-cancel backoff doubles after every retry round, the
    /// rounds the venue took included (`retryOwedCancels`), and since
    /// ab5755d a new debt keeps it (`oweCancel`) unless the list was quiet
    /// for over a second. A link that drops one cancel now and then, each
    /// retried and taken by the venue at once, so walks the backoff up to
    /// 1 s: after nine such hiccups the next order whose cancel was not
    /// sent keeps working at the venue for half a second (a whole second
    /// later on), though the venue refused nothing. The same holds for the
    /// cancels a halt re-owes after a cancel reject.
    func testTheOwedCancelBackoffDoesNotGrowWhileTheVenueTakesTheRetries() throws {
        let venue = FlakyCancelVenue()
        let (_, router) = try makeRouter(venue)
        func oneHiccup() throws -> TimeInterval {
            let id = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
            venue.pending = [.acknowledged(id)]
            router.poll()
            venue.failCancelSends = router.cancelRetries + 1 // every attempt of this one cancel
            XCTAssertThrowsError(try router.cancel(id))
            XCTAssertEqual(router.owedCancelCount, 1)
            let owed = Date()
            let sentBefore = venue.cancels.count
            while venue.cancels.count == sentBefore && Date().timeIntervalSince(owed) < 2 { router.poll(); usleep(200) }
            let waited = Date().timeIntervalSince(owed)
            venue.pending = [.canceled(id)] // the venue took the retry and canceled it
            router.poll()
            XCTAssertEqual(try router.order(id).status, .canceled)
            return waited
        }
        for _ in 0..<9 { _ = try oneHiccup() }
        let waited = try oneHiccup()
        // The bug backed off after each hiccup: about 512 ms after nine.
        // 250 ms leaves room for a stalled host.
        XCTAssertLessThan(waited, 0.25, "an owed cancel waited \(Int(waited * 1000)) ms though the venue took every retry")
    }

    /// Found (minor). A resent fill (FIX PossDup after a reconnect) carries
    /// its original running total; once a later fill has arrived, that total
    /// is below `executed`, and `handle(.filled)` counts it as "the venue's
    /// running total went backwards" (an order anomaly, logged as an error).
    /// The position holds; the anomaly counter, which operators alert on,
    /// counts every ordinary resend.
    func testAResendOfAnEarlierFillIsNoAnomaly() throws {
        let venue = SeqVenue()
        let (monitor, router) = try makeRouter(venue)
        let a = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        let first = ExchangeEvent.filled(a, quantity: fp(0.003), price: px, cumulative: fp(0.003))
        venue.pending = [.acknowledged(a), first, .filled(a, quantity: fp(0.002), price: px, cumulative: fp(0.005)), first]
        router.poll()
        assertBooks(monitor, router, working: 0.005, orders: 1, position: 0.005)
        XCTAssertEqual(router.anomalousFills, 0, "a resend of an earlier fill")
    }

    /// Fills out of order: the venue's running total of 5 arrives before
    /// the fill of 3 that it includes. Counting only each fill's own part
    /// (2, then 3 - 2 = 1) left the position at 3 of the venue's 5 for good:
    /// the engine under-counted risk. The total is counted when it arrives;
    /// the earlier fill, when it comes, is a resend.
    func testFillsOutOfOrderCountTheVenuesWholeTotal() throws {
        let venue = SeqVenue()
        let (monitor, router) = try makeRouter(venue)
        let a = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        let early = ExchangeEvent.filled(a, quantity: fp(0.003), price: px, cumulative: fp(0.003))
        let later = ExchangeEvent.filled(a, quantity: fp(0.002), price: px, cumulative: fp(0.005))
        venue.pending = [.acknowledged(a), later]
        router.poll()
        assertBooks(monitor, router, working: 0.005, orders: 1, position: 0.005, "the running total, at once")
        XCTAssertEqual(router.anomalousFills, 1, "fills the running total says were not seen are an anomaly")
        venue.pending = [early]
        router.poll()
        assertBooks(monitor, router, working: 0.005, orders: 1, position: 0.005, "the late fill was counted already")
        XCTAssertEqual(router.anomalousFills, 1, "the late fill is a resend")
        // The rest fills it, in order.
        venue.pending = [.filled(a, quantity: fp(0.005), price: px, cumulative: fp(0.01))]
        router.poll()
        assertBooks(monitor, router, working: 0, orders: 0, position: 0.01)
    }

    /// A fill the venue sent and the router never received (a lost message)
    /// shows in the next fill's running total: the position takes all of it,
    /// and the order's end releases nothing it did not have.
    func testAFillLostOnTheWayIsCountedFromTheNextRunningTotal() throws {
        let venue = SeqVenue()
        let (monitor, router) = try makeRouter(venue)
        let a = try router.placeOrder(symbol: "BTCUSDT", side: .sell, qty: 0.01, price: 100)
        venue.pending = [.acknowledged(a), .filled(a, quantity: fp(0.004), price: px, cumulative: fp(0.01))]
        router.poll()
        assertBooks(monitor, router, working: 0, orders: 0, position: -0.01, "filled in full, by the running total")
        XCTAssertEqual(router.anomalousFills, 1)
        // A total past the order's size moves the position by all of it (an excess, counted).
        let b = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        venue.pending = [.acknowledged(b), .filled(b, quantity: fp(0.004), price: px, cumulative: fp(0.012))]
        router.poll()
        assertBooks(monitor, router, working: 0, orders: 0, position: 0.002, "the venue's 0.012 in all")
        XCTAssertEqual(router.anomalousFills, 3, "the gap and the excess")
    }

    // MARK: Held

    /// Held. The free ring stays a permutation of the free slots under
    /// random opens, adoptions, venue answers (stale and repeated ones
    /// included) and a full machine, at capacities 1, 2, 3 and 7: no slot
    /// is ever free twice or free and active at once, and every id still
    /// readable finds its own record.
    func testTheFreeRingStaysConsistentUnderRandomTraffic() throws {
        var rng = SplitMix64(seed: 42)
        let events: [OrderEventKind] = [.submit, .acknowledge, .partialFill, .fill, .requestCancel, .cancelAck,
                                        .cancelReject, .reject, .expire]
        for capacity in [1, 2, 3, 7] {
            let machine = OrderStateMachine(capacity: capacity, session: 3)
            var ids: [OrderID] = []
            var nextAdopted: UInt64 = 1
            for _ in 0..<20_000 {
                let roll = Int(rng.next() % 10)
                if roll == 0 {
                    // Adopted from session 2; its low bits name some slot here.
                    let id = OrderID(rawValue: UInt64(2) << 48 | nextAdopted << 16 | (rng.next() % UInt64(capacity + 1)))
                    nextAdopted += 1
                    if let record = try? machine.adopt(id, symbol: SymbolID(rawValue: 0), side: .buy, quantity: 10,
                                                       remaining: 10, price: 1) {
                        XCTAssertEqual(record.id, id)
                        ids.append(id)
                    }
                } else if roll <= 2 {
                    if let id = try? machine.open(symbol: SymbolID(rawValue: 0), side: .buy, quantity: 10, price: 1) {
                        ids.append(id)
                    }
                } else if !ids.isEmpty {
                    let id = ids[Int(rng.next() % UInt64(ids.count))]
                    let event = events[Int(rng.next() % UInt64(events.count))]
                    _ = try? machine.apply(id, event, fillQuantity: event == .fill || event == .partialFill ? 3 : 0)
                }
                if ids.count > 64 { // keep the live ones (a `new` order never submitted would hold its slot for good)
                    ids.removeAll { id in
                        guard let status = try? machine.order(id).status else { return true }
                        return status.isTerminal
                    }
                    if ids.count > 64 { ids.removeFirst(ids.count - 64) }
                }
                // The invariants.
                var free = Set<Int>()
                for i in 0..<machine.freeCount {
                    let slot = Int(machine.freeSlots[(machine.counts.pointee.freeHead + i) % machine.slotCount])
                    XCTAssertTrue(free.insert(slot).inserted, "slot \(slot) free twice (capacity \(capacity))")
                    XCTAssertTrue(machine.records[slot].status.isTerminal, "a free slot holds a live order")
                }
                var active = Set<Int>()
                for i in 0..<machine.activeCount { active.insert(Int(machine.activeSlots[i])) }
                XCTAssertTrue(free.isDisjoint(with: active))
                let new = (0..<machine.slotCount).filter { machine.records[$0].status == .new }.count
                XCTAssertEqual(free.count + active.count + new, machine.slotCount)
                for id in ids {
                    if let slot = machine.slot(of: id) { XCTAssertEqual(machine.records[slot].id, id) }
                }
                if testRun?.failureCount ?? 0 > 0 { return }
            }
        }
    }

    /// Held. Above 65,536 slots the slot takes more bits (18 for 140,000 slots); an id of another
    /// session with the same low bits, or one naming a slot beyond the
    /// capacity, finds nothing; ids stay distinct.
    func testIDsAbove65536Slots() throws {
        let capacity = 70_000
        let machine = OrderStateMachine(capacity: capacity, session: 5)
        XCTAssertEqual(machine.slotBits, 18, "140,000 slots: the capacity and as many held back")
        var seen = Set<UInt64>()
        var last = OrderID(rawValue: 0)
        for _ in 0..<65_537 { // FIFO from a fresh machine: slots 0, 1, ... 65,536
            last = try machine.open(symbol: SymbolID(rawValue: 0), side: .buy, quantity: 1, price: 1)
            XCTAssertTrue(seen.insert(last.rawValue).inserted)
        }
        XCTAssertEqual(machine.slot(of: last), 65_536)
        XCTAssertEqual(last.session, 5)
        let otherSession = OrderID(rawValue: last.rawValue & 0xFFFF_FFFF_FFFF | UInt64(6) << 48)
        XCTAssertNil(machine.slot(of: otherSession))
        XCTAssertNil(machine.slot(of: OrderID(rawValue: UInt64(5) << 48 | 1 << 17 | 0x1FFFF))) // slot 131,071
        XCTAssertEqual(machine.available, capacity - 65_537)
    }

    /// Held. A cancel ack for an acknowledged order, then a late fill: the
    /// remainder is released once, the fill moves the position alone.
    func testACancelAckForAWorkingOrderThenAFillReleasesOnce() throws {
        let venue = SeqVenue()
        let (monitor, router) = try makeRouter(venue)
        let a = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        let b = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 100)
        venue.pending = [.acknowledged(a), .acknowledged(b), .canceled(a),
                         .filled(a, quantity: fp(0.01), price: px, cumulative: fp(0.01)), .canceled(a),
                         .rejected(a), .expired(a)]
        router.poll()
        assertBooks(monitor, router, working: 0.01, orders: 1, position: 0.01)
    }
}
