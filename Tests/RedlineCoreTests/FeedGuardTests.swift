import RedlineCore
import XCTest

/// The engine-wide transient guards on the risk side, driven through the C
/// API on the manual clock: a stale market-data feed (`stale_data`) and a
/// journal that fell behind (`journal_backpressure`) halt trading, and the
/// circuit breaker lifts them after its cooldown.
final class FeedGuardTests: XCTestCase {
    private var engine: OpaquePointer!
    private var ring: OpaquePointer!
    private var btc: UInt32 = 0

    override func setUp() {
        var config = rl_engine_config_t()
        config.symbol_capacity = 8
        config.default_symbol_limit = 1_000_000 * Int64(RL_FP_SCALE)
        config.max_total = 4_000_000 * Int64(RL_FP_SCALE)
        config.edge_freeze_threshold_bps = -1_000_000 * Int64(RL_FP_SCALE)
        config.manual_clock = 1
        var created: OpaquePointer?
        XCTAssertEqual(rl_engine_create(&config, &created), 0)
        engine = created
        btc = UInt32(rl_engine_add_symbol(engine, "BTCUSDT", 0))
        var r: OpaquePointer?
        XCTAssertEqual(rl_spsc_create(1024, &r), 0)
        ring = r
        var breaker = rl_breaker_config_t(cooldown_ns: 1_000_000_000, max_cooldown_ns: 4_000_000_000,
                                          window_ns: 60_000_000_000, escalate_after: 3, reserved: 0)
        XCTAssertEqual(rl_engine_set_breaker(engine, &breaker), 0)
    }

    override func tearDown() {
        rl_spsc_destroy(ring)
        rl_engine_destroy(engine)
    }

    private var state: rl_trading_state_t { rl_freeze_word_state(rl_freeze_load(rl_engine_freeze(engine))) }
    private var reason: rl_freeze_reason_t { rl_freeze_word_reason(rl_freeze_load(rl_engine_freeze(engine))) }

    /// Move the clock to `ms` and run one step (with `events` in the ring first).
    private func at(_ ms: Double, _ events: [rl_event_t] = []) {
        XCTAssertEqual(rl_engine_set_clock(engine, UInt64(ms * 1e6)), 0)
        for var event in events { XCTAssertEqual(rl_spsc_push(ring, &event), RL_OK) }
        var result = rl_step_result_t()
        _ = rl_engine_step(engine, ring, 1024, &result)
    }

    private func mark(_ price: Int64 = 40_000) -> rl_event_t {
        var event = rl_event_t()
        event.type = UInt8(RL_EVENT_MARK_PRICE.rawValue)
        event.symbol = btc
        event.price = price * Int64(RL_FP_SCALE)
        return event
    }

    func testAStaleFeedHaltsAndTheBreakerLiftsItOnceTheCooldownRan() {
        XCTAssertEqual(rl_engine_apply_control(engine, RL_CONTROL_SET_FEED_GUARDS, RL_SYMBOL_NONE, 100_000_000, 0), 0)
        at(1_000)
        at(5_000)
        XCTAssertEqual(state, RL_STATE_ACTIVE, "not armed before the first mark")
        at(5_000, [mark()])
        at(5_090)
        XCTAssertEqual(state, RL_STATE_ACTIVE, "within the bound")
        at(5_050, [mark()])  // a clock step back: the newest mark counts
        at(5_149)
        XCTAssertEqual(state, RL_STATE_ACTIVE)
        at(5_151)
        XCTAssertEqual(state, RL_STATE_HALTED, "no mark for 101 ms")
        XCTAssertEqual(reason, RL_FREEZE_REASON_STALE_DATA)
        XCTAssertEqual(rl_freeze_reason_class(RL_FREEZE_REASON_STALE_DATA), RL_REASON_CLASS_TRANSIENT)
        XCTAssertEqual(rl_engine_breaker_trips(engine, RL_FREEZE_REASON_STALE_DATA), 1)
        XCTAssertEqual(rl_engine_breaker_cooldown_ns(engine), 1_000_000_000)
        var q: Int64 = 0, p: Int64 = 0
        XCTAssertEqual(rl_engine_check_f64(engine, btc, RL_SIDE_BUY, 0.01, 40_000, false, &q, &p), RL_FROZEN)
        at(5_900, [mark()])
        XCTAssertEqual(state, RL_STATE_HALTED, "the cooldown has not run")
        at(6_152)
        XCTAssertEqual(state, RL_STATE_HALTED, "the cooldown ran, but the feed is stale again: the cause is still there")
        at(6_160, [mark()])
        at(6_170)
        XCTAssertEqual(state, RL_STATE_ACTIVE, "a fresh mark: lifted by the breaker")
        XCTAssertEqual(reason, RL_FREEZE_REASON_CIRCUIT_BREAKER)
        // No mark since 6.16 s: the feed is stale again, a repeat: 2 s.
        at(6_261)
        XCTAssertEqual(state, RL_STATE_HALTED)
        XCTAssertEqual(rl_engine_breaker_cooldown_ns(engine), 2_000_000_000)
        // Turned off: nothing halts it any more once lifted.
        XCTAssertEqual(rl_engine_apply_control(engine, RL_CONTROL_SET_FEED_GUARDS, RL_SYMBOL_NONE, 0, 0), 0)
        at(8_262)
        XCTAssertEqual(state, RL_STATE_ACTIVE, "turned off: nothing keeps the halt once its cooldown ran")
        at(100_000)
        XCTAssertEqual(state, RL_STATE_ACTIVE)
        XCTAssertEqual(rl_engine_apply_control(engine, RL_CONTROL_SET_FEED_GUARDS, RL_SYMBOL_NONE, -1, 0), -EINVAL)
    }

