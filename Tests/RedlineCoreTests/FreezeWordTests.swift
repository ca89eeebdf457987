import RedlineCore
import XCTest

final class FreezeWordTests: XCTestCase {
    func testPacksStateReasonAndEpochInOneWord() {
        let word = rl_freeze_pack(UInt64(RL_STATE_HALTED.rawValue), UInt64(RL_FREEZE_REASON_MANUAL.rawValue), 12345)
        XCTAssertEqual(rl_freeze_word_state(word), RL_STATE_HALTED)
        XCTAssertEqual(rl_freeze_word_reason(word), RL_FREEZE_REASON_MANUAL)
        XCTAssertEqual(rl_freeze_word_epoch(word), 12345)
    }
}

/// The pure machine (rl_trading.h): every row of its table.
final class TradingStateMachineTests: XCTestCase {
    private let active = RL_STATE_ACTIVE, halted = RL_STATE_HALTED, reducing = RL_STATE_REDUCING

    private func machine(_ state: rl_trading_state_t, _ reason: rl_freeze_reason_t = RL_FREEZE_REASON_NONE,
                         breached: Bool = false, reconciling: Bool = false) -> rl_trading_t {
        rl_trading_t(state: UInt8(state.rawValue), reason: UInt8(reason.rawValue), breached: breached,
                     reconciling: reconciling)
    }

    private func assertNext(_ now: rl_trading_t, _ input: rl_trading_input_t, _ state: rl_trading_state_t,
                            _ reason: rl_freeze_reason_t?, publish: Bool, breached: Bool? = nil,
                            file: StaticString = #filePath, line: UInt = #line) {
        let t = rl_trading_next(now, input)
        XCTAssertEqual(t.next.state, UInt8(state.rawValue), "state", file: file, line: line)
        if let reason { XCTAssertEqual(t.next.reason, UInt8(reason.rawValue), "reason", file: file, line: line) }
        XCTAssertEqual(t.publish, publish, "publish", file: file, line: line)
        if let breached { XCTAssertEqual(t.next.breached, breached, "breached", file: file, line: line) }
    }

    func testFreezesFromActiveAndReducing() {
        assertNext(machine(active), RL_TRADING_EDGE_COLLAPSE, halted, RL_FREEZE_REASON_EDGE_COLLAPSE, publish: true)
        assertNext(machine(active), RL_TRADING_MANUAL_FREEZE, halted, RL_FREEZE_REASON_MANUAL, publish: true)
        assertNext(machine(reducing, breached: true), RL_TRADING_MANUAL_FREEZE, halted, RL_FREEZE_REASON_MANUAL,
                   publish: true, breached: true)
        assertNext(machine(reducing, breached: true), RL_TRADING_EDGE_COLLAPSE, halted, RL_FREEZE_REASON_EDGE_COLLAPSE,
                   publish: true, breached: true)
    }

    func testAnUnrecordableFillHaltsAndOnlyAnOperatorLiftsIt() {
        assertNext(machine(active), RL_TRADING_UNRECORDABLE, halted, RL_FREEZE_REASON_UNRECORDABLE, publish: true)
        assertNext(machine(reducing, breached: true), RL_TRADING_UNRECORDABLE, halted, RL_FREEZE_REASON_UNRECORDABLE,
                   publish: true)
        assertNext(machine(halted, RL_FREEZE_REASON_UNRECORDABLE), RL_TRADING_CIRCUIT_BREAKER, halted,
                   RL_FREEZE_REASON_UNRECORDABLE, publish: false)
        assertNext(machine(halted, RL_FREEZE_REASON_UNRECORDABLE), RL_TRADING_UNFREEZE, active,
                   RL_FREEZE_REASON_MANUAL, publish: true)
    }

