import RedlineCore
import XCTest

final class EngineStepTests: XCTestCase {
    private var engine: OpaquePointer!
    override func setUp() { engine = makeEngine(symbolLimit: 5_000, maxTotal: 20_000, edgeThreshold: 200) }
    override func tearDown() { rl_engine_destroy(engine) }

    func testFillMovesQuantityFromWorkingToPosition() {
        XCTAssertEqual(rl_engine_reserve(engine, 0, RL_SIDE_BUY, fp(0.1), fp(40_000)), RL_OK)
        step(engine, [event(RL_EVENT_FILL, qty: fp(0.04), price: fp(41_000))])
        let v = view(engine, 0)
        XCTAssertEqual(v.position, fp(0.04))
        XCTAssertEqual(v.working_buy, fp(0.06))
        XCTAssertEqual(v.mark, fp(41_000))
        XCTAssertEqual(v.exposure, fp(4_100), "re-marked: 0.1 worst case x 41,000")
        XCTAssertEqual(rl_position_table_total(rl_engine_table(engine)), fp(4_100))
    }

    func testCancelReleasesTheReservationAndLowersTheTotal() {
        XCTAssertEqual(rl_engine_reserve(engine, 0, RL_SIDE_BUY, fp(0.1), fp(40_000)), RL_OK)
        XCTAssertEqual(rl_engine_reserve(engine, 0, RL_SIDE_SELL, fp(0.05), fp(40_000)), RL_OK)
        step(engine, [event(RL_EVENT_CANCEL_ACK, qty: fp(0.1), price: fp(40_000)),
                      event(RL_EVENT_REJECT, side: RL_SIDE_SELL, qty: fp(0.02), price: fp(40_000)),
                      event(RL_EVENT_EXPIRE, side: RL_SIDE_SELL, qty: fp(0.03), price: fp(40_000))])
        let v = view(engine, 0)
        XCTAssertEqual([v.position, v.working_buy, v.working_sell, v.exposure], [0, 0, 0, 0])
        XCTAssertEqual(rl_position_table_total(rl_engine_table(engine)), 0)
    }

    func testSellFillShortensThePosition() {
        step(engine, [event(RL_EVENT_POSITION_ADJUST, qty: fp(0.1), price: fp(40_000))])
        XCTAssertEqual(rl_engine_reserve(engine, 0, RL_SIDE_SELL, fp(0.1), fp(40_000)), RL_OK)
        step(engine, [event(RL_EVENT_FILL, side: RL_SIDE_SELL, qty: fp(0.1), price: fp(40_000))])
        let v = view(engine, 0)
        XCTAssertEqual([v.position, v.working_buy, v.working_sell, v.exposure], [0, 0, 0, 0])
    }

    func testOverfillBeyondWorkingQuantityIsStillCounted() {
        XCTAssertEqual(rl_engine_reserve(engine, 0, RL_SIDE_BUY, fp(0.01), fp(40_000)), RL_OK)
        step(engine, [event(RL_EVENT_FILL, qty: fp(0.03), price: fp(40_000))])
        let v = view(engine, 0)
        XCTAssertEqual(v.position, fp(0.03))
        XCTAssertEqual(v.working_buy, 0)
        XCTAssertEqual(v.exposure, fp(1_200))
        XCTAssertEqual(rl_engine_anomaly_count(engine, RL_ANOMALY_FILL), 1)
        XCTAssertEqual(total(engine), fp(1_200))
    }