    func testAJournalThatFallsBehindHaltsAndTheHaltHasRoomForItsRecord() {
        // The journal's ring, with no writer draining it: every mark the step
        // applies is a record that waits.
        var journalRing: OpaquePointer?
        XCTAssertEqual(rl_spsc_create(64, &journalRing), 0)
        defer { rl_spsc_destroy(journalRing) }
        rl_engine_attach_journal(engine, journalRing)
        var event = rl_event_t()
        event.type = UInt8(RL_EVENT_CONTROL.rawValue)
        event.side = UInt8(RL_CONTROL_SET_FEED_GUARDS.rawValue)
        event.qty = 50_000_000  // 50 ms
        at(1_000, [event])
        at(1_001, Array(repeating: mark(), count: 47))
        XCTAssertEqual(rl_spsc_depth(journalRing), 47)
        at(1_010)
        at(1_059)
        XCTAssertEqual(state, RL_STATE_ACTIVE, "under 3/4 full: no backlog yet")
        at(1_060, [mark()])          // 48 of 64: 3/4 (the step looks at the clock before its events)
        at(1_061)                    // seen 3/4 full from here
        at(1_100)
        XCTAssertEqual(state, RL_STATE_ACTIVE, "3/4 full for 39 ms")
        // The step stops consuming with less than twice an event's room left:
        // the ring never fills, so the halt's record always fits.
        at(1_101, Array(repeating: mark(), count: 40))
        XCTAssertLessThanOrEqual(rl_spsc_depth(journalRing), 64 - 4)
        at(1_112)
        XCTAssertEqual(state, RL_STATE_HALTED, "3/4 full for over 50 ms")
        XCTAssertEqual(reason, RL_FREEZE_REASON_JOURNAL_BACKPRESSURE)
        XCTAssertEqual(rl_engine_journal_unrecorded(engine), 0, "the halt's record went into the journal's ring")
        var last = rl_event_t()
        var newest = rl_event_t()
        while rl_spsc_pop(journalRing, &last) == RL_OK { newest = last }
        XCTAssertEqual(newest.type, UInt8(RL_EVENT_STATE_CHANGE.rawValue))
        XCTAssertEqual(rl_freeze_word_reason(newest.order_id), RL_FREEZE_REASON_JOURNAL_BACKPRESSURE)
        // The journal caught up (drained above): the breaker lifts after its cooldown.
        at(2_112)
        XCTAssertEqual(state, RL_STATE_ACTIVE)
        // Behind again and stuck: the cooldown runs, and the halt stays while the ring is 3/4 full.
        at(2_200, Array(repeating: mark(), count: 56))
        at(2_201)
        at(2_300)
        XCTAssertEqual(state, RL_STATE_HALTED)
        at(4_400)
        XCTAssertEqual(state, RL_STATE_HALTED, "the 2 s cooldown ran, but the journal is still behind")
        while rl_spsc_pop(journalRing, &last) == RL_OK {}
        at(4_401)
        XCTAssertEqual(state, RL_STATE_ACTIVE, "caught up: lifted")
    }
}
