import Foundation
import Redline
import RedlineCore
import XCTest

/// The one codec: every record type round-trips through the C layouts, the
/// limits are a typed record, and an encoding failure is an error.
final class JournalRecordTests: XCTestCase {
    private func roundTrip(_ record: JournalRecord) throws -> JournalRecord {
        let bytes = try record.encode()
        return try bytes.withUnsafeBytes { raw throws(RedlineError) in
            try JournalRecord.decode(type: UInt16(record.type.rawValue), raw)
        }
    }

    func testLimitsAreATypedRecordThatRoundTripsWithOverrides() throws {
        let limits = try RiskLimits(maxInventoryUSD: 5_000.5, maxTotalNotional: 20_000, edgeFreezeThresholdBps: -12.25,
                                    symbolOverrides: ["ETHUSDT": 3_000, "SOLUSDT-PERP": 1_234.56789], resumeShare: 0.9)
        let bytes = try JournalRecord.limits(limits).encode()
        XCTAssertNotEqual(bytes.first, UInt8(ascii: "{"), "binary, not JSON")
        XCTAssertEqual(bytes.count % 8, 0)
        guard case .limits(let decoded) = try roundTrip(.limits(limits)) else { return XCTFail() }
        XCTAssertEqual(decoded, limits)
    }

    func testAnOlderJournalsJSONLimitsStillDecode() throws {
        let json = try JSONEncoder().encode(RiskLimits.default)
        let decoded = try json.withUnsafeBytes { raw throws(RedlineError) in
            try JournalRecord.decode(type: UInt16(RL_JREC_LIMITS.rawValue), raw)
        }
        guard case .limits(let limits) = decoded else { return XCTFail() }
        XCTAssertEqual(limits, .default)
    }

    func testLimitsThatCannotBeEncodedAreAnErrorNotAnEmptyRecord() throws {
        var limits = RiskLimits.default
        limits.symbolOverrides = ["X": .nan]
        XCTAssertThrowsError(try JournalRecord.limits(limits).encode())
    }

    func testEveryOtherRecordRoundTrips() throws {
        var event = rl_event_t()
        event.type = UInt8(RL_EVENT_FILL.rawValue)
        event.symbol = 3
        event.qty = 12_345
        guard case .event(let e) = try roundTrip(.event(event)) else { return XCTFail() }
        XCTAssertEqual(e.qty, 12_345)
        guard case .symbol(let id, let name) = try roundTrip(.symbol(id: 7, name: "BTCUSDT")) else { return XCTFail() }
        XCTAssertEqual(id, 7)
        XCTAssertEqual(name, "BTCUSDT")
        let word = rl_freeze_pack(UInt64(RL_STATE_HALTED.rawValue), UInt64(RL_FREEZE_REASON_MANUAL.rawValue), 9)
        guard case .state(let w, let value, _) = try roundTrip(.state(word: word, value: -5, detail: nil)) else { return XCTFail() }
        XCTAssertEqual(w, word)
        XCTAssertEqual(value, -5)
        var view = rl_position_view_t()
        view.position = 42
        view.mark = 100
        view.buy_price = 100
        view.sell_price = 100
        guard case .position(let symbol, let v) = try roundTrip(.position(symbol: 2, view: view)) else { return XCTFail() }
        XCTAssertEqual(symbol, 2)
        XCTAssertEqual(v.position, 42)
    }

    func testAPayloadThatDoesNotFitItsTypeIsRefusedByName() {
        let short: [UInt8] = [1, 2, 3]
        XCTAssertThrowsError(try short.withUnsafeBytes { raw throws(RedlineError) in
            try JournalRecord.decode(type: UInt16(RL_JREC_EVENT.rawValue), raw)
        }) { error in XCTAssertTrue("\(error)".contains("3-byte event"), "\(error)") }
    }
}