    func testOrdersInDoubtHoldReducingUntilReconciledEvenWhenLimitsClear() {
        var now = rl_trading_next(machine(active), RL_TRADING_RECONCILE_PENDING)
        XCTAssertTrue(now.publish)
        XCTAssertEqual(now.next.state, UInt8(reducing.rawValue))
        XCTAssertEqual(now.next.reason, UInt8(RL_FREEZE_REASON_RECONCILING.rawValue))
        XCTAssertFalse(rl_trading_next(now.next, RL_TRADING_LIMITS_CLEARED).publish, "the limits do not end it")
        // A halt meanwhile resumes into REDUCING, not ACTIVE.
        now = rl_trading_next(now.next, RL_TRADING_MANUAL_FREEZE)
        assertNext(now.next, RL_TRADING_UNFREEZE, reducing, RL_FREEZE_REASON_RECONCILING, publish: true)
        now = rl_trading_next(now.next, RL_TRADING_UNFREEZE)
        assertNext(now.next, RL_TRADING_RECONCILED, active, RL_FREEZE_REASON_RECONCILED, publish: true)
        // With a limit still breached, reconciling ends but REDUCING does not.
        assertNext(machine(reducing, RL_FREEZE_REASON_LIMIT_VIOLATION, breached: true, reconciling: true),
                   RL_TRADING_RECONCILED, reducing, RL_FREEZE_REASON_LIMIT_VIOLATION, publish: false)
    }

    func testFreezingAFrozenEngineChangesNothing() {
        let frozen = machine(halted, RL_FREEZE_REASON_EDGE_COLLAPSE)
        assertNext(frozen, RL_TRADING_MANUAL_FREEZE, halted, RL_FREEZE_REASON_EDGE_COLLAPSE, publish: false)
        assertNext(frozen, RL_TRADING_EDGE_COLLAPSE, halted, RL_FREEZE_REASON_EDGE_COLLAPSE, publish: false)
    }

    func testLimitBreachReducesAndClearingResumes() {
        assertNext(machine(active), RL_TRADING_LIMIT_BREACH, reducing, RL_FREEZE_REASON_LIMIT_VIOLATION, publish: true,
                   breached: true)
        assertNext(machine(reducing, breached: true), RL_TRADING_LIMIT_BREACH, reducing, nil, publish: false)
        assertNext(machine(reducing, breached: true), RL_TRADING_LIMITS_CLEARED, active, RL_FREEZE_REASON_LIMITS_CLEARED,
                   publish: true, breached: false)
        assertNext(machine(active), RL_TRADING_LIMITS_CLEARED, active, nil, publish: false)
    }

    func testAnOperatorUnfreezeDoesNotEndReducing() {
        assertNext(machine(reducing, breached: true), RL_TRADING_UNFREEZE, reducing, nil, publish: false)
        assertNext(machine(active), RL_TRADING_UNFREEZE, active, nil, publish: false)
    }

    func testAHaltRemembersABreachAndResumesIntoReducing() {
        var now = rl_trading_next(machine(halted, RL_FREEZE_REASON_MANUAL), RL_TRADING_LIMIT_BREACH)
        XCTAssertFalse(now.publish)
        XCTAssertTrue(now.next.breached)
        assertNext(now.next, RL_TRADING_UNFREEZE, reducing, RL_FREEZE_REASON_LIMIT_VIOLATION, publish: true)
        now = rl_trading_next(now.next, RL_TRADING_LIMITS_CLEARED)
        assertNext(now.next, RL_TRADING_UNFREEZE, active, RL_FREEZE_REASON_MANUAL, publish: true)
    }

    func testACircuitBreakerLiftsOnlyATransientHalt() {
        assertNext(machine(halted, RL_FREEZE_REASON_HEARTBEAT_LOST), RL_TRADING_CIRCUIT_BREAKER, active,
                   RL_FREEZE_REASON_CIRCUIT_BREAKER, publish: true)
        for persistent in [RL_FREEZE_REASON_EDGE_COLLAPSE, RL_FREEZE_REASON_MANUAL, RL_FREEZE_REASON_JOURNAL_FAILURE,
                           RL_FREEZE_REASON_UNRECORDABLE, RL_FREEZE_REASON_BREAKER_ESCALATED] {
            XCTAssertEqual(rl_freeze_reason_class(persistent), RL_REASON_CLASS_PERSISTENT)
            assertNext(machine(halted, persistent), RL_TRADING_CIRCUIT_BREAKER, halted, persistent, publish: false)
        }
    }

