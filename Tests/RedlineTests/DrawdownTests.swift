import Foundation
import Redline
import RedlineCore
import XCTest

/// P&L from fills and marks, the drawdown from the peak of equity, and the
/// daily loss limit that resets at its configured time (rl_pnl.h).
final class DrawdownTests: XCTestCase {
    private func monitor(drawdown: Double? = nil, daily: Double? = nil, dayBegins: Double = 0) throws -> RuntimeRiskMonitor {
        let limits = try RiskLimits(maxInventoryUSD: 1_000_000, maxTotalNotional: 5_000_000, edgeFreezeThresholdBps: 0,
                                    maxDrawdownUSD: drawdown, dailyLossLimitUSD: daily,
                                    dayBeginsSecondsAfterMidnightUTC: dayBegins)
        let m = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT", "ETHUSDT"], manualClock: true, logger: quietLogger())
        try m.setClock(nanoseconds: 1_000_000_000)
        return m
    }

    func testRealizedAndUnrealizedFollowAverageCost() throws {
        let m = try monitor()
        try m.updatePosition(symbol: "ETHUSDT", qty: 2, price: 2_000)   // long 2 @ 2,000
        try m.updatePosition(symbol: "ETHUSDT", qty: 2, price: 2_100)   // long 4 @ 2,050
        try m.markPrice(symbol: "ETHUSDT", price: 2_200)
        XCTAssertEqual(m.profitAndLoss.unrealizedUSD, 600, "4 x (2,200 - 2,050)")
        XCTAssertEqual(m.profitAndLoss.realizedUSD, 0)
        try m.updatePosition(symbol: "ETHUSDT", qty: -5, price: 2_150)  // sells 4 at +100 each, opens short 1 @ 2,150
        XCTAssertEqual(m.profitAndLoss.realizedUSD, 400)
        XCTAssertEqual(m.profitAndLoss.unrealizedUSD, 0, "short 1 marked at its own price")
        try m.markPrice(symbol: "ETHUSDT", price: 2_100)
        XCTAssertEqual(m.profitAndLoss.unrealizedUSD, 50)
        XCTAssertEqual(m.profitAndLoss.equityUSD, 450)
        XCTAssertEqual(m.profitAndLoss.peakEquityUSD, 600, "the peak was 4 x 150 unrealized")
        // Per symbol too, and the book's figures are their sums.
        try m.updatePosition(symbol: "BTCUSDT", qty: 1, price: 40_000)
        try m.markPrice(symbol: "BTCUSDT", price: 39_000)
        XCTAssertEqual(m.profitAndLoss(symbol: "ETHUSDT")?.realizedUSD, 400)
        XCTAssertEqual(m.profitAndLoss(symbol: "ETHUSDT")?.unrealizedUSD, 50)
        XCTAssertEqual(m.profitAndLoss(symbol: "BTCUSDT")?.realizedUSD, 0)
        XCTAssertEqual(m.profitAndLoss(symbol: "BTCUSDT")?.unrealizedUSD, -1_000)
        XCTAssertEqual(m.profitAndLoss.unrealizedUSD, -950)
        XCTAssertNil(m.profitAndLoss(symbol: "NOPE"))
        let metrics = parsePrometheus(m.prometheusText())
        XCTAssertEqual(metrics["symbol_pnl_realized_usd{symbol=\"ETHUSDT\"}"], 400)
        XCTAssertEqual(metrics["symbol_pnl_unrealized_usd{symbol=\"BTCUSDT\"}"], -1_000)
    }

    func testGivingBackGainsTripsTheDrawdownFromThePeakAndOnlyAnOperatorUnfreezes() throws {
        let m = try monitor(drawdown: 1_000)
        try m.updatePosition(symbol: "BTCUSDT", qty: 1, price: 40_000)
        try m.markPrice(symbol: "BTCUSDT", price: 45_000)   // +5,000: the peak
        XCTAssertFalse(m.isFrozen)
        try m.markPrice(symbol: "BTCUSDT", price: 44_100)   // gave back 900: still up 4,100
        XCTAssertFalse(m.isFrozen, "900 from the peak")
        try m.markPrice(symbol: "BTCUSDT", price: 43_900)   // gave back 1,100: still up 3,900, but 1,100 from the peak
        XCTAssertTrue(m.isFrozen, "a bot that gives back its gains trips it, though it is still up")
        let event = try XCTUnwrap(m.freezeEvents.last)
        XCTAssertEqual(event.trigger, .drawdown)
        XCTAssertEqual(event.reasonClass, .persistent)
        XCTAssertEqual(event.metadata["drawdown_usd"], "1100.0")
        XCTAssertEqual(parsePrometheus(m.prometheusText())["drawdown_usd"], 1_100)
        XCTAssertFalse(m.unfreeze(reason: "breaker?", byCircuitBreaker: true), "persistent")
        XCTAssertTrue(m.unfreeze(reason: "risk manager accepts the loss"))
        try m.markPrice(symbol: "BTCUSDT", price: 43_500)
        XCTAssertFalse(m.isFrozen, "measured from the unfreeze: 400 down")
        try m.markPrice(symbol: "BTCUSDT", price: 42_800)
        XCTAssertTrue(m.isFrozen, "1,100 below the equity at the unfreeze")
    }

