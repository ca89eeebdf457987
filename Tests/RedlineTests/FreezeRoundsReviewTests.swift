import Foundation
import Logging
import Redline
@testable import RedlineLoadTest
import Synchronization
import XCTest

/// Adversarial review (helper-25) of freeze rounds that wait for full books
/// and may run past the duration: the wait is bounded, so paced runs and
/// runs whose books never fill end near their duration. Runs are kept under
/// about 2 s each.
final class FreezeRoundsReviewTests: XCTestCase {
    private func run(_ label: String, logger: Logger = quietLogger(),
                     _ edit: (inout LoadTestConfiguration) -> Void) throws -> (LoadTestResult, Double) {
        var config = LoadTestConfiguration()
        config.strategies = 1
        config.symbols = 4
        config.pin = false
        config.idle = .spinThenYield
        edit(&config)
        let started = Date()
        let result = try LoadTest(config, logger: logger).run()
        let wall = Date().timeIntervalSince(started)
        print("\(label): duration \(config.duration) s, wall \(String(format: "%.2f", wall)) s, overtime "
              + "\(result.freezeRoundsOvertime.map { String(format: "%.2f", $0) } ?? "-") s, rounds \(result.loadedFreezeRounds ?? -1)"
              + " of \(config.freezeRounds), orders/s \(Int(result.ordersPerSecond)), active \(String(format: "%.2f", result.activeSeconds)) s, "
              + "cancel orders \(result.cancelOrdersMin.map(String.init) ?? "nil")-\(result.cancelOrdersMax.map(String.init) ?? "nil"), "
              + "ok \(result.invariantsOK) \(result.violations)")
        return (result, wall)
    }

    /// The rounds' own freezes are logged once: the first "TRADING FROZEN"
    /// line goes through, the rest are counted (an idle and a loaded halt
    /// per round), and no round's halt is lost from the count.
    func testTheRoundsFreezesAreLoggedOnceAndCounted() throws {
        let critical = CriticalLineBox()
        let (result, _) = try run("logged once", logger: Logger(label: "test") { _ in CriticalLines(box: critical) }) {
            $0.duration = 0.3
            $0.targetRate = 2_000
            $0.fillRatio = 0
            $0.restingOrders = 10
            $0.freezeRounds = 6
        }
        XCTAssertEqual(result.loadedFreezeRounds, 6)
        let frozen = critical.lines.withLock { $0.filter { $0.hasPrefix("TRADING FROZEN") } }
        XCTAssertEqual(frozen.count, 1, "\(frozen)")
        XCTAssertEqual(result.roundFreezeLinesQuieted, 2 * 6 - 1, "six idle and six loaded halts, the first printed")
    }

    /// The filter quiets only the rounds' own edge collapses: a freeze of
    /// another cause, any other line, and every line once the rounds are
    /// over (the run's own `--edge-collapse-at`) go through.
    func testTheRoundFilterPassesEveryOtherLine() {
        let box = CriticalLineBox()
        let count = RoundFreezeLogFilter.Count()
        let logger = Logger(label: "test") { _ in RoundFreezeLogFilter(inner: CriticalLines(box: box), count: count) }
        for _ in 0..<3 { logger.critical("TRADING FROZEN: a round", metadata: ["cause": "edge_collapse"]) }
        logger.critical("TRADING FROZEN: rates", metadata: ["cause": "rate_exceeded"])
        logger.critical("the journal failed: ENOSPC")
        count.roundsOver()
        logger.critical("TRADING FROZEN: the injected collapse", metadata: ["cause": "edge_collapse"])
        XCTAssertEqual(box.lines.withLock { $0 }, ["TRADING FROZEN: a round", "TRADING FROZEN: rates",
                                                   "the journal failed: ENOSPC", "TRADING FROZEN: the injected collapse"])
        XCTAssertEqual(count.quieted, 2)
    }

    /// A paced run's refills take resting/rate each: a 0.2 s run at 100
    /// orders/s with 10 resting and 9 rounds took 0.70 s of overtime when
    /// each round waited for its refill without bound (at --rate 100
    /// --freezes 18 --duration 0.4 the rounds no longer fitted even in the
    /// overtime). A round now waits at most 20 ms (or one spacing) past its
    /// time, then goes over what rests. With 50 resting, an unbounded wait
    /// would be 0.5 s a round (4.5 s in all, past the overtime's bound):
    /// far from the bounded rounds' 0.2-0.3 s on any host.
    func testPacedRunsEndNearTheirDuration() throws {
        let (result, wall) = try run("paced, 50 resting, 100/s") {
            $0.duration = 0.2
            $0.targetRate = 100
            $0.fillRatio = 0
            $0.restingOrders = 50
            $0.freezeRounds = 9
        }
        XCTAssertEqual(result.loadedFreezeRounds, 9)
        XCTAssertLessThan(try XCTUnwrap(result.freezeRoundsOvertime), 1.5, "9 rounds of at most about 32 ms, on a slow host more")
        XCTAssertLessThan(try XCTUnwrap(result.cancelOrdersMin), 50, "the book had not refilled: the summary says so")
        _ = wall
    }

    /// With every order filled at once (--fill-ratio 1) the book never
    /// fills, and a round waited for 2 x resting + 1,000 placements: 1,400
    /// orders for --resting 200, 0.7 s a round at 2,000 orders/s, for books
    /// that are empty by construction.
    func testEveryOrderFilledDoesNotHoldTheRounds() throws {
        let (result, wall) = try run("fill ratio 1, 2000/s") {
            $0.duration = 0.3
            $0.targetRate = 2_000
            $0.fillRatio = 1
            $0.restingOrders = 200
            $0.freezeRounds = 2
        }
        XCTAssertEqual(result.loadedFreezeRounds, 2)
        // The bug held each round 0.7 s (1.4 s in all).
        XCTAssertLessThan(try XCTUnwrap(result.freezeRoundsOvertime), 0.6, "2 rounds over books that are empty by construction")
        _ = wall
    }

    /// Several strategies, journaled, fills on: every round runs, the run
    /// ends, and the figures add up.
    func testSeveralStrategiesJournaled() throws {
        let dir = NSTemporaryDirectory() + "redline-lt-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (result, wall) = try run("2 strategies, journaled") {
            $0.strategies = 2
            $0.duration = 0.6
            $0.targetRate = 40_000
            $0.fillRatio = 0.5
            $0.restingOrders = 500
            $0.freezeRounds = 10
            $0.journalDirectory = dir
        }
        XCTAssertTrue(result.invariantsOK, "\(result.violations)")
        XCTAssertEqual(result.loadedFreezeRounds, 10)
        _ = wall
        XCTAssertEqual(result.ordersPerSecond * result.activeSeconds, Double(result.ordersTotal), accuracy: 1)
    }
}
