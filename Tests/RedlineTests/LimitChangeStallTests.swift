import Foundation
@testable import Redline
import RedlineCore
import RedlineOperations
import Synchronization
import XCTest

/// A limit change while a stalled journal holds the risk side. The change is
/// a sequence of controls, each a request the risk side must take within its
/// bound or see withdrawn. It used to be journaled first: refused during a
/// stall, its record was already queued and became durable when the device
/// came back, so a restart applied limits the operator had been told were
/// refused. And a change the risk side took in part left a mix of old and
/// new limits in force that no record described.
final class LimitChangeStallTests: XCTestCase {
    private static let original = 5_000.0

    /// The limits a fresh engine recovers from the fixture's journal.
    private func recoveredLimits(_ f: StalledEngineFixture) throws -> RiskLimits {
        try f.runtime.stop()
        try f.journal.flush()
        f.journal.close()
        let monitor = try RuntimeRiskMonitor(
            limits: try RiskLimits(maxInventoryUSD: 1_234, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 200),
            logger: quietLogger())
        let (journal, _) = try Journal.open(directory: f.disk.path + "/journal", monitor: monitor,
                                            options: journalOptions(), logger: quietLogger())
        defer { journal.close() }
        return monitor.limits
    }

    /// Refused during a stall (the risk side took none of it): no record, so
    /// a restart comes back with the limits that were in force.
    func testALimitChangeTheRiskSideDidNotTakeIsNotAppliedByARestart() throws {
        let f = try StalledEngineFixture(stallHaltMilliseconds: 60_000)
        f.stallWithTheRouterWaiting()
        var looser = f.monitor.limits
        looser.maxInventoryUSD = 9_000
        XCTAssertThrowsError(try f.monitor.updateLimits(looser)) { error in
            XCTAssertTrue("\(error)".contains("withdrawn"), "\(error)")
        }
        XCTAssertEqual(f.monitor.limits.maxInventoryUSD, Self.original)
        XCTAssertEqual(f.monitor.tradingState.mode, .active, "nothing of it was taken: no halt")
        f.disk.thaw()
        XCTAssertTrue(f.stopMarking())
        f.waitUntilTheRiskSideCaughtUp()
        XCTAssertEqual(f.monitor.limits.maxInventoryUSD, Self.original)
        XCTAssertEqual(try recoveredLimits(f).maxInventoryUSD, Self.original,
                       "a restart applied a limit change the operator was told was refused")
    }

