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
                let accepted = book.set(id, entry(id, remaining: Int64(step)))
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
        XCTAssertFalse(book.set(0, entry(0, remaining: 1)), "0 is no order id")
    }

    func testDrainLeavesItEmptyAndUsable() {
        let book = RestingOrders(capacity: 10_000)
        defer { book.deallocate() }
        for id in UInt64(1)...10_000 { book.set(id, entry(id, remaining: 3)) }
        for id in stride(from: UInt64(2), through: 10_000, by: 2) { book.remove(id) }
        var handed: [UInt64] = []
        book.drain { handed.append($0.order.id.rawValue) }
        XCTAssertEqual(handed.sorted(), Array(stride(from: UInt64(1), through: 9_999, by: 2)))
        XCTAssertEqual(book.count, 0)
        for id in UInt64(1)...10_000 { XCTAssertNil(book[id]) }
        XCTAssertTrue(book.set(42, entry(42, remaining: 5)))
        XCTAssertEqual(book[42]?.remaining, 5)
        XCTAssertEqual(book.count, 1)
    }
}