    func testTheBreakerDoublesWithinTheWindowCapsEscalatesAndStartsOverOutsideIt() {
        var b = rl_breaker_t()
        b.config = rl_breaker_config_t(cooldown_ns: 10, max_cooldown_ns: 35, window_ns: 100, escalate_after: 6, reserved: 0)
        var cooldowns: [UInt64] = []
        var now: UInt64 = 1_000
        for _ in 0..<5 {
            XCTAssertEqual(rl_breaker_trip(&b, now), RL_BREAKER_COOLDOWN)
            cooldowns.append(b.cooldown_ns)
            XCTAssertEqual(rl_breaker_tick(&b, now + b.cooldown_ns - 1), RL_BREAKER_NOTHING)
            now += b.cooldown_ns
            XCTAssertEqual(rl_breaker_tick(&b, now), RL_BREAKER_LIFT)
            XCTAssertEqual(rl_breaker_tick(&b, now + 1), RL_BREAKER_NOTHING, "one lift per trip")
        }
        XCTAssertEqual(cooldowns, [10, 20, 35, 35, 35], "doubling, capped")
        XCTAssertEqual(rl_breaker_trip(&b, now), RL_BREAKER_ESCALATE, "the 6th in a row")
        XCTAssertEqual(rl_breaker_tick(&b, now + 1_000), RL_BREAKER_NOTHING, "an escalated halt is not lifted")
        XCTAssertEqual(rl_breaker_trip(&b, now + 1_000), RL_BREAKER_COOLDOWN, "outside the window: a first trip again")
        XCTAssertEqual(b.cooldown_ns, 10)
        rl_breaker_cancel(&b)
        XCTAssertEqual(rl_breaker_tick(&b, now + 5_000), RL_BREAKER_NOTHING)
        // Long streaks do not overflow the doubling.
        b.config = rl_breaker_config_t(cooldown_ns: 1 << 40, max_cooldown_ns: UInt64.max, window_ns: UInt64.max,
                                       escalate_after: 1_000, reserved: 0)
        for i in 0..<200 { XCTAssertEqual(rl_breaker_trip(&b, 1 + UInt64(i)), RL_BREAKER_COOLDOWN) }
        XCTAssertGreaterThanOrEqual(b.cooldown_ns, 1 << 40)
        var bad = rl_breaker_config_t(cooldown_ns: 5, max_cooldown_ns: 4, window_ns: 1, escalate_after: 1, reserved: 0)
        XCTAssertEqual(rl_breaker_config_check(&bad), -EINVAL)
        // A window shorter than the cooldown before the last repeat: trips are a
        // cooldown apart, so no trip could be a repeat and nothing would escalate.
        var short = rl_breaker_config_t(cooldown_ns: 1_000, max_cooldown_ns: 60_000, window_ns: 5_000, escalate_after: 5,
                                        reserved: 0)
        XCTAssertEqual(rl_breaker_config_check(&short), -EINVAL, "the 4th cooldown is 8,000 > 5,000")
        short.window_ns = 8_000
        XCTAssertEqual(rl_breaker_config_check(&short), 0)
        // A clock that went back counts as a repeat (towards escalation, never away from it).
        var back = rl_breaker_t()
        back.config = short
        XCTAssertEqual(rl_breaker_trip(&back, 1_000_000), RL_BREAKER_COOLDOWN)
        XCTAssertEqual(rl_breaker_trip(&back, 500_000), RL_BREAKER_COOLDOWN)
        XCTAssertEqual(back.streak, 2)
    }

    func testAPersistentTriggerTakesOverATransientHaltAndEscalationOnlyAppliesToATransientOne() {
        assertNext(machine(halted, RL_FREEZE_REASON_HEARTBEAT_LOST), RL_TRADING_MANUAL_FREEZE, halted,
                   RL_FREEZE_REASON_MANUAL, publish: true)
        assertNext(machine(halted, RL_FREEZE_REASON_MANUAL), RL_TRADING_HEARTBEAT_LOST, halted,
                   RL_FREEZE_REASON_MANUAL, publish: false)
        assertNext(machine(active, RL_FREEZE_REASON_NONE), RL_TRADING_HEARTBEAT_LOST, halted,
                   RL_FREEZE_REASON_HEARTBEAT_LOST, publish: true)
        assertNext(machine(halted, RL_FREEZE_REASON_HEARTBEAT_LOST), RL_TRADING_BREAKER_ESCALATE, halted,
                   RL_FREEZE_REASON_BREAKER_ESCALATED, publish: true)
        assertNext(machine(halted, RL_FREEZE_REASON_EDGE_COLLAPSE), RL_TRADING_BREAKER_ESCALATE, halted,
                   RL_FREEZE_REASON_EDGE_COLLAPSE, publish: false)
    }
}

