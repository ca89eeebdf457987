import Glibc
import RedlineCore
import Synchronization
import XCTest

/// The per-order rules of rl_order_rules.h on the C hot path: each rule at
/// its boundary, the way out for reducing orders, validation, the staged
/// publish through the risk side's ring, and a race against a publish.
final class OrderRulesTests: XCTestCase {
    private var engine: OpaquePointer!

    override func setUp() {
        engine = makeEngine(symbolLimit: 1_000_000, maxTotal: 10_000_000, manualClock: true)
        XCTAssertEqual(rl_engine_set_clock(engine, 1_000_000_000), 0)
    }

    override func tearDown() { rl_engine_destroy(engine) }

    private func rules(qty: Double = 0, notional: Double = 0, collarBps: Double = 0, staleNs: Int64 = 0,
                       flags: rl_order_rules_flag_t...) -> rl_order_rules_t {
        rl_order_rules_t(max_order_qty: qty == 0 ? 0 : fp(qty), max_order_notional: notional == 0 ? 0 : fp(notional),
                         collar_bps: collarBps == 0 ? 0 : fp(collarBps), stale_after_ns: staleNs,
                         flags: flags.reduce(0) { $0 | $1.rawValue }, max_working_orders: 0)
    }

    private func set(_ r: rl_order_rules_t, symbol: UInt32 = 0) {
        var r = r
        XCTAssertEqual(rl_engine_set_order_rules(engine, symbol, &r), 0)
    }

    private func reserve(_ side: rl_side_t, _ qty: Double, _ price: Double, symbol: UInt32 = 0) -> rl_result_t {
        rl_engine_reserve(engine, symbol, side, fp(qty), fp(price))
    }

    private func mark(_ price: Double, symbol: UInt32 = 0) {
        XCTAssertEqual(step(engine, [event(RL_EVENT_MARK_PRICE, symbol: symbol, price: fp(price))]).invalid, 0)
    }

