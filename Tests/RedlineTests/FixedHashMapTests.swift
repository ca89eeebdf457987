@testable import Redline
import XCTest

/// The fixed-size map behind the simulated venue and the client order ids,
/// against Swift's Dictionary, through random sets and removals that cluster
/// keys (so backward-shift deletion has runs to repair) and fill it to its
/// capacity.
final class FixedHashMapTests: XCTestCase {
    func testAgreesWithDictionaryThroughRandomSetsAndRemovals() {
        let map = FixedHashMap<Int>(capacity: 100)
        defer { map.deallocate() }
        var model: [UInt64: Int] = [:]
        var generator = SystemRandomNumberGenerator()
        var refusedAtCapacity = 0
        for step in 0..<50_000 {
            // Few distinct keys, many collisions: 1...300 share 256 buckets.
            let key = UInt64.random(in: 1...300, using: &generator)
            if Bool.random(using: &generator) {
                let accepted = map.set(key, step)
                if model[key] != nil || model.count < 100 {
                    XCTAssertTrue(accepted)
                    model[key] = step
                } else {
                    XCTAssertFalse(accepted, "full: a new key is refused")
                    refusedAtCapacity += 1
                }
            } else {
                XCTAssertEqual(map.remove(key), model.removeValue(forKey: key))
            }
            XCTAssertEqual(map.count, model.count)
            if step % 997 == 0 {
                for probe in UInt64(1)...300 { XCTAssertEqual(map[probe], model[probe], "key \(probe) at step \(step)") }
                XCTAssertEqual(Dictionary(uniqueKeysWithValues: map.entries.map { ($0.key, $0.value) }), model)
            }
        }
        XCTAssertGreaterThan(refusedAtCapacity, 0, "the capacity was reached")
        XCTAssertFalse(map.set(0, 1), "0 is no key")
        XCTAssertNil(map[0])
    }

    func testValuesWithReferencesAreReleased() {
        final class Box {}
        weak var gone: Box?
        do {
            let map = FixedHashMap<Box>(capacity: 4)
            let box = Box()
            gone = box
            map.set(7, box)
            map.set(8, Box())
            map.remove(8)
            map.deallocate()
        }
        XCTAssertNil(gone)
    }

    func testRemoveAllEmptiesAndStaysUsable() {
        let map = FixedHashMap<Int>(capacity: 200)
        defer { map.deallocate() }
        for key in UInt64(1)...200 { map.set(key, Int(key)) }
        map.removeAll()
        XCTAssertEqual(map.count, 0)
        for key in UInt64(1)...200 { XCTAssertNil(map[key]) }
        XCTAssertTrue(map.set(5, 1))
        XCTAssertEqual(map[5], 1)
        XCTAssertEqual(map.count, 1)
    }

    final class Counted { nonisolated(unsafe) static var live = 0; init() { Counted.live += 1 }; deinit { Counted.live -= 1 } }

    func testRemoveAllReleasesReferenceValuesOnce() {
        let map = FixedHashMap<Counted>(capacity: 64)
        for key in UInt64(1)...64 { map.set(key, Counted()) }
        XCTAssertEqual(Counted.live, 64)
        map.removeAll()
        XCTAssertEqual(Counted.live, 0)
        map.set(3, Counted())
        map.deallocate()
        XCTAssertEqual(Counted.live, 0)
    }

    func testRemoveAllOfAVoidMap() {
        let map = FixedHashMap<Void>(capacity: 100)
        defer { map.deallocate() }
        for key in UInt64(1)...100 { XCTAssertTrue(map.set(key, ())) }
        XCTAssertFalse(map.set(101, ()), "full")
        map.removeAll()
        XCTAssertEqual(map.count, 0)
        for key in UInt64(1)...100 { XCTAssertFalse(map.contains(key)) }
        for key in UInt64(101)...200 { XCTAssertTrue(map.set(key, ())) }
        XCTAssertEqual(map.count, 100)
    }
}
