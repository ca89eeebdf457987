import RedlineCore
import XCTest

final class PositionTableTests: XCTestCase {
    private var engine: OpaquePointer!
    private var table: OpaquePointer { rl_engine_table(engine) }

    override func setUp() { engine = makeEngine(symbolLimit: 5_000, maxTotal: 12_000) }
    override func tearDown() { rl_engine_destroy(engine) }

    private func reserve(_ symbol: UInt32 = 0, _ side: rl_side_t = RL_SIDE_BUY, qty: Double, price: Double) -> rl_result_t {
        rl_engine_reserve(engine, symbol, side, fp(qty), fp(price))
    }

    func testReservationCountsAsWorkingQuantity() {
        XCTAssertEqual(reserve(qty: 0.05, price: 40_000), RL_OK)
        let v = view(engine, 0)
        XCTAssertEqual(v.position, 0)
        XCTAssertEqual(v.working_buy, fp(0.05))
        XCTAssertEqual(v.exposure, fp(2_000))
        XCTAssertEqual(rl_position_table_total(table), fp(2_000))
    }

    func testManySmallOrdersThatEachPassAloneStopAtTheLimit() {
        // $5,000 limit, $400 orders: twelve would pass alone, only twelve fit... 12 x 400 = 4,800.
        var passed = 0
        while reserve(qty: 0.01, price: 40_000) == RL_OK { passed += 1 }
        XCTAssertEqual(passed, 12)
        XCTAssertEqual(reserve(qty: 0.01, price: 40_000), RL_REJECT_SYMBOL_LIMIT)
        XCTAssertEqual(view(engine, 0).working_buy, fp(0.12))
        // Each one alone is far inside the limit.
        XCTAssertEqual(rl_position_table_check(table, rl_engine_freeze(engine), 1, RL_SIDE_BUY, fp(0.01), fp(40_000), false), RL_OK)
    }

    func testWorstCaseCountsBothSidesOfWorkingOrders() {
        // Long 0.1 at 40k = $4,000. A working sell of 0.2 makes the short side -0.1 (=$4,000).
        XCTAssertEqual(step(engine, [event(RL_EVENT_POSITION_ADJUST, qty: fp(0.1), price: fp(40_000))]).invalid, 0)
        XCTAssertEqual(reserve(0, RL_SIDE_SELL, qty: 0.2, price: 40_000), RL_OK)
        // Another sell of 0.03 pushes the short worst case to -0.13 = $5,200.
        XCTAssertEqual(reserve(0, RL_SIDE_SELL, qty: 0.03, price: 40_000), RL_REJECT_SYMBOL_LIMIT)
        // A buy of 0.03: long worst 0.13 = $5,200, also blocked.
        XCTAssertEqual(reserve(0, RL_SIDE_BUY, qty: 0.03, price: 40_000), RL_REJECT_SYMBOL_LIMIT)
        XCTAssertEqual(reserve(0, RL_SIDE_BUY, qty: 0.02, price: 40_000), RL_OK)
    }

    func testTotalLimitBlocksAcrossSymbols() {
        XCTAssertEqual(reserve(0, qty: 0.1, price: 40_000), RL_OK)   // 4,000
        XCTAssertEqual(reserve(1, qty: 2, price: 2_000), RL_OK)      // 4,000
        XCTAssertEqual(reserve(2, qty: 30, price: 100), RL_OK)       // 3,000
        XCTAssertEqual(reserve(2, qty: 11, price: 100), RL_REJECT_TOTAL_LIMIT) // 12,100 > 12,000
        XCTAssertEqual(view(engine, 2).working_buy, fp(30), "a blocked order reserves nothing")
        XCTAssertEqual(rl_position_table_total(table), fp(11_000))
        XCTAssertEqual(reserve(2, qty: 10, price: 100), RL_OK)       // exactly 12,000
    }

    func testBlockedInputsChangeNothing() {
        XCTAssertEqual(reserve(qty: 0.05, price: 40_000), RL_OK)
        let before = view(engine, 0)
        let total = rl_position_table_total(table)
        var q: Int64 = 0
        var p: Int64 = 0
        let cases: [(Double, Double, UInt32, rl_side_t, rl_result_t)] = [
            (.nan, 100, 0, RL_SIDE_BUY, RL_REJECT_INVALID_QTY),
            (1, .nan, 0, RL_SIDE_BUY, RL_REJECT_INVALID_PRICE),
            (.infinity, 100, 0, RL_SIDE_BUY, RL_REJECT_INVALID_QTY),
            (1, -.infinity, 0, RL_SIDE_BUY, RL_REJECT_INVALID_PRICE),
            (0, 100, 0, RL_SIDE_BUY, RL_REJECT_INVALID_QTY),
            (-1, 100, 0, RL_SIDE_BUY, RL_REJECT_INVALID_QTY),
            (1, 0, 0, RL_SIDE_BUY, RL_REJECT_INVALID_PRICE),
            (1, -5, 0, RL_SIDE_BUY, RL_REJECT_INVALID_PRICE),
            (1, 100, 99, RL_SIDE_BUY, RL_REJECT_UNKNOWN_SYMBOL),
            (1e12, 100, 0, RL_SIDE_BUY, RL_REJECT_OVERFLOW),
            (9e10, 9e10, 0, RL_SIDE_BUY, RL_REJECT_OVERFLOW),
            (1, 100, 0, rl_side_t(7), RL_REJECT_INVALID_SIDE),
        ]
        for (qty, price, symbol, side, expected) in cases {
            XCTAssertEqual(rl_engine_check_f64(engine, symbol, side, qty, price, true, &q, &p), expected,
                           "qty \(qty) price \(price) symbol \(symbol)")
        }
        let after = view(engine, 0)
        XCTAssertEqual([after.position, after.working_buy, after.working_sell, after.exposure],
                       [before.position, before.working_buy, before.working_sell, before.exposure])
        XCTAssertEqual(rl_position_table_total(table), total)
    }

