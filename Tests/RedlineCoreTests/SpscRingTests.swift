import RedlineCore
import XCTest

final class SpscRingTests: XCTestCase {
    private var ring: OpaquePointer!

    override func setUp() {
        var r: OpaquePointer?
        XCTAssertEqual(rl_spsc_create(4, &r), 0)
        ring = r
    }

    override func tearDown() { rl_spsc_destroy(ring) }

    private func push(_ n: Int64) -> rl_result_t {
        var e = event(RL_EVENT_FILL, qty: n)
        return rl_spsc_push(ring, &e)
    }

    func testRejectsCapacityThatIsNotAPowerOfTwo() {
        var r: OpaquePointer?
        for bad: UInt64 in [0, 1, 3, 6, 1000] { XCTAssertEqual(rl_spsc_create(bad, &r), -EINVAL, "\(bad)") }
    }

    func testPopFromEmptyRingReturnsEmpty() {
        var out = rl_event_t()
        XCTAssertEqual(rl_spsc_pop(ring, &out), RL_EMPTY)
        XCTAssertEqual(rl_spsc_readable(ring, 8), 0)
        XCTAssertEqual(rl_spsc_pop_batch(ring, &out, 1), 0)
    }

    func testWritableSeesTheConsumersProgressWhenItNeedsMoreRoom() {
        // Three pushes leave the producer's cached head at 0: one slot free by the cache.
        for i in 1...3 { XCTAssertEqual(push(Int64(i)), RL_OK) }
        XCTAssertEqual(rl_spsc_writable(ring, 1), 1)
        var out = rl_event_t()
        for _ in 1...3 { XCTAssertEqual(rl_spsc_pop(ring, &out), RL_OK) }
        // Asking for room for two events must refresh the cache, not report 1 forever.
        XCTAssertEqual(rl_spsc_writable(ring, 2), 4)
    }

    func testTheStepKeepsGoingOnceTheJournalWriterHasCaughtUp() {
        // A journal ring of 8: the step needs room for 4 records per event.
        let engine = makeEngine()
        defer { rl_engine_destroy(engine) }
        var journal: OpaquePointer?
        XCTAssertEqual(rl_spsc_create(8, &journal), 0)
        defer { rl_spsc_destroy(journal) }
        rl_engine_attach_journal(engine, journal)
        defer { rl_engine_attach_journal(engine, nil) }
        var input: OpaquePointer?
        XCTAssertEqual(rl_spsc_create(64, &input), 0)
        defer { rl_spsc_destroy(input) }
        for _ in 0..<40 {
            var mark = event(RL_EVENT_MARK_PRICE, price: fp(40_000))
            XCTAssertEqual(rl_spsc_push(input, &mark), RL_OK)
        }
        var result = rl_step_result_t(), record = rl_event_t(), journaled = 0
        for _ in 0..<100 where rl_spsc_depth(input) > 0 {
            rl_engine_step(engine, input, 64, &result)
            while rl_spsc_pop(journal, &record) == RL_OK { journaled += 1 } // the writer catches up
        }
        XCTAssertEqual(journaled, 40, "every event journaled, none stuck behind a stale view of the journal ring")
    }

    func testRejectsPushWhenRingFullAndCountsIt() {
        for i in 1...4 { XCTAssertEqual(push(Int64(i)), RL_OK) }
        XCTAssertEqual(push(5), RL_FULL)
        XCTAssertEqual(push(6), RL_FULL)
        XCTAssertEqual(rl_spsc_full_count(ring), 2)
        XCTAssertEqual(rl_spsc_depth(ring), 4)
        var out = rl_event_t()
        XCTAssertEqual(rl_spsc_pop(ring, &out), RL_OK)
        XCTAssertEqual(out.qty, 1, "the refused pushes overwrote nothing")
        XCTAssertEqual(push(5), RL_OK)
    }

    func testPreservesOrderAcrossManyWraparounds() {
        var next: Int64 = 0
        var expected: Int64 = 0
        var out = rl_event_t()
        for round in 0..<1000 {
            let burst = round % 4 + 1
            for _ in 0..<burst {
                XCTAssertEqual(push(next), RL_OK)
                next += 1
            }
            for _ in 0..<burst {
                XCTAssertEqual(rl_spsc_pop(ring, &out), RL_OK)
                XCTAssertEqual(out.qty, expected)
                expected += 1
            }
        }
        XCTAssertEqual(rl_spsc_pop(ring, &out), RL_EMPTY)
    }

    func testBatchPopTakesWhatIsThereUpToMax() {
        for i in 0..<3 { XCTAssertEqual(push(Int64(i)), RL_OK) }
        var buffer = [rl_event_t](repeating: rl_event_t(), count: 8)
        XCTAssertEqual(rl_spsc_pop_batch(ring, &buffer, 2), 2)
        XCTAssertEqual(buffer[0].qty, 0)
        XCTAssertEqual(buffer[1].qty, 1)
        for i in 3..<6 { XCTAssertEqual(push(Int64(i)), RL_OK) } // wraps
        XCTAssertEqual(rl_spsc_pop_batch(ring, &buffer, 8), 4)
        XCTAssertEqual(buffer[0..<4].map(\.qty), [2, 3, 4, 5])
    }
}

final class SpscRingConcurrentTests: XCTestCase {
    func testProducerAndConsumerThreadsLoseAndReorderNothing() {
        var r: OpaquePointer?
        XCTAssertEqual(rl_spsc_create(64, &r), 0)
        nonisolated(unsafe) let ring = r!
        defer { rl_spsc_destroy(ring) }
        let count: Int64 = 500_000
        let producer = Thread {
            for i in 0..<count {
                var e = event(RL_EVENT_FILL, qty: i)
                while rl_spsc_push(ring, &e) == RL_FULL { sched_yield() }
            }
        }
        producer.start()
        var expected: Int64 = 0
        var buffer = [rl_event_t](repeating: rl_event_t(), count: 16)
        while expected < count {
            let n = rl_spsc_pop_batch(ring, &buffer, 16)
            for i in 0..<Int(n) {
                if buffer[i].qty != expected { XCTFail("got \(buffer[i].qty), expected \(expected)"); return }
                expected += 1
            }
            if n == 0 { sched_yield() }
        }
        XCTAssertEqual(rl_spsc_depth(ring), 0)
    }
}