/// The controller (rl_engine.c): the only writer of the freeze word.
final class TradingControllerTests: XCTestCase {
    func testEveryPublishedChangeBumpsTheEpochAndTheBookGenerationAndIsRecorded() {
        let engine = makeEngine()
        defer { rl_engine_destroy(engine) }
        let generation = rl_position_table_generation(rl_engine_table(engine))
        XCTAssertEqual(rl_engine_apply_control(engine, RL_CONTROL_MANUAL_FREEZE, RL_SYMBOL_NONE, 0, 7), 0)
        XCTAssertEqual(rl_engine_apply_control(engine, RL_CONTROL_MANUAL_FREEZE, RL_SYMBOL_NONE, 0, 8), 0)
        XCTAssertEqual(state(engine), RL_STATE_HALTED)
        XCTAssertEqual(rl_freeze_word_epoch(rl_freeze_load(rl_engine_freeze(engine))), 1, "the second freeze changed nothing")
        XCTAssertEqual(rl_position_table_generation(rl_engine_table(engine)), generation + 1)
        XCTAssertEqual(rl_engine_apply_control(engine, RL_CONTROL_UNFREEZE, RL_SYMBOL_NONE, 0, 9), 0)
        XCTAssertEqual(state(engine), RL_STATE_ACTIVE)
        var record = rl_event_t()
        var records: [rl_event_t] = []
        while rl_spsc_pop(rl_engine_state_ring(engine), &record) == RL_OK { records.append(record) }
        XCTAssertEqual(records.map { rl_freeze_word_epoch($0.order_id) }, [1, 2])
        XCTAssertEqual(records.map(\.value), [7, 9], "each record names the request that caused it")
        XCTAssertEqual(records.map { UInt32($0.side) }, [RL_TRADING_MANUAL_FREEZE.rawValue, RL_TRADING_UNFREEZE.rawValue])
    }

    func testRestoringTradingNeverMovesTheEpochBackwards() {
        let engine = makeEngine()
        defer { rl_engine_destroy(engine) }
        let newer = rl_freeze_pack(UInt64(RL_STATE_HALTED.rawValue), UInt64(RL_FREEZE_REASON_MANUAL.rawValue), 5)
        XCTAssertTrue(rl_engine_restore_trading(engine, newer))
        let older = rl_freeze_pack(UInt64(RL_STATE_ACTIVE.rawValue), 0, 3)
        XCTAssertFalse(rl_engine_restore_trading(engine, older))
        XCTAssertEqual(rl_freeze_load(rl_engine_freeze(engine)), newer)
    }

    func testBadRequestsAreRefusedAndChangeNothing() {
        let engine = makeEngine(symbolLimit: 5_000, maxTotal: 20_000)
        defer { rl_engine_destroy(engine) }
        XCTAssertEqual(rl_engine_apply_control(engine, RL_CONTROL_SET_SYMBOL_LIMIT, 42, fp(1_000), 0), -ENOENT)
        XCTAssertEqual(rl_engine_apply_control(engine, RL_CONTROL_SET_SYMBOL_LIMIT, 0, 0, 0), -EINVAL)
        XCTAssertEqual(rl_engine_apply_control(engine, RL_CONTROL_SET_SYMBOL_LIMIT, 0, fp(30_000), 0), -EINVAL,
                       "a symbol limit above the book's")
        XCTAssertEqual(rl_engine_apply_control(engine, RL_CONTROL_SET_MAX_TOTAL, RL_SYMBOL_NONE, fp(1_000), 0), -EINVAL,
                       "a book limit under a symbol's")
        XCTAssertEqual(rl_engine_apply_control(engine, RL_CONTROL_SET_RESUME_SHARE, RL_SYMBOL_NONE, 2 * S, 0), -EINVAL)
        XCTAssertEqual(rl_position_table_limit(rl_engine_table(engine), 0), fp(5_000))
        XCTAssertEqual(rl_position_table_max_total(rl_engine_table(engine)), fp(20_000))
    }