    func testTheDailyLossLimitResetsWhenTheDayBegins() throws {
        let day: UInt64 = 86_400_000_000_000
        let m = try monitor(daily: 500, dayBegins: 3_600)  // the day begins at 01:00 UTC
        try m.setClock(nanoseconds: 10 * day + 2 * 3_600_000_000_000)  // day 10, 02:00
        try m.updatePosition(symbol: "ETHUSDT", qty: 10, price: 2_000)
        _ = m.drain()
        try m.markPrice(symbol: "ETHUSDT", price: 1_960)  // -400 today
        XCTAssertFalse(m.isFrozen)
        try m.setClock(nanoseconds: 11 * day + 3_600_000_000_000 - 1)  // 00:59:59.999 the next day: still day 10
        _ = m.drain()
        try m.markPrice(symbol: "ETHUSDT", price: 1_945)  // -550 today
        XCTAssertTrue(m.isFrozen)
        XCTAssertEqual(m.freezeEvents.last?.trigger, .dailyLoss)
        XCTAssertTrue(m.unfreeze(reason: "operator"))
        try m.setClock(nanoseconds: 11 * day + 3_600_000_000_000)  // 01:00: a new day
        _ = m.drain()
        try m.markPrice(symbol: "ETHUSDT", price: 1_900)  // -450 since 01:00
        XCTAssertFalse(m.isFrozen, "the new day starts from the equity at 01:00")
        try m.markPrice(symbol: "ETHUSDT", price: 1_890)  // -550 since 01:00
        XCTAssertTrue(m.isFrozen)
    }

    func testLossLimitsAreValidatedJournaledAndRecovered() throws {
        XCTAssertThrowsRedline(.invalidLimits("dayBeginsSecondsAfterMidnightUTC must be in [0, 86400), got 90000.0")) {
            try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: 2, edgeFreezeThresholdBps: 0,
                           dayBeginsSecondsAfterMidnightUTC: 90_000)
        }
        XCTAssertThrowsError(try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: 2, edgeFreezeThresholdBps: 0,
                                            maxDrawdownUSD: -5))
        try assertLimitsSurviveARestart { limits in
            limits.maxDrawdownUSD = 25_000
            limits.dailyLossLimitUSD = 10_000
            limits.dayBeginsSecondsAfterMidnightUTC = 22 * 3_600
        }
    }

    func testALossDuringAnotherHaltIsReportedWhenThatHaltIsLifted() throws {
        let m = try monitor(drawdown: 300)
        try m.updatePosition(symbol: "ETHUSDT", qty: 10, price: 100)
        XCTAssertTrue(m.manualFreeze(reason: "operator"))
        try m.markPrice(symbol: "ETHUSDT", price: 50)  // -500 while halted for another reason
        XCTAssertTrue(m.unfreeze(reason: "the manual halt is over"))
        XCTAssertTrue(m.isFrozen, "the drawdown past its limit halts at once")
        XCTAssertEqual(m.freezeEvents.last?.trigger, .drawdown)
    }

    func testLoweringALimitUnderTheLossThereTripsAtOnceAndAClockSteppedBackForgivesNothing() throws {
        let m = try monitor(drawdown: 1_000, daily: 1_000, dayBegins: 8 * 3_600)
        let at8 = UInt64(8 * 3_600) * 1_000_000_000
        try m.setClock(nanoseconds: 5 * 86_400_000_000_000 + at8 + 5_000_000_000)  // day 5, 08:00:05
        _ = m.drain()
        try m.updatePosition(symbol: "ETHUSDT", qty: 10, price: 100)
        try m.markPrice(symbol: "ETHUSDT", price: 60)  // -400
        try m.setClock(nanoseconds: 5 * 86_400_000_000_000 + at8 - 1_000_000_000)  // stepped back to 07:59:59
        _ = m.drain()
        try m.markPrice(symbol: "ETHUSDT", price: 58)  // -420 today still
        var limits = m.limits
        limits.dailyLossLimitUSD = 410
        try m.updateLimits(limits)
        XCTAssertTrue(m.isFrozen, "a limit lowered under the day's loss trips now, not at the next price")
        XCTAssertEqual(m.freezeEvents.last?.trigger, .dailyLoss, "and the step back did not start a new day")
    }

    func testAfterARestartTheKillSwitchStillWorksAndTheDayStartsAtTheRestart() throws {
        let dir = try makeTemporaryDirectory()
        let day: UInt64 = 86_400_000_000_000
        let limits = try RiskLimits(maxInventoryUSD: 1_000_000, maxTotalNotional: 5_000_000, edgeFreezeThresholdBps: 0,
                                    dailyLossLimitUSD: 500)
        let first = try RuntimeRiskMonitor(limits: limits, manualClock: true, logger: quietLogger())
        try first.setClock(nanoseconds: 3 * day + 1)
        let (journal, _) = try Journal.open(directory: dir, monitor: first, options: journalOptions(), logger: quietLogger())
        _ = try first.register(symbol: "ETHUSDT")
        try first.updatePosition(symbol: "ETHUSDT", qty: 10, price: 100)
        try first.markPrice(symbol: "ETHUSDT", price: 60)   // day 3: -400
        try first.setClock(nanoseconds: 4 * day + 1)
        _ = first.drain()
        try first.markPrice(symbol: "ETHUSDT", price: 45)   // day 4: -150 (-550 in all)
        XCTAssertFalse(first.isFrozen)
        try journal.flush()
        journal.close()

        let restarted = try RuntimeRiskMonitor(limits: limits, manualClock: true, logger: quietLogger())
        try restarted.setClock(nanoseconds: 4 * day + 2)
        let (again, _) = try Journal.open(directory: dir, monitor: restarted, options: journalOptions(), logger: quietLogger())
        defer { again.close() }
        XCTAssertFalse(restarted.isFrozen, "the replay rebuilds the P&L; it does not decide on yesterday's loss")
        XCTAssertTrue(restarted.manualFreeze(reason: "kill switch"), "the kill switch still works after a restart")
        XCTAssertTrue(restarted.isFrozen)
    }
}