    /// Taken in part: the risk side takes the first controls, then a stall
    /// holds it. The limits in force are a mix no record describes: trading
    /// halts at once (through the freeze word), with why; a restart comes
    /// back with the old limits, HALTED.
    func testALimitChangeTakenInPartHaltsTrading() throws {
        let f = try StalledEngineFixture(stallHaltMilliseconds: 60_000)
        f.startMarking()
        nonisolated(unsafe) let fixture = f
        let held = Atomic<Bool>(false)
        let first = Atomic<Int>(-1)
        f.monitor.limitControlWillApply = { applied in
            // After two controls of this change are taken, the device stops.
            _ = first.compareExchange(expected: -1, desired: applied, ordering: .relaxed)
            guard applied - first.load(ordering: .relaxed) >= 2, !held.load(ordering: .relaxed) else { return }
            held.store(true, ordering: .relaxed)
            fixture.disk.freeze()
            XCTAssertTrue(fixture.waitUntilTheRouterWaits(), "the stall held the risk side")
        }
        var changed = f.monitor.limits
        changed.maxInventoryUSD = 9_000
        changed.maxTotalNotional = 30_000
        let started = Date()
        XCTAssertThrowsError(try f.monitor.updateLimits(changed)) { error in
            guard case RedlineError.limitsTakenInPart(let applied, _, _)? = error as? RedlineError else {
                return XCTFail("not limitsTakenInPart: \(error)")
            }
            XCTAssertEqual(applied, 2)
            XCTAssertTrue((error as? RedlineError)?.leftLimitsChanged ?? false)
        }
        f.monitor.limitControlWillApply = nil
        XCTAssertTrue(held.load(ordering: .relaxed))
        XCTAssertLessThan(Date().timeIntervalSince(started), Double(RuntimeRiskMonitor.requestTakeBoundSeconds) + 5)
        XCTAssertEqual(f.monitor.tradingState.mode, .halted, "a half-applied limit change halts trading")
        XCTAssertEqual(rl_freeze_word_reason(f.word), RL_FREEZE_REASON_MANUAL)
        f.disk.thaw()
        XCTAssertTrue(f.stopMarking())
        f.waitUntilTheRiskSideCaughtUp()
        let halt = try XCTUnwrap(f.monitor.freezeEvents.last)
        XCTAssertTrue(halt.reason.contains("a limit change was taken in part"), halt.reason)
        XCTAssertEqual(halt.metadata["by"], "limits_set")
        // Nothing lifts it but a change taken whole: the limits in force are unknown till then.
        XCTAssertTrue(f.monitor.limitsInForceIndeterminate)
        XCTAssertEqual(f.monitor.lift(reason: "too soon"), .limitsIndeterminate)
        XCTAssertEqual(f.monitor.tradingState.mode, .halted)
        // `limits get` and `status` show the last set taken whole, and say the limits in force are a mix.
        let commands = OperatorCommands(monitor: f.monitor)
        let get = commands.handle(.init(operatorName: "alice", command: "limits get"), peer: nil)
        XCTAssertEqual(get.limits?.maxInventoryUSD, Self.original)
        XCTAssertTrue((get.message ?? "").contains("a mix"), get.message ?? "")
        let status = commands.handle(.init(operatorName: "alice", command: "status"), peer: nil)
        XCTAssertTrue((status.status?.limitsNote ?? "").contains("a mix"), "\(String(describing: status.status))")
        var original = changed
        original.maxInventoryUSD = Self.original
        original.maxTotalNotional = 20_000
        XCTAssertNoThrow(try f.monitor.updateLimits(original), "the old limits set again, whole")
        XCTAssertFalse(f.monitor.limitsInForceIndeterminate)
        XCTAssertEqual(f.monitor.lift(reason: "limits set again"), .lifted)
        XCTAssertNil(commands.handle(.init(operatorName: "alice", command: "status"), peer: nil).status?.limitsNote)
        XCTAssertEqual(try recoveredLimits(f).maxInventoryUSD, Self.original, "the half-applied change has no record")
    }

    /// In force, whole, but its record is not durable (the device stalls
    /// once the risk side has taken every control): `limits set` answers
    /// `failed` with the limits in force, never "nothing changed", and once
    /// the device is back the record is durable and a restart keeps them.
    func testALimitChangeInForceWhoseRecordIsNotDurableIsNotReportedAsUnchanged() throws {
        let f = try StalledEngineFixture(stallHaltMilliseconds: 60_000)
        f.startMarking()
        nonisolated(unsafe) let fixture = f
        let journaling = DispatchSemaphore(value: 0)
        f.monitor.limitsWillJournal = {
            fixture.disk.freeze()
            journaling.signal()
        }
        let commands = OperatorCommands(monitor: f.monitor)
        nonisolated(unsafe) var response: ControlResponse?
        let answered = DispatchSemaphore(value: 0)
        Thread {
            response = commands.handle(.init(operatorName: "alice", command: "limits set", reason: "looser",
                                             limits: ["maxInventoryUSD": .number(9_000)]), peer: nil)
            answered.signal()
        }.start()
        XCTAssertEqual(journaling.wait(timeout: .now() + 30), .success, "the change was taken whole")
        // The record's wait gives up after 10 s; its refusal's audit record then waits for the device.
        usleep(12_000_000)
        f.disk.thaw()
        XCTAssertEqual(answered.wait(timeout: .now() + 30), .success)
        f.monitor.limitsWillJournal = nil
        let answer = try XCTUnwrap(response)
        XCTAssertFalse(answer.ok)
        XCTAssertEqual(answer.refusal, .failed, "not .invalid: the change is in force")
        XCTAssertTrue((answer.error ?? "").contains("the new limits are in force, but their journal record is not durable"),
                      answer.error ?? "")
        XCTAssertFalse((answer.error ?? "").contains("nothing changed"), answer.error ?? "")
        XCTAssertEqual(f.monitor.limits.maxInventoryUSD, 9_000, "in force")
        XCTAssertFalse(f.monitor.limitsInForceIndeterminate)
        XCTAssertTrue(f.stopMarking())
        f.waitUntilTheRiskSideCaughtUp()
        XCTAssertEqual(try recoveredLimits(f).maxInventoryUSD, 9_000, "durable once the device came back")
    }

