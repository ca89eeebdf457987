@testable import Redline
import XCTest

/// The simulated venue's dense store of resting orders, against Swift's
/// Dictionary: random sets, updates and removals (each removal but the
/// last's moves the last order into the gap, and its index must follow),
/// filled to capacity, drained, and used again.
final class RestingOrdersTests: XCTestCase {
    private func entry(_ id: UInt64, remaining: Int64) -> RestingOrders.Entry {
        (ExchangeOrder(id: OrderID(rawValue: id), symbol: SymbolID(rawValue: UInt32(id % 7)), side: id % 2 == 0 ? .buy : .sell,
                       quantity: 100, price: Int64(id)), remaining)
    }

    private func assertAgrees(_ book: RestingOrders, _ model: [UInt64: Int64], keys: ClosedRange<UInt64>,
                              file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(book.count, model.count, file: file, line: line)
        for id in keys {
            XCTAssertEqual(book[id]?.remaining, model[id], "order \(id)", file: file, line: line)
            if let held = book[id] { XCTAssertEqual(held.order.id.rawValue, id, file: file, line: line) }
        }
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: book.all.map { ($0.order.id.rawValue, $0.remaining) }), model,
                       file: file, line: line)
    }

    func testAgreesWithDictionaryThroughRandomSetsRemovalsAndDrains() {
        let book = RestingOrders(capacity: 64)
        defer { book.deallocate() }
        var model: [UInt64: Int64] = [:]
        var generator = SystemRandomNumberGenerator()
        var refusedAtCapacity = 0
        var drains = 0
        for step in 0..<40_000 {
            let id = UInt64.random(in: 1...150, using: &generator)
            switch UInt64.random(in: 0..<100, using: &generator) {
            case 0..<55:
                let accepted = book.set(entry(id, remaining: Int64(step)))
                if model[id] != nil || model.count < 64 {
                    XCTAssertTrue(accepted)
                    model[id] = Int64(step)
                } else {
                    XCTAssertFalse(accepted, "full: a new order is refused")
                    refusedAtCapacity += 1
                }
            case 55..<99:
                XCTAssertEqual(book.remove(id)?.remaining, model.removeValue(forKey: id))
            default:
                var seen: [UInt64: Int64] = [:]
                book.drain { held in
                    XCTAssertNil(seen[held.order.id.rawValue], "handed over twice")
                    seen[held.order.id.rawValue] = held.remaining
                }
                XCTAssertEqual(seen, model)
                model.removeAll()
                drains += 1
            }
            if step % 499 == 0 { assertAgrees(book, model, keys: 1...150) }
        }
        assertAgrees(book, model, keys: 1...150)
        XCTAssertGreaterThan(refusedAtCapacity, 0, "the capacity was reached")
        XCTAssertGreaterThan(drains, 100)
        XCTAssertFalse(book.set(entry(0, remaining: 1)), "0 is no order id")
    }

    func testDrainLeavesItEmptyAndUsable() {
        let book = RestingOrders(capacity: 10_000)
        defer { book.deallocate() }
        for id in UInt64(1)...10_000 { book.set(entry(id, remaining: 3)) }
        for id in stride(from: UInt64(2), through: 10_000, by: 2) { book.remove(id) }
        var handed: [UInt64] = []
        book.drain { handed.append($0.order.id.rawValue) }
        XCTAssertEqual(handed.sorted(), Array(stride(from: UInt64(1), through: 9_999, by: 2)))
        XCTAssertEqual(book.count, 0)
        for id in UInt64(1)...10_000 { XCTAssertNil(book[id]) }
        XCTAssertTrue(book.set(entry(42, remaining: 5)))
        XCTAssertEqual(book[42]?.remaining, 5)
        XCTAssertEqual(book.count, 1)
    }

    /// Every sequence of six operations over three ids at capacity 2 (a new
    /// order, a held one updated, a removal that moves the last entry into
    /// the gap or removes the last, a drain, refusals when full), against
    /// Dictionary after each step (helper-43's review).
    func testEverySequenceOfSixOperationsOverThreeIds() {
        func run(_ operations: [Int]) {
            let book = RestingOrders(capacity: 2)
            defer { book.deallocate() }
            var model: [UInt64: Int64] = [:]
            for (step, operation) in operations.enumerated() {
                let id = UInt64(operation % 3 + 1)
                switch operation / 3 {
                case 0:
                    let accepted = book.set(entry(id, remaining: Int64(step)))
                    XCTAssertEqual(accepted, model[id] != nil || model.count < 2, "\(operations)")
                    if accepted { model[id] = Int64(step) }
                case 1:
                    XCTAssertEqual(book.remove(id)?.remaining, model.removeValue(forKey: id), "\(operations)")
                default:
                    var seen: [UInt64: Int64] = [:]
                    book.drain { seen[$0.order.id.rawValue] = $0.remaining }
                    XCTAssertEqual(seen, model, "\(operations)")
                    model = [:]
                }
                XCTAssertEqual(book.count, model.count, "\(operations)")
                for held in UInt64(1)...3 { XCTAssertEqual(book[held]?.remaining, model[held], "\(operations)") }
            }
        }
        var operations = [Int](repeating: 0, count: 6)
        func extend(_ at: Int) {
            guard at < operations.count else { return run(operations) }
            for operation in 0..<7 { // set x3 ids, remove x3 ids, drain
                operations[at] = operation
                extend(at + 1)
            }
        }
        extend(0)
    }

    /// The venue over its dense book: removals of the middle, last and first
    /// orders, and of one just moved, then its status, open orders and a mass
    /// cancel agree (helper-43's review).
    func testVenueAgreesAfterOrdersMoveInItsBook() throws {
        let venue = SimulatedExchange(.init(capacity: 8))
        func order(_ id: UInt64) -> ExchangeOrder {
            ExchangeOrder(id: OrderID(rawValue: id), symbol: SymbolID(rawValue: 1), side: .buy, quantity: 10, price: 100)
        }
        for id in UInt64(1)...8 { try venue.submit(order(id)) }
        XCTAssertThrowsError(try venue.submit(order(9)), "full")
        try venue.cancel(OrderID(rawValue: 2))                           // the middle: 8 moves into its place
        venue.fillResting(OrderID(rawValue: 8), quantity: 3, price: 100) // found where it moved
        venue.cancelQuietly(OrderID(rawValue: 7))                        // the last
        venue.expireResting(OrderID(rawValue: 1))                        // the first
        venue.fillQuietly(OrderID(rawValue: 8), quantity: 7)             // the rest of it: gone
        XCTAssertEqual(try venue.openOrders().map(\.id.rawValue), [3, 4, 5, 6])
        XCTAssertEqual(try venue.orderStatus(OrderID(rawValue: 8))?.state, .filled)
        XCTAssertEqual(try venue.orderStatus(OrderID(rawValue: 8))?.filledQuantity, 10)
        venue.pollEvents { _ in }
        try venue.massCancel()
        var canceled: [UInt64] = []
        venue.pollEvents { if case .canceled(let id) = $0 { canceled.append(id.rawValue) } }
        XCTAssertEqual(canceled.sorted(), [3, 4, 5, 6])
        XCTAssertEqual(venue.restingCount, 0)
        XCTAssertEqual(try venue.orderStatus(OrderID(rawValue: 5))?.state, .canceled)
        try venue.massCancel() // nothing resting: nothing to answer
        var late = 0
        venue.pollEvents { _ in late += 1 }
        XCTAssertEqual(late, 0)
        try venue.submit(order(5))
        XCTAssertEqual(try venue.orderStatus(OrderID(rawValue: 5))?.state, .open)
        XCTAssertEqual(venue.restingCount, 1)
    }
}
