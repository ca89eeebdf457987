import Foundation
import Redline
import RedlineCore
import XCTest

/// Hostile bytes in the records this version added (a third review): a
/// limit window's weekdays naming no day, and a strategy halt with an action
/// no version knows, are refused; a valid strategy halt replays.
final class JournalHostileRecordTests: XCTestCase {
    private func dynLimits(weekdays: Set<Int>? = [1], zone: String = "UTC") throws -> RiskLimits {
        var limits = try freshMonitor().limits
        limits.limitSchedule = [LimitWindow(start: "09:00", end: "17:00", timeZone: zone, weekdays: weekdays, scale: 0.5)]
        return limits
    }

    private func decode(_ bytes: [UInt8], type: rl_journal_record_type_t = RL_JREC_LIMITS) throws -> JournalRecord {
        try bytes.withUnsafeBytes { raw throws(RedlineError) in try JournalRecord.decode(type: UInt16(type.rawValue), raw) }
    }

    private func limitsBytes(_ limits: RiskLimits) throws -> [UInt8] { try JournalRecord.limits(limits).encode() }

    private func options() -> Journal.Options {
        var options = journalOptions()
        options.snapshotEveryRecords = 0
        return options
    }

    private func record(type: rl_journal_record_type_t, seq: UInt64, salt: UInt32, payload: Data) -> Data {
        var record = Data(count: 32)
        record.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt32(payload.count), toByteOffset: 4, as: UInt32.self)
            raw.storeBytes(of: UInt16(type.rawValue), toByteOffset: 8, as: UInt16.self)
            raw.storeBytes(of: salt, toByteOffset: 12, as: UInt32.self)
            raw.storeBytes(of: seq, toByteOffset: 16, as: UInt64.self)
        }
        record += payload
        record += Data(count: (8 - payload.count % 8) % 8)
        let crc = IndependentJournalReader.crc32c(record.subdata(in: 4..<(32 + payload.count)))
        record.withUnsafeMutableBytes { $0.storeBytes(of: crc, toByteOffset: 0, as: UInt32.self) }
        return record
    }

    private func journalWith(_ extra: [(rl_journal_record_type_t, Data)]) throws -> String {
        let dir = try makeTemporaryDirectory()
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: options(), logger: quietLogger())
        try monitor.register(symbol: "BTCUSDT")
        try monitor.updatePosition(symbol: "BTCUSDT", qty: 0.001, price: 40_000)
        try journal.flush()
        journal.close()
        let name = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("segment-") }.sorted().last)
        let path = "\(dir)/\(name)"
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        let last = try XCTUnwrap(IndependentJournalReader.records(ofSegment: data).last)
        var at = last.end, seq = last.seq + 1
        for (type, payload) in extra {
            let r = record(type: type, seq: seq, salt: IndependentJournalReader.salt(ofSegment: data), payload: payload)
            data.replaceSubrange(at..<(at + r.count), with: r)
            at += r.count; seq += 1
        }
        try data.write(to: URL(fileURLWithPath: path))
        return dir
    }

    private func haltEvent(action: UInt8, strategy: UInt16) -> Data {
        var e = rl_event_t()
        e.type = UInt8(RL_EVENT_STRATEGY_HALT.rawValue)
        e.side = action
        e.strategy = strategy
        e.order_id = rl_freeze_pack(UInt64(RL_STATE_ACTIVE.rawValue), 0, 1)
        e.qty = 500_000
        e.price = 900_000
        e.timestamp_ns = 1_700_000_000_000_000_000
        return withUnsafeBytes(of: &e) { Data($0) }
    }

    func testAWindowsWeekdaysBeyondSundayAreRefused() throws {
        var bytes = try limitsBytes(try dynLimits())
        let weekdays = bytes.count - 8 - 24 + 12
        XCTAssertEqual(bytes[weekdays], 1)
        for hostile: UInt8 in [0x80, 0x81] {
            bytes[weekdays] = hostile
            XCTAssertThrowsError(try decode(bytes), "weekdays \(hostile) must not widen the window") { error in
                XCTAssertTrue("\(error)".contains("name no day"), "\(error)")
            }
        }
        bytes[weekdays] = 1
        guard case .limits(let back) = try decode(bytes) else { return XCTFail("not limits") }
        XCTAssertEqual(back.limitSchedule.first?.weekdays, [1])
    }

    func testAStrategyHaltReplaysAndOneWithAnUnknownActionIsRefused() throws {
        let good = try journalWith([(RL_JREC_EVENT, haltEvent(action: 1, strategy: 7))])
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: good, monitor: monitor, options: options(), logger: quietLogger())
        XCTAssertEqual(monitor.strategyHalts.map(\.strategy), [7])
        XCTAssertEqual(monitor.freezeEvents.last?.strategy, 7)
        journal.close()
        for action: UInt8 in [0, 5, 200] {
            let dir = try journalWith([(RL_JREC_EVENT, haltEvent(action: action, strategy: 7))])
            XCTAssertThrowsError(try Journal.open(directory: dir, monitor: try freshMonitor(), options: options(),
                                                  logger: quietLogger()), "action \(action)") { error in
                XCTAssertTrue("\(error)".contains("strategy halt with action \(action)"), "\(error)")
            }
        }
    }
}