    /// The time-of-day schedule's scale is part of a limit change: taken in
    /// part when the risk side takes every other control and not the
    /// scale's. It was put in force after the change, outside it: the new
    /// limits stayed in force, unrecorded, with no halt, and `limits set`
    /// answered "nothing changed" (helper-40).
    func testALimitChangeWhoseScheduleScaleIsNotTakenIsTakenInPart() throws {
        let f = try StalledEngineFixture(stallHaltMilliseconds: 60_000)
        f.startMarking()
        var scheduled = f.monitor.limits
        scheduled.limitSchedule = [LimitWindow(start: "00:00", end: "23:59", timeZone: "UTC", scale: 0.5)]
        let calls = Atomic<Int>(0)
        f.monitor.limitControlWillApply = { _ in calls.add(1, ordering: .relaxed) }
        try f.monitor.updateLimits(scheduled)
        XCTAssertEqual(f.monitor.limitScheduleScale, 0.5)
        XCTAssertEqual(f.monitor.inventoryLimitInForce(symbol: "BTCUSDT"), 2_500)
        let controlsBeforeTheScale = calls.load(ordering: .relaxed) - 1 // the last was the scale's

        // A looser limit and a much tighter schedule; the device stops just
        // before the scale's control.
        nonisolated(unsafe) let fixture = f
        let index = Atomic<Int>(0)
        let held = Atomic<Bool>(false)
        f.monitor.limitControlWillApply = { _ in
            guard index.add(1, ordering: .relaxed).oldValue == controlsBeforeTheScale else { return }
            held.store(true, ordering: .relaxed)
            fixture.disk.freeze()
            XCTAssertTrue(fixture.waitUntilTheRouterWaits(), "the stall held the risk side")
        }
        let commands = OperatorCommands(monitor: f.monitor)
        nonisolated(unsafe) var response: ControlResponse?
        let answered = DispatchSemaphore(value: 0)
        let patch: [String: JSONValue] = [
            "maxInventoryUSD": .number(9_000),
            "limitSchedule": .array([.object(["start": .string("00:00"), "end": .string("23:59"),
                                              "timeZone": .string("UTC"), "scale": .number(0.1)])]),
        ]
        Thread {
            response = commands.handle(.init(operatorName: "alice", command: "limits set", reason: "tighter schedule",
                                             limits: patch), peer: nil)
            answered.signal()
        }.start()
        // 3 s until the scale's control is withdrawn; the refusal's audit record then waits for the device.
        usleep(6_000_000)
        f.disk.thaw()
        XCTAssertEqual(answered.wait(timeout: .now() + 30), .success)
        f.monitor.limitControlWillApply = nil
        XCTAssertTrue(held.load(ordering: .relaxed), "the device stopped before the scale's control")
        let answer = try XCTUnwrap(response)
        XCTAssertEqual(answer.refusal, .failed, answer.error ?? "")
        XCTAssertTrue((answer.error ?? "").contains("taken in part"), answer.error ?? "")
        XCTAssertFalse((answer.error ?? "").contains("nothing changed"), answer.error ?? "")
        XCTAssertEqual(f.monitor.tradingState.mode, .halted, "the limits in force are a mix: trading halts")
        XCTAssertTrue(f.monitor.limitsInForceIndeterminate)
        XCTAssertEqual(f.monitor.lift(reason: "too soon"), .limitsIndeterminate)
        XCTAssertTrue(f.stopMarking())
        f.waitUntilTheRiskSideCaughtUp()
        let recovered = try recoveredLimits(f)
        XCTAssertEqual(recovered.maxInventoryUSD, Self.original, "the change taken in part has no record")
        XCTAssertEqual(recovered.limitSchedule.map(\.scale), [0.5])
    }
}
