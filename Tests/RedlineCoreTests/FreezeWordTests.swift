import RedlineCore
import XCTest

final class FreezeWordTests: XCTestCase {
    func testPacksStateReasonAndEpochInOneWord() {
        let word = rl_freeze_pack(UInt64(RL_STATE_HALTED.rawValue), UInt64(RL_FREEZE_REASON_MANUAL.rawValue), 12345)
        XCTAssertEqual(rl_freeze_word_state(word), RL_STATE_HALTED)
        XCTAssertEqual(rl_freeze_word_reason(word), RL_FREEZE_REASON_MANUAL)
        XCTAssertEqual(rl_freeze_word_epoch(word), 12345)
    }

    func testTransitionsAreIdempotentAndBumpTheEpochOncePerChange() {
        let engine = makeEngine()
        defer { rl_engine_destroy(engine) }
        let freeze = rl_engine_freeze(engine)
        var word: UInt64 = 0
        XCTAssertTrue(rl_freeze_is_active(freeze))
        XCTAssertFalse(rl_freeze_resume(freeze, RL_FREEZE_REASON_MANUAL, &word), "already active")
        XCTAssertEqual(rl_freeze_word_epoch(word), 0)
        XCTAssertTrue(rl_freeze_halt(freeze, RL_FREEZE_REASON_EDGE_COLLAPSE, &word))
        XCTAssertEqual(rl_freeze_word_epoch(word), 1)
        XCTAssertFalse(rl_freeze_halt(freeze, RL_FREEZE_REASON_MANUAL, &word), "already halted")
        XCTAssertEqual(rl_freeze_word_reason(word), RL_FREEZE_REASON_EDGE_COLLAPSE, "first reason kept")
        XCTAssertEqual(rl_freeze_word_epoch(word), 1)
        XCTAssertTrue(rl_freeze_resume(freeze, RL_FREEZE_REASON_MANUAL, &word))
        XCTAssertEqual(rl_freeze_word_epoch(rl_freeze_load(freeze)), 2)
    }

    func testRacingFreezersMakeExactlyOneTransition() {
        for _ in 0..<200 {
            let engine = makeEngine()
            nonisolated(unsafe) let freeze = rl_engine_freeze(engine)
            let wins = UnsafeMutablePointer<Int>.allocate(capacity: 4)
            nonisolated(unsafe) let w = wins
            DispatchQueue.concurrentPerform(iterations: 4) { i in
                var word: UInt64 = 0
                w[i] = rl_freeze_halt(freeze, RL_FREEZE_REASON_MANUAL, &word) ? 1 : 0
            }
            XCTAssertEqual((0..<4).reduce(0) { $0 + wins[$1] }, 1)
            XCTAssertEqual(rl_freeze_word_epoch(rl_freeze_load(freeze)), 1)
            wins.deallocate()
            rl_engine_destroy(engine)
        }
    }
}
