import Foundation
import Redline
import RedlineCore
import XCTest

/// Dynamic limits (issue 9 item 9): time-of-day windows tighten every limit
/// in their own time zone; a volatility estimate scales a symbol's inventory
/// limit and collar between a floor and a cap; a check sees the old limit or
/// the new one (the table's generation-buffered limits), and a restart has
/// the settings and the scales the journal recorded.
final class DynamicLimitsTests: XCTestCase {
    private func date(_ iso: String) -> Date { ISO8601DateFormatter().date(from: iso)! }

    func testAWindowTightensEveryLimitInItsTimeZoneAcrossDaylightSaving() throws {
        // New York's open, weekdays: 09:30-10:00 local at half the limits.
        let window = LimitWindow(start: "09:30", end: "10:00", timeZone: "America/New_York", weekdays: [1, 2, 3, 4, 5],
                                 scale: 0.5)
        let limits = try RiskLimits(maxInventoryUSD: 10_000, maxTotalNotional: 40_000, edgeFreezeThresholdBps: 200,
                                    symbolOverrides: ["ETHUSDT": 8_000], limitSchedule: [window])
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT", "ETHUSDT"], manualClock: true,
                                             logger: quietLogger())
        XCTAssertEqual(monitor.inventoryLimitInForce(symbol: "BTCUSDT"), 10_000, "a manual clock applies nothing by itself")
        // Winter (EST, UTC-5): 09:45 local is 14:45 UTC on a Tuesday.
        XCTAssertEqual(try monitor.applyLimitSchedule(at: date("2026-01-13T14:45:00Z")), 0.5)
        XCTAssertEqual(monitor.inventoryLimitInForce(symbol: "BTCUSDT"), 5_000)
        XCTAssertEqual(monitor.inventoryLimitInForce(symbol: "ETHUSDT"), 4_000)
        XCTAssertEqual(monitor.utilization().total, 0)
        XCTAssertEqual(monitor.checkBeforeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.13, price: 40_000),
                       .blocked(.symbolLimit), "$5,200 is over the window's $5,000")
        XCTAssertTrue(monitor.checkBeforeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.12, price: 40_000).isAllowed)
        // 10:00 local: the window is closed (its end is excluded).
        XCTAssertEqual(try monitor.applyLimitSchedule(at: date("2026-01-13T15:00:00Z")), 1)
        XCTAssertEqual(monitor.inventoryLimitInForce(symbol: "BTCUSDT"), 10_000)
        // Summer (EDT, UTC-4): 09:45 local is 13:45 UTC; 14:45 UTC is 10:45, closed.
        XCTAssertEqual(try monitor.applyLimitSchedule(at: date("2026-07-14T13:45:00Z")), 0.5)
        XCTAssertEqual(try monitor.applyLimitSchedule(at: date("2026-07-14T14:45:00Z")), 1)
        // Saturday: not a weekday of the window.
        XCTAssertEqual(try monitor.applyLimitSchedule(at: date("2026-07-18T13:45:00Z")), 1)
        XCTAssertEqual(parsePrometheus(monitor.prometheusText())["symbol_limit_in_force_usd{symbol=\"BTCUSDT\"}"], 10_000)
    }

    func testAWindowPastMidnightAndOverlapsTakeTheSmallestScale() throws {
        let night = LimitWindow(start: "22:00", end: "02:00", timeZone: "Europe/London", weekdays: [5], scale: 0.5)
        let close = LimitWindow(start: "23:30", end: "23:45", timeZone: "UTC", scale: 0.25)
        let windows = [night, close]
        // Friday 23:00 London (winter, UTC): open; Saturday 01:00: still Friday's night.
        XCTAssertEqual(LimitWindow.scale(of: windows, at: date("2026-01-16T23:00:00Z")), 0.5)
        XCTAssertEqual(LimitWindow.scale(of: windows, at: date("2026-01-17T01:00:00Z")), 0.5)
        XCTAssertEqual(LimitWindow.scale(of: windows, at: date("2026-01-16T23:40:00Z")), 0.25, "both open: the smaller")
        // Thursday night: not the window's day; Saturday night neither.
        XCTAssertEqual(LimitWindow.scale(of: windows, at: date("2026-01-15T23:00:00Z")), 1)
        XCTAssertEqual(LimitWindow.scale(of: windows, at: date("2026-01-18T01:00:00Z")), 1)
        XCTAssertEqual(LimitWindow.scale(of: windows, at: date("2026-01-17T02:00:00Z")), 1, "the end is excluded")
    }

    func testALowerLimitUnderTheExposureEntersReducingAndTheWindowsEndRestoresIt() throws {
        let window = LimitWindow(start: "00:00", end: "12:00", timeZone: "UTC", scale: 0.25)
        let limits = try RiskLimits(maxInventoryUSD: 10_000, maxTotalNotional: 40_000, edgeFreezeThresholdBps: 200,
                                    limitSchedule: [window])
        let h = try Harness(limits: limits, exchange: .init(seed: 1, fillRatio: 0), manualClock: true)
        _ = try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.1, price: 40_000)  // $4,000 working
        try h.monitor.applyLimitSchedule(at: date("2026-03-02T06:00:00Z"))  // $2,500 in force
        XCTAssertEqual(h.monitor.tradingState.mode, .reducing)
        XCTAssertEqual(h.monitor.freezeEvents.last?.trigger, .limitViolation)
        try h.monitor.applyLimitSchedule(at: date("2026-03-02T13:00:00Z"))
        XCTAssertEqual(h.monitor.tradingState.mode, .active, "the window closed: the limits are back")
    }

    func testVolatilityScalesTheLimitAndTheCollarWithinFloorAndCap() throws {
        var limits = try RiskLimits(maxInventoryUSD: 10_000, maxTotalNotional: 15_000, edgeFreezeThresholdBps: 200,
                                    volatilityScaling: VolatilityScaling(referenceVolatility: 40, floor: 0.25, cap: 1.25))
        limits.orderRules = OrderRules(priceCollarBps: 100)
        let h = try Harness(limits: limits, exchange: .init(seed: 1, fillRatio: 0))
        XCTAssertEqual(h.monitor.inventoryLimitInForce(symbol: "BTCUSDT"), 2_500, "no estimate yet: the floor")
        let btc = try h.monitor.symbolID("BTCUSDT")
        try h.monitor.markPrice(symbol: "BTCUSDT", price: 40_000)
        // No estimate yet: the collar at its narrowest too, 100 bps / the cap 1.25 = 80 bps (never wider).
        XCTAssertTrue(h.monitor.checkBeforeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_300).isAllowed)
        XCTAssertEqual(h.monitor.checkBeforeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_350),
                       .blocked(.priceCollar))
        try h.monitor.reportVolatility(symbol: "BTCUSDT", volatility: 80)  // twice the reference
        XCTAssertEqual(h.monitor.volatilityScale(symbol: "BTCUSDT"), 0.5)
        XCTAssertEqual(h.monitor.inventoryLimitInForce(symbol: "BTCUSDT"), 5_000)
        // The collar widens to 200 bps: 40,700 is inside it now (100 bps would block it).
        XCTAssertTrue(h.monitor.checkBeforeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_700).isAllowed)
        XCTAssertEqual(h.monitor.checkBeforeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_900),
                       .blocked(.priceCollar))
        // Very volatile: held at the floor; calm: up to the cap, never above the book's limit.
        try h.monitor.reportVolatility(symbol: "BTCUSDT", volatility: 1_000)
        XCTAssertEqual(h.monitor.inventoryLimitInForce(symbol: "BTCUSDT"), 2_500)
        try h.router.reportVolatility(symbol: btc, volatility: 10)
        _ = h.monitor.drain()
        XCTAssertEqual(h.monitor.volatilityScale(symbol: "BTCUSDT"), 1.25)
        XCTAssertEqual(h.monitor.inventoryLimitInForce(symbol: "BTCUSDT"), 12_500)
        XCTAssertEqual(h.monitor.inventoryLimitInForce(symbol: "ETHUSDT"), 2_500, "each symbol its own estimate")
        XCTAssertThrowsRedline(.invalidInput("volatility must be a finite number greater than zero, got -1.0")) {
            try h.monitor.reportVolatility(symbol: "BTCUSDT", volatility: -1)
        }
        XCTAssertEqual(h.monitor.inventoryLimitInForce(symbol: "BTCUSDT"), 12_500, "bad input changes nothing")
        // Turned off: the limits as configured.
        limits.volatilityScaling = nil
        try h.monitor.updateLimits(limits)
        XCTAssertEqual(h.monitor.inventoryLimitInForce(symbol: "BTCUSDT"), 10_000)
        XCTAssertTrue(h.monitor.checkBeforeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_300).isAllowed)
        XCTAssertEqual(h.monitor.checkBeforeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_500),
                       .blocked(.priceCollar), "the collar as configured again")
    }

    func testSettingsAreValidatedJournaledAndTheScalesComeBackAfterARestart() throws {
        XCTAssertThrowsRedline(.invalidLimits("limitSchedule[0].timeZone \"Mars/Olympus\" is not a known time zone")) {
            try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: 2, edgeFreezeThresholdBps: 0,
                           limitSchedule: [LimitWindow(start: "09:00", end: "10:00", timeZone: "Mars/Olympus", scale: 0.5)])
        }
        XCTAssertThrowsRedline(.invalidLimits("limitSchedule[0].start must be \"HH:MM\", got \"9:00\"")) {
            try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: 2, edgeFreezeThresholdBps: 0,
                           limitSchedule: [LimitWindow(start: "9:00", end: "10:00", timeZone: "UTC", scale: 0.5)])
        }
        XCTAssertThrowsRedline(.invalidLimits("limitSchedule[0].scale must be in [0.00000001, 1], got 1.5")) {
            try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: 2, edgeFreezeThresholdBps: 0,
                           limitSchedule: [LimitWindow(start: "09:00", end: "10:00", timeZone: "UTC", scale: 1.5)])
        }
        XCTAssertThrowsRedline(.invalidLimits("volatilityScaling needs 0 < floor <= cap <= 10, got floor 2.0, cap 1.0")) {
            try RiskLimits(maxInventoryUSD: 1, maxTotalNotional: 2, edgeFreezeThresholdBps: 0,
                           volatilityScaling: VolatilityScaling(referenceVolatility: 1, floor: 2, cap: 1))
        }
        _ = try assertLimitsSurviveARestart { limits in
            limits.limitSchedule = [LimitWindow(start: "09:30", end: "16:00", timeZone: "America/New_York",
                                                weekdays: [1, 2, 3, 4, 5], scale: 0.75),
                                    LimitWindow(start: "23:00", end: "01:00", timeZone: "Asia/Tokyo", scale: 0.5)]
            limits.volatilityScaling = VolatilityScaling(referenceVolatility: 35.5, floor: 0.5, cap: 2)
        }
        // The scales: the journal's volatility events replay.
        let dir = try makeTemporaryDirectory()
        let limits = try RiskLimits(maxInventoryUSD: 10_000, maxTotalNotional: 40_000, edgeFreezeThresholdBps: 200,
                                    volatilityScaling: VolatilityScaling(referenceVolatility: 40, floor: 0.25, cap: 1))
        let monitor = try RuntimeRiskMonitor(limits: limits, logger: quietLogger())
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
        try monitor.register(symbol: "BTCUSDT")
        try monitor.reportVolatility(symbol: "BTCUSDT", volatility: 50)
        XCTAssertEqual(monitor.inventoryLimitInForce(symbol: "BTCUSDT"), 8_000)
        try journal.flush()
        journal.close()
        let restarted = try RuntimeRiskMonitor(limits: .default, logger: quietLogger())
        let (again, _) = try Journal.open(directory: dir, monitor: restarted, options: journalOptions(), logger: quietLogger())
        defer { again.close() }
        XCTAssertEqual(restarted.limits.volatilityScaling, limits.volatilityScaling)
        XCTAssertEqual(restarted.inventoryLimitInForce(symbol: "BTCUSDT"), 8_000)
    }

    func testOnTheWallClockTheScheduleRunsByItselfAndStopsWithTheMonitor() throws {
        // Open all day but one minute, every day: in force now whatever the time.
        let allDay = LimitWindow(start: "00:00", end: "23:59", timeZone: "UTC", scale: 0.5)
        let lastMinute = LimitWindow(start: "23:59", end: "00:00", timeZone: "UTC", scale: 0.5)
        var limits = try RiskLimits(maxInventoryUSD: 10_000, maxTotalNotional: 40_000, edgeFreezeThresholdBps: 200,
                                    limitSchedule: [allDay, lastMinute])
        var monitor: RuntimeRiskMonitor? = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
        XCTAssertEqual(monitor!.inventoryLimitInForce(symbol: "BTCUSDT"), 5_000)
        XCTAssertEqual(monitor!.limitScheduleScale, 0.5)
        limits.limitSchedule = []
        try monitor!.updateLimits(limits)
        XCTAssertEqual(monitor!.inventoryLimitInForce(symbol: "BTCUSDT"), 10_000, "no schedule: no scale")
        limits.limitSchedule = [allDay, lastMinute]
        try monitor!.updateLimits(limits)
        XCTAssertEqual(monitor!.inventoryLimitInForce(symbol: "BTCUSDT"), 5_000)
        weak let gone = monitor
        monitor = nil
        // The schedule's thread holds the monitor only while it applies a
        // scale (a strong reference for that call), never beyond.
        let deadline = Date().addingTimeInterval(5)
        while gone != nil && Date() < deadline { usleep(1_000) }
        XCTAssertNil(gone, "the schedule's thread holds no monitor alive")
    }
}