    func testEdgeBelowThresholdFreezesExactlyOnceAndRecordsTheEdgeThatCausedIt() {
        var result = step(engine, [event(RL_EVENT_EDGE_UPDATE, value: fp(250))])
        XCTAssertEqual(result.state_changes, 0)
        XCTAssertTrue(rl_freeze_is_active(rl_engine_freeze(engine)))
        result = step(engine, [event(RL_EVENT_EDGE_UPDATE, value: fp(150)), event(RL_EVENT_EDGE_UPDATE, value: fp(100))])
        XCTAssertEqual(result.state_changes, 1)
        XCTAssertEqual(rl_freeze_word_reason(result.last_word), RL_FREEZE_REASON_EDGE_COLLAPSE)
        XCTAssertEqual(rl_freeze_word_epoch(rl_freeze_load(rl_engine_freeze(engine))), 1, "second collapse changed nothing")
        var record = rl_event_t()
        XCTAssertEqual(rl_spsc_pop(rl_engine_state_ring(engine), &record), RL_OK)
        XCTAssertEqual(record.value, fp(150), "the record holds the edge that froze, not a later one")
        XCTAssertEqual(record.qty, fp(200))
        XCTAssertEqual(step(engine, [event(RL_EVENT_EDGE_UPDATE, value: fp(50))]).state_changes, 0)
        XCTAssertEqual(rl_engine_reserve(engine, 0, RL_SIDE_BUY, fp(0.01), fp(100)), RL_FROZEN)
    }

    func testReleasesBeyondWhatIsWorkingAreClampedAndCounted() {
        XCTAssertEqual(rl_engine_reserve(engine, 0, RL_SIDE_BUY, fp(0.05), fp(40_000)), RL_OK)
        step(engine, [event(RL_EVENT_CANCEL_ACK, qty: fp(0.1), price: fp(40_000)),
                      event(RL_EVENT_REJECT, qty: fp(0.1), price: fp(40_000)),
                      event(RL_EVENT_EXPIRE, side: RL_SIDE_SELL, qty: fp(0.1), price: fp(40_000))])
        let v = view(engine, 0)
        XCTAssertEqual([v.working_buy, v.working_sell], [0, 0], "working never goes negative")
        XCTAssertEqual(rl_engine_anomaly_count(engine, RL_ANOMALY_CANCEL), 1)
        XCTAssertEqual(rl_engine_anomaly_count(engine, RL_ANOMALY_REJECT), 1)
        XCTAssertEqual(rl_engine_anomaly_count(engine, RL_ANOMALY_EXPIRE), 1)
        // The $5,000 limit still admits $5,000, not $9,000.
        XCTAssertEqual(rl_engine_reserve(engine, 0, RL_SIDE_BUY, fp(0.13), fp(40_000)), RL_REJECT_SYMBOL_LIMIT)
        XCTAssertEqual(rl_engine_reserve(engine, 0, RL_SIDE_BUY, fp(0.125), fp(40_000)), RL_OK)
    }

    func testAFillAfterACancelStillMovesThePosition() {
        XCTAssertEqual(rl_engine_reserve(engine, 0, RL_SIDE_BUY, fp(0.05), fp(40_000)), RL_OK)
        step(engine, [event(RL_EVENT_CANCEL_ACK, qty: fp(0.05), price: fp(40_000)),
                      event(RL_EVENT_FILL, qty: fp(0.02), price: fp(40_000))])
        let v = view(engine, 0)
        XCTAssertEqual(v.position, fp(0.02), "the venue is the truth")
        XCTAssertEqual(v.working_buy, 0)
        XCTAssertEqual(v.exposure, fp(800))
        XCTAssertEqual(rl_engine_anomaly_count(engine, RL_ANOMALY_FILL), 1)
    }

    func testInvalidEventsAreSkippedAndCounted() {
        let result = step(engine, [event(RL_EVENT_FILL, symbol: 77, qty: fp(1), price: fp(1)),
                                   event(rl_event_type_t(200)),
                                   event(RL_EVENT_FILL, qty: 0, price: fp(1)),
                                   event(RL_EVENT_HEARTBEAT)])
        XCTAssertEqual(result.applied, 4)
        XCTAssertEqual(result.invalid, 3)
        XCTAssertEqual(rl_engine_invalid_count(engine), 3)
        XCTAssertEqual(rl_engine_applied_count(engine, RL_EVENT_HEARTBEAT), 1)
        XCTAssertEqual(view(engine, 0).position, 0)
    }
}
