import RedlineCore
import Synchronization
import XCTest

/// Several threads race reservations against one table. If reservations were
/// not linearizable (a load-check-store instead of a CAS), threads would pass
/// orders that jointly overshoot the limits and these tests would fail.
final class ReservationStressTests: XCTestCase {
    private let threads = 4

    private func race(perThread: Int, body: @Sendable (_ thread: Int, _ i: Int) -> Void) {
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for i in 0..<perThread { body(t, i) }
        }
    }

    func testConcurrentReservationsNeverExceedTheTotalLimit() {
        for round in 0..<20 {
            // 8 symbols of $3,000 each = $24,000 of room, but the book allows $10,000.
            let engine = makeEngine(symbolLimit: 3_000, maxTotal: 10_000,
                                    symbols: (0..<8).map { "S\($0)" })
            nonisolated(unsafe) let e = engine
            race(perThread: 20_000) { t, i in
                let symbol = UInt32((t * 7 + i * 3 + round) % 8)
                let qty = Int64(1 + (i * 31 + t) % 5) * S / 100  // 0.01 ... 0.05
                _ = rl_engine_reserve(e, symbol, RL_SIDE_BUY, qty, 1_000 * S)
            }
            let worstSum = trueExposure(engine)
            for s in UInt32(0)..<8 {
                XCTAssertLessThanOrEqual(rl_position_table_exposure(rl_engine_table(engine), s), 3_000 * S, "symbol \(s) limit exceeded")
            }
            XCTAssertLessThanOrEqual(worstSum, 10_000 * S, "round \(round): book limit exceeded")
            XCTAssertEqual(total(engine), worstSum, "one side per symbol: the total is exact")
            XCTAssertGreaterThan(worstSum, 9_000 * S, "the race filled the book (the test exercised the limit)")
            rl_engine_destroy(engine)
        }
    }

    func testConcurrentReservationsOnBothSidesNeverExceedTheLimitsAndAreExactOnceSeen() {
        for round in 0..<20 {
            let engine = makeEngine(symbolLimit: 3_000, maxTotal: 10_000, symbols: (0..<8).map { "S\($0)" })
            nonisolated(unsafe) let e = engine
            race(perThread: 20_000) { t, i in
                let symbol = UInt32((t * 7 + i * 3 + round) % 8)
                let side = (i + t) % 3 == 0 ? RL_SIDE_SELL : RL_SIDE_BUY
                let qty = Int64(1 + (i * 31 + t) % 5) * S / 100
                _ = rl_engine_reserve(e, symbol, side, qty, 1_000 * S)
            }
            XCTAssertLessThanOrEqual(trueExposure(engine), 10_000 * S, "round \(round): book limit exceeded")
            XCTAssertGreaterThanOrEqual(total(engine), trueExposure(engine), "never below")
            // Once the risk side has seen each symbol, the overlap is credited back: exact.
            step(engine, (0..<8).map { event(RL_EVENT_ORDER_ACCEPTED, symbol: UInt32($0), qty: 1, price: 1) })
            XCTAssertEqual(total(engine), trueExposure(engine))
            rl_engine_destroy(engine)
        }
    }

    func testConcurrentReservationsNeverExceedASymbolLimit() {
        for _ in 0..<20 {
            let engine = makeEngine(symbolLimit: 1_000, maxTotal: 1_000_000, symbols: ["ONE"])
            nonisolated(unsafe) let e = engine
            race(perThread: 5_000) { t, i in
                _ = rl_engine_reserve(e, 0, (i + t) % 2 == 0 ? RL_SIDE_BUY : RL_SIDE_SELL, S / 100, 100 * S)
            }
            let v = view(engine, 0)
            XCTAssertLessThanOrEqual(v.working_buy, 10 * S)
            XCTAssertLessThanOrEqual(v.working_sell, 10 * S)
            XCTAssertEqual(v.working_buy, 10 * S, "the buy side filled exactly to the limit")
            XCTAssertEqual(v.working_sell, 10 * S, "and the sell side")
            rl_engine_destroy(engine)
        }
    }

    /// Strategies reserve while a risk thread applies cancels from their rings:
    /// the limit holds at every sample, and every unit is accounted for.
    func testReservationsRacingTheRiskThreadKeepTheBookInsideTheLimit() {
        let engine = makeEngine(symbolLimit: 2_000, maxTotal: 5_000, symbols: (0..<4).map { "S\($0)" })
        defer { rl_engine_destroy(engine) }
        nonisolated(unsafe) let e = engine
        var rings: [OpaquePointer] = []
        for _ in 0..<2 {
            var r: OpaquePointer?
            XCTAssertEqual(rl_spsc_create(1024, &r), 0)
            rings.append(r!)
        }
        defer { rings.forEach { rl_spsc_destroy($0) } }
        nonisolated(unsafe) let rs = rings
        let producersDone = Atomic<Int>(0)
        let accepted = Atomic<Int64>(0)

        DispatchQueue.concurrentPerform(iterations: 3) { role in
            if role < 2 {
                for i in 0..<50_000 {
                    let symbol = UInt32((i + role) % 4)
                    let qty = Int64(1 + i % 3) * S / 100
                    if rl_engine_reserve(e, symbol, RL_SIDE_BUY, qty, 1_000 * S) == RL_OK {
                        accepted.add(qty, ordering: .relaxed)
                        var cancel = rl_event_t(type: UInt8(RL_EVENT_CANCEL_ACK.rawValue), side: 0, strategy: 0,
                                                symbol: symbol, order_id: 0, qty: qty, price: 1_000 * S,
                                                value: 0, timestamp_ns: 0)
                        while rl_spsc_push(rs[role], &cancel) == RL_FULL { sched_yield() }
                    }
                }
                producersDone.add(1, ordering: .releasing)
            } else {
                var result = rl_step_result_t()
                while true {
                    let bothDone = producersDone.load(ordering: .acquiring) == 2
                    var progressed = false
                    for ring in rs where rl_engine_step(e, ring, 64, &result) > 0 { progressed = true }
                    // The aggregate is checked by CAS on the way up; sample it anyway.
                    if rl_position_table_total(rl_engine_table(e)) > 5_000 * S { XCTFail("total over the book limit") }
                    if bothDone && !progressed { break }
                }
            }
        }
        XCTAssertGreaterThan(accepted.load(ordering: .relaxed), 0)
        for s in UInt32(0)..<4 {
            let v = view(engine, s)
            XCTAssertEqual([v.position, v.working_buy, v.working_sell, v.exposure], [0, 0, 0, 0], "symbol \(s)")
        }
        XCTAssertEqual(rl_position_table_total(rl_engine_table(engine)), 0)
    }
}
