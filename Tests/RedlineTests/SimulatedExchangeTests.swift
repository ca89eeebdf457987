import Redline
import XCTest

/// The simulated venue's own bookkeeping: the finished-order log that
/// `orderStatus` reads, and a mass cancel that answers every resting order
/// or, without room for the answers, cancels nothing.
final class SimulatedExchangeTests: XCTestCase {
    private func order(_ n: UInt64, quantity: Int64 = 10) -> ExchangeOrder {
        ExchangeOrder(id: OrderID(rawValue: n), symbol: SymbolID(rawValue: 0), side: .buy, quantity: quantity, price: 100)
    }

    func testOrderStatusRemembersTheNewestFinishedOrdersUpToTheCapacity() throws {
        let venue = SimulatedExchange(.init(seed: 1, fillRatio: 0, capacity: 4))
        for n in UInt64(1)...6 {
            try venue.submit(order(n))
            if n % 2 == 0 { venue.fillResting(OrderID(rawValue: n), price: 100) } else { try venue.cancel(OrderID(rawValue: n)) }
            venue.pollEvents { _ in }
        }
        XCTAssertNil(try venue.orderStatus(OrderID(rawValue: 1)), "the oldest two are forgotten")
        XCTAssertNil(try venue.orderStatus(OrderID(rawValue: 2)))
        XCTAssertEqual(try venue.orderStatus(OrderID(rawValue: 3))?.state, .canceled)
        XCTAssertEqual(try venue.orderStatus(OrderID(rawValue: 6)),
                       VenueOrderStatus(id: OrderID(rawValue: 6), state: .filled, quantity: 10, filledQuantity: 10))
        try venue.submit(order(7))
        XCTAssertEqual(try venue.orderStatus(OrderID(rawValue: 7))?.state, .open, "a resting order is open")
        XCTAssertNil(try venue.orderStatus(OrderID(rawValue: 99)), "never received")
    }

    func testMassCancelAnswersEveryRestingOrderAndRemembersHowEachEnded() throws {
        let venue = SimulatedExchange(.init(seed: 2, fillRatio: 0, capacity: 64))
        for n in UInt64(1)...40 { try venue.submit(order(n)) }
        venue.fillResting(OrderID(rawValue: 5), quantity: 4, price: 100)
        venue.pollEvents { _ in }
        try venue.massCancel()
        var canceled = Set<UInt64>()
        venue.pollEvents { event in
            guard case .canceled(let id) = event else { return XCTFail("\(event)") }
            XCTAssertTrue(canceled.insert(id.rawValue).inserted)
        }
        XCTAssertEqual(canceled, Set(1...40))
        XCTAssertEqual(venue.restingCount, 0)
        XCTAssertEqual(try venue.orderStatus(OrderID(rawValue: 5)),
                       VenueOrderStatus(id: OrderID(rawValue: 5), state: .canceled, quantity: 10, filledQuantity: 4))
        try venue.submit(order(41))
        XCTAssertEqual(venue.restingCount, 1, "the book takes orders again")
    }

    func testAMassCancelWithoutRoomForItsAnswersCancelsNothing() throws {
        // Capacity 2: the event queue holds 6. Two orders half filled on
        // arrival, then filled a little more, leave it full (3 events each)
        // with both still resting.
        let venue = SimulatedExchange(.init(seed: 3, fillRatio: 0, partialFillRatio: 1, capacity: 2))
        try venue.submit(order(1))
        try venue.submit(order(2))
        venue.fillResting(OrderID(rawValue: 1), quantity: 1, price: 100)
        venue.fillResting(OrderID(rawValue: 2), quantity: 1, price: 100)
        XCTAssertThrowsError(try venue.massCancel()) { XCTAssertEqual($0 as? ExchangeError, .backpressure) }
        XCTAssertEqual(venue.restingCount, 2, "nothing canceled")
        var events = 0
        venue.pollEvents { _ in events += 1 }
        XCTAssertEqual(events, 6)
        try venue.massCancel()
        XCTAssertEqual(venue.restingCount, 0)
    }

    /// An id finished twice reads as its last end, also once its first end
    /// has left the log (the old hash index lost it then), and after the
    /// log wraps several times.
    func testOrderStatusForAnIdFinishedTwiceAndAfterWrap() throws {
        let venue = SimulatedExchange(.init(seed: 1, fillRatio: 0, capacity: 3))
        func order(_ n: UInt64) -> ExchangeOrder {
            ExchangeOrder(id: OrderID(rawValue: n), symbol: SymbolID(rawValue: 0), side: .buy, quantity: 10, price: 100)
        }
        try venue.submit(order(1)); try venue.cancel(OrderID(rawValue: 1))
        try venue.submit(order(1)); venue.fillResting(OrderID(rawValue: 1), price: 100)
        try venue.submit(order(2)); try venue.cancel(OrderID(rawValue: 2))
        venue.pollEvents { _ in }
        XCTAssertEqual(try venue.orderStatus(OrderID(rawValue: 1))?.state, .filled)
        for n in UInt64(10)..<20 {
            try venue.submit(order(n)); try venue.cancel(OrderID(rawValue: n)); venue.pollEvents { _ in }
        }
        XCTAssertNil(try venue.orderStatus(OrderID(rawValue: 1)))
        XCTAssertNil(try venue.orderStatus(OrderID(rawValue: 16)))
        for n in UInt64(17)..<20 { XCTAssertEqual(try venue.orderStatus(OrderID(rawValue: n))?.state, .canceled) }
    }
}