    func testASymbolRegisteredWithNoRuleInUseIsOpen() {
        let id = rl_engine_add_symbol(engine, "PLAIN", 0)
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 1, symbol: UInt32(id)), RL_OK)
    }

    func testEveryRuleIsOffOnAFreshEngine() {
        var r = rl_order_rules_t()
        XCTAssertEqual(rl_engine_order_rules(engine, 0, &r), 0)
        XCTAssertEqual(r.max_order_qty, 0)
        XCTAssertEqual(r.collar_bps, 0)
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1_000, 900), RL_OK, "no mark, no collar: the limits alone decide")
    }

    func testMaximumQuantityPerOrderBlocksAboveAndPassesAtTheBound() {
        set(rules(qty: 10))
        XCTAssertEqual(reserve(RL_SIDE_BUY, 10.00000001, 1), RL_REJECT_ORDER_QTY)
        XCTAssertEqual(view(engine, 0).working_buy, 0, "a blocked order reserves nothing")
        XCTAssertEqual(reserve(RL_SIDE_BUY, 10, 1), RL_OK)
        XCTAssertEqual(reserve(RL_SIDE_BUY, 10, 1, symbol: 1), RL_OK, "another symbol keeps its own (off) rules")
        XCTAssertEqual(reserve(RL_SIDE_BUY, 11, 1, symbol: 1), RL_OK)
    }

    func testMaximumNotionalPerOrderIsQuantityTimesPrice() {
        set(rules(notional: 5_000))
        XCTAssertEqual(reserve(RL_SIDE_BUY, 50, 100), RL_OK, "exactly 5,000")
        XCTAssertEqual(reserve(RL_SIDE_BUY, 50, 100.00000001), RL_REJECT_ORDER_NOTIONAL)
        XCTAssertEqual(reserve(RL_SIDE_SELL, 51, 100), RL_REJECT_ORDER_NOTIONAL, "sells too")
    }

    func testPriceCollarAroundTheMark() {
        set(rules(collarBps: 100))  // 1%
        mark(100)
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 101), RL_OK, "a buy at mark + 1%")
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 101.00000001), RL_REJECT_PRICE_COLLAR, "a buy above it")
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 50), RL_OK, "a buy far below the mark is no fat finger")
        XCTAssertEqual(reserve(RL_SIDE_SELL, 1, 99), RL_OK, "a sell at mark - 1%")
        XCTAssertEqual(reserve(RL_SIDE_SELL, 1, 98.99999999), RL_REJECT_PRICE_COLLAR, "a sell below it")
        XCTAssertEqual(reserve(RL_SIDE_SELL, 1, 500), RL_OK)
        mark(200)
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 150), RL_OK, "the collar follows the mark")
        XCTAssertEqual(reserve(RL_SIDE_SELL, 1, 150), RL_REJECT_PRICE_COLLAR)
    }

    func testNoReferencePriceBlocksUnlessAllowFirst() {
        set(rules(collarBps: 100))
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 100), RL_REJECT_NO_REFERENCE_PRICE, "block is the default")
        set(rules(collarBps: 100, flags: RL_RULES_ALLOW_NO_REFERENCE))
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 100), RL_OK, "allow-first")
        mark(100)
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 120), RL_REJECT_PRICE_COLLAR, "once marked, the collar applies")
        set(rules(staleNs: 1_000, flags: RL_RULES_ALLOW_NO_REFERENCE), symbol: 1)
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 100, symbol: 1), RL_OK, "staleness with no mark: the same policy")
        set(rules(staleNs: 1_000), symbol: 1)
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 100, symbol: 1), RL_REJECT_NO_REFERENCE_PRICE)
    }

    func testStalePriceByTheEnginesClock() {
        set(rules(staleNs: 500_000_000))
        mark(100)  // at 1.0 s
        XCTAssertEqual(rl_engine_set_clock(engine, 1_500_000_000), 0)
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 100), RL_OK, "exactly 500 ms old")
        XCTAssertEqual(rl_engine_set_clock(engine, 1_500_000_001), 0)
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 100), RL_REJECT_STALE_PRICE)
        // A fill is a price seen now too.
        XCTAssertEqual(step(engine, [event(RL_EVENT_FILL, qty: fp(1), price: fp(100))]).invalid, 0)
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 100), RL_OK)
        let tsc = makeEngine()
        defer { rl_engine_destroy(tsc) }
        XCTAssertEqual(rl_engine_set_clock(tsc, 5), -EINVAL, "a TSC engine's clock is not for setting")
    }

    func testAReplayedMarkIsStaleUntilAFreshOne() {
        set(rules(staleNs: 500_000_000))
        var mark = event(RL_EVENT_MARK_PRICE, price: fp(100))
        XCTAssertTrue(rl_engine_replay_event(engine, &mark))
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 100), RL_REJECT_STALE_PRICE, "history is not a price seen now")
        self.mark(100)
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 100), RL_OK)
    }

    func testRestrictedSymbolBlocksNewRiskButNotTheWayOut() {
        mark(100)
        XCTAssertEqual(step(engine, [event(RL_EVENT_POSITION_ADJUST, qty: fp(10), price: fp(100))]).invalid, 0)
        set(rules(flags: RL_RULES_RESTRICTED))
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 100), RL_REJECT_RESTRICTED)
        XCTAssertEqual(reserve(RL_SIDE_SELL, 5, 100), RL_OK, "selling down a long position is the way out")
        set(rules())
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 100), RL_OK, "lifted at runtime")
    }

    func testAReducingOrderPassesEveryRule() {
        mark(100)
        XCTAssertEqual(step(engine, [event(RL_EVENT_POSITION_ADJUST, qty: fp(1_000), price: fp(100))]).invalid, 0)
        set(rules(qty: 1, notional: 10, collarBps: 1, staleNs: 1, flags: RL_RULES_RESTRICTED))
        XCTAssertEqual(rl_engine_set_clock(engine, 9_000_000_000), 0)
        XCTAssertEqual(reserve(RL_SIDE_SELL, 400, 10), RL_OK, "over size, notional, collar, stale and restricted")
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 100), RL_REJECT_RESTRICTED, "the same rules block a raising one")
    }

    func testValidationIsOneRuleAndABadSetChangesNothing() {
        func problem(_ r: rl_order_rules_t) -> rl_rules_problem_t { var r = r; return rl_order_rules_validate(&r) }
        XCTAssertEqual(problem(rules(qty: 1, notional: 1, collarBps: 10_000, staleNs: 1)), RL_RULES_OK)
        var r = rules(); r.max_order_qty = -1
        XCTAssertEqual(problem(r), RL_RULES_QTY_RANGE)
        r = rules(); r.max_order_notional = RL_FP_MAX_LIMIT + 1
        XCTAssertEqual(problem(r), RL_RULES_NOTIONAL_RANGE)
        r = rules(); r.collar_bps = fp(10_000) + 1
        XCTAssertEqual(problem(r), RL_RULES_COLLAR_RANGE)
        r = rules(); r.stale_after_ns = -5
        XCTAssertEqual(problem(r), RL_RULES_STALE_RANGE)
        r = rules(); r.flags = 1 << 7
        XCTAssertEqual(problem(r), RL_RULES_FLAGS)
        set(rules(qty: 10))
        r = rules(qty: 20); r.collar_bps = -1
        XCTAssertEqual(rl_engine_set_order_rules(engine, 0, &r), -EINVAL)
        XCTAssertEqual(reserve(RL_SIDE_BUY, 15, 1), RL_REJECT_ORDER_QTY, "the old rules stay")
        r = rules(qty: 20)
        XCTAssertEqual(rl_engine_set_order_rules(engine, 99, &r), -ENOENT)
    }

    func testDefaultsGoToSymbolsRegisteredLater() {
        set(rules(qty: 3), symbol: RL_SYMBOL_NONE)
        let id = rl_engine_add_symbol(engine, "LATER", 0)
        XCTAssertGreaterThanOrEqual(id, 0)
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 1, symbol: UInt32(id)), RL_REJECT_RESTRICTED,
                       "rules are in use: restricted until a publish gives it its rules (fail closed)")
        var defaults = rl_order_rules_t()
        XCTAssertEqual(rl_engine_order_rules(engine, RL_SYMBOL_NONE, &defaults), 0)
        XCTAssertEqual(rl_engine_set_order_rules(engine, RL_SYMBOL_NONE, &defaults), 0)
        XCTAssertEqual(reserve(RL_SIDE_BUY, 4, 1, symbol: UInt32(id)), RL_REJECT_ORDER_QTY, "then the defaults")
        XCTAssertEqual(reserve(RL_SIDE_BUY, 4, 1, symbol: 0), RL_OK, "registered symbols keep their own")
    }

    /// Through the risk side's ring, as a live engine changes them: staged
    /// fields are not in force until the publish; a bad set publishes nothing.
    func testStagedRulesTakeEffectAtThePublishAndABadStageIsDropped() {
        func control(_ c: rl_control_t, field: rl_rule_field_t = RL_RULE_FIELD_MAX_ORDER_QTY, value: Int64 = 0,
                     symbol: UInt32 = 0) -> rl_event_t {
            var e = event(RL_EVENT_CONTROL, symbol: symbol, qty: Int64(field.rawValue), value: value)
            e.side = UInt8(c.rawValue)
            return e
        }
        step(engine, [control(RL_CONTROL_STAGE_ORDER_RULE, value: fp(5)),
                      control(RL_CONTROL_STAGE_ORDER_RULE, field: RL_RULE_FIELD_FLAGS,
                              value: Int64(RL_RULES_RESTRICTED.rawValue), symbol: 1)])
        XCTAssertEqual(reserve(RL_SIDE_BUY, 6, 1), RL_OK, "staged only")
        XCTAssertEqual(step(engine, [control(RL_CONTROL_PUBLISH_ORDER_RULES)]).invalid, 0)
        XCTAssertEqual(reserve(RL_SIDE_BUY, 6, 1), RL_REJECT_ORDER_QTY)
        XCTAssertEqual(reserve(RL_SIDE_BUY, 1, 1, symbol: 1), RL_REJECT_RESTRICTED, "both in one publish")
        let bad = step(engine, [control(RL_CONTROL_STAGE_ORDER_RULE, value: fp(50)),
                                control(RL_CONTROL_STAGE_ORDER_RULE, field: RL_RULE_FIELD_COLLAR_BPS, value: -1),
                                control(RL_CONTROL_PUBLISH_ORDER_RULES)])
        XCTAssertEqual(bad.invalid, 1, "the publish is refused")
        XCTAssertEqual(reserve(RL_SIDE_BUY, 6, 1), RL_REJECT_ORDER_QTY, "nothing of the bad set")
        XCTAssertEqual(step(engine, [control(RL_CONTROL_PUBLISH_ORDER_RULES)]).invalid, 0)
        XCTAssertEqual(reserve(RL_SIDE_BUY, 6, 1), RL_REJECT_ORDER_QTY, "the staged set went back to the one in force")
        XCTAssertEqual(step(engine, [control(RL_CONTROL_STAGE_ORDER_RULE, field: rl_rule_field_t(rawValue: 9))]).invalid, 1)
        XCTAssertEqual(rl_engine_apply_control(engine, RL_CONTROL_STAGE_ORDER_RULE, 0, 1, 0), -EINVAL,
                       "a stage needs its field: rl_engine_set_order_rules sets rules whole")
    }

    /// Checkers race reservations while the rules are published restricted.
    /// Once the publish returns, no raising order may be accepted: a check
    /// that decided under the old rules fails its book CAS (its acceptance),
    /// so the book total, which a check raises only at acceptance, never rises
    /// again. Tests/C/interleavings.c (case 4) forces the straggler's
    /// interleaving deterministically; this races real threads at it.
    func testNoReservationIsAcceptedOnceARestrictionIsPublished() {
        for round in 0..<20 {
            let engine = makeEngine(symbolLimit: 1_000_000, maxTotal: 10_000_000, symbols: ["R"])
            defer { rl_engine_destroy(engine) }
            nonisolated(unsafe) let e = engine
            let published = Atomic<Bool>(false)
            let afterPublish = Atomic<Int>(0)
            let passed = Atomic<Int64>(0)
            let started = Atomic<Int>(0)
            let done = DispatchSemaphore(value: 0)
            for _ in 0..<2 {
                Thread.detachNewThread {
                    started.add(1, ordering: .releasing)
                    var checksAfter = 0
                    while checksAfter < 100_000 {
                        let seen = published.load(ordering: .acquiring)
                        if rl_engine_reserve(e, 0, RL_SIDE_BUY, S / 100, 1 * S) == RL_OK {
                            passed.add(1, ordering: .relaxed)
                            if seen { afterPublish.add(1, ordering: .relaxed) }
                        }
                        if seen { checksAfter += 1 }
                    }
                    done.signal()
                }
            }
            // The publisher: this thread, as the risk side.
            while started.load(ordering: .acquiring) < 2 { sched_yield() }
            // Until the checkers are reserving (bounded): on a busy host both may not have run yet.
            let deadline = DispatchTime.now().uptimeNanoseconds + 5_000_000_000
            while passed.load(ordering: .relaxed) == 0 && DispatchTime.now().uptimeNanoseconds < deadline { sched_yield() }
            for _ in 0..<(20 + round * 7) { sched_yield() }
            var r = rl_order_rules_t(max_order_qty: 0, max_order_notional: 0, collar_bps: 0, stale_after_ns: 0,
                                     flags: RL_RULES_RESTRICTED.rawValue, max_working_orders: 0)
            XCTAssertEqual(rl_engine_set_order_rules(e, 0, &r), 0)
            let totalAtPublish = total(e)
            published.store(true, ordering: .releasing)
            var highest = totalAtPublish
            while done.wait(timeout: .now()) == .timedOut { highest = max(highest, total(e)) }
            done.wait()
            XCTAssertLessThanOrEqual(max(highest, total(e)), totalAtPublish,
                                     "round \(round): a reservation was accepted after the publish returned")
            XCTAssertEqual(afterPublish.load(ordering: .relaxed), 0, "round \(round): an order passed a restriction in force")
            XCTAssertEqual(view(engine, 0).working_buy, passed.load(ordering: .relaxed) * (S / 100),
                           "every pass reserved exactly once")
            XCTAssertGreaterThan(passed.load(ordering: .relaxed), 0, "the checkers were reserving when the publish came")
        }
    }
}