    func testRaisingALimitDirectlyLeavesReducingAtOnce() {
        let engine = makeEngine(symbolLimit: 5_000, maxTotal: 20_000)
        defer { rl_engine_destroy(engine) }
        // Long 0.1 BTC at $40,000 ($4,000), then the limit is lowered under it.
        step(engine, [event(RL_EVENT_POSITION_ADJUST, qty: fp(0.1), price: fp(40_000))])
        XCTAssertEqual(rl_engine_apply_control(engine, RL_CONTROL_SET_SYMBOL_LIMIT, 0, fp(3_000), 0), 0)
        XCTAssertEqual(state(engine), RL_STATE_REDUCING)
        // Raised again above it (and its resume share): ACTIVE now, with no further event.
        XCTAssertEqual(rl_engine_apply_control(engine, RL_CONTROL_SET_SYMBOL_LIMIT, 0, fp(5_000), 0), 0)
        XCTAssertEqual(state(engine), RL_STATE_ACTIVE)
    }

    func testTheBookLimitMayGoUnderTheInventoryLimitTheEngineWasCreatedWith() {
        let engine = makeEngine(symbolLimit: 10_000, maxTotal: 50_000)
        defer { rl_engine_destroy(engine) }
        for id in UInt32(0)..<3 {
            XCTAssertEqual(rl_engine_apply_control(engine, RL_CONTROL_SET_SYMBOL_LIMIT, id, fp(1_000), 0), 0)
        }
        XCTAssertEqual(rl_engine_apply_control(engine, RL_CONTROL_SET_MAX_TOTAL, RL_SYMBOL_NONE, fp(5_000), 0), 0)
        XCTAssertEqual(rl_position_table_max_total(rl_engine_table(engine)), fp(5_000))
        // A symbol added later without a limit of its own gets the default, capped at the book's.
        let id = rl_engine_add_symbol(engine, "LATEUSDT", 0)
        XCTAssertGreaterThanOrEqual(id, 0)
        XCTAssertEqual(rl_position_table_limit(rl_engine_table(engine), UInt32(id)), fp(5_000))
    }

    func testAMarkThatWouldSaturateTheBookIsRefusedAndChangesNothing() {
        let engine = makeEngine()
        defer { rl_engine_destroy(engine) }
        step(engine, [event(RL_EVENT_POSITION_ADJUST, qty: fp(1), price: fp(40_000))])
        let before = view(engine, 0), totalBefore = total(engine)
        let result = step(engine, [event(RL_EVENT_MARK_PRICE, price: fp(9e10))])
        XCTAssertEqual(result.invalid, 1)
        XCTAssertEqual(view(engine, 0).mark, before.mark)
        XCTAssertEqual(total(engine), totalBefore)
        // An adjustment that would value a side at the cap is refused the same way.
        XCTAssertEqual(step(engine, [event(RL_EVENT_POSITION_ADJUST, qty: fp(1), price: fp(9e10))]).invalid, 1)
        XCTAssertEqual(view(engine, 0).position, fp(1))
    }

    func testCreateAppliesTheSameLimitRule() {
        var engine: OpaquePointer?
        var config = rl_engine_config_t(symbol_capacity: 0, default_symbol_limit: fp(30_000), max_total: fp(20_000),
                                        edge_freeze_threshold_bps: 0, resume_share: 0, manual_clock: 0, reserved: 0)
        XCTAssertEqual(rl_engine_create(&config, &engine), -EINVAL, "a symbol limit above the book's")
        XCTAssertEqual(rl_limits_check(fp(30_000), fp(20_000), 0, fp(0.95)), RL_LIMITS_SYMBOL_ABOVE_TOTAL)
        XCTAssertEqual(rl_limits_check(fp(5_000), fp(20_000), fp(-50), fp(0.95)), RL_LIMITS_OK, "a negative threshold is a valid one")
    }
}