    func testFrozenEngineBlocksEveryOrder() {
        step(engine, [event(RL_EVENT_POSITION_ADJUST, qty: fp(0.1), price: fp(40_000))])
        XCTAssertEqual(rl_engine_apply_control(engine, RL_CONTROL_MANUAL_FREEZE, RL_SYMBOL_NONE, 0, 0), 0)
        XCTAssertEqual(reserve(qty: 0.01, price: 100), RL_FROZEN)
        XCTAssertEqual(reserve(0, RL_SIDE_SELL, qty: 0.05, price: 40_000), RL_FROZEN, "even an order that reduces")
        XCTAssertEqual(view(engine, 0).working_buy, 0)
    }

    func testDryRunCheckReservesNothing() {
        XCTAssertEqual(rl_position_table_check(table, rl_engine_freeze(engine), 0, RL_SIDE_BUY, fp(0.1), fp(40_000), false), RL_OK)
        XCTAssertEqual(view(engine, 0).working_buy, 0)
        XCTAssertEqual(rl_position_table_total(table), 0)
        XCTAssertEqual(rl_position_table_check(table, rl_engine_freeze(engine), 0, RL_SIDE_BUY, fp(0.2), fp(40_000), false),
                       RL_REJECT_SYMBOL_LIMIT)
    }

    func testPerSymbolLimitOverridesTheDefault() {
        XCTAssertEqual(rl_engine_apply_control(engine, RL_CONTROL_SET_SYMBOL_LIMIT, 1, fp(1_000), 0), 0)
        XCTAssertEqual(reserve(1, qty: 0.6, price: 2_000), RL_REJECT_SYMBOL_LIMIT)
        XCTAssertEqual(reserve(1, qty: 0.5, price: 2_000), RL_OK)
    }

    func testTheTotalIsExactAtRestOnceTheRiskSideHasSeenEveryReservation() {
        // A market maker: 0.05 bid and 0.05 offered. The worst case is 0.05, not 0.1.
        XCTAssertEqual(reserve(0, RL_SIDE_BUY, qty: 0.05, price: 40_000), RL_OK)
        XCTAssertEqual(reserve(0, RL_SIDE_SELL, qty: 0.05, price: 40_000), RL_OK)
        XCTAssertGreaterThanOrEqual(rl_position_table_total(table), trueExposure(engine), "never below")
        step(engine, [event(RL_EVENT_ORDER_ACCEPTED, qty: fp(0.05), price: fp(40_000))])
        XCTAssertEqual(rl_position_table_total(table), fp(2_000))
        XCTAssertEqual(trueExposure(engine), fp(2_000))
    }
}

final class SymbolRegistryTests: XCTestCase {
    func testMapsNamesToDenseIdsAndBack() {
        let engine = makeEngine(symbols: [], capacity: 3)
        defer { rl_engine_destroy(engine) }
        XCTAssertEqual(rl_engine_add_symbol(engine, "BTCUSDT", 0), 0)
        XCTAssertEqual(rl_engine_add_symbol(engine, "ETHUSDT", 0), 1)
        XCTAssertEqual(rl_engine_symbol_id(engine, "ETHUSDT"), 1)
        XCTAssertEqual(String(cString: rl_engine_symbol_name(engine, 0)), "BTCUSDT")
        XCTAssertEqual(rl_engine_symbol_id(engine, "DOGEUSDT"), Int64(-ENOENT))
        XCTAssertNil(rl_engine_symbol_name(engine, 2))
    }

    func testRejectsDuplicatesBadNamesAndAFullRegistry() {
        let engine = makeEngine(symbols: [], capacity: 2)
        defer { rl_engine_destroy(engine) }
        XCTAssertEqual(rl_engine_add_symbol(engine, "A", 0), 0)
        XCTAssertEqual(rl_engine_add_symbol(engine, "A", 0), Int64(-EEXIST))
        XCTAssertEqual(rl_engine_add_symbol(engine, "", 0), Int64(-EINVAL))
        XCTAssertEqual(rl_engine_add_symbol(engine, "HAS SPACE", 0), Int64(-EINVAL))
        XCTAssertEqual(rl_engine_add_symbol(engine, String(repeating: "X", count: 32), 0), Int64(-EINVAL))
        XCTAssertEqual(rl_engine_add_symbol(engine, "B", -5), Int64(-EINVAL))
        XCTAssertEqual(rl_engine_add_symbol(engine, "B", 0), 1)
        XCTAssertEqual(rl_engine_add_symbol(engine, "C", 0), Int64(-ENOSPC))
        XCTAssertEqual(rl_engine_symbol_count(engine), 2)
    }

    func testHoldsTheDefaultCapacityOf4096() {
        let engine = makeEngine(symbols: [])
        defer { rl_engine_destroy(engine) }
        for i in 0..<4096 { XCTAssertEqual(rl_engine_add_symbol(engine, "S\(i)", 0), Int64(i)) }
        XCTAssertEqual(rl_engine_add_symbol(engine, "ONE_MORE", 0), Int64(-ENOSPC))
        XCTAssertEqual(rl_engine_symbol_id(engine, "S4095"), 4095)
    }
}
