import Foundation
import RedlineCore

/// The one place Swift reads and writes journal payloads. Binary layouts are
/// the C structs in rl_journal.h (with their static asserts); JSON detail is
/// Codable. Everything else calls these.
enum JournalCodec {
    /// RL_JREC_SYMBOL: uint32 id, then the name's bytes.
    static func symbol(_ id: SymbolID, _ name: String) -> [UInt8] {
        withUnsafeBytes(of: id.rawValue.littleEndian) { Array($0) } + Array(name.utf8)
    }

    static func decodeSymbol(_ payload: UnsafeRawBufferPointer) -> (UInt32, String)? {
        guard payload.count > 4 else { return nil }
        return (payload.loadUnaligned(as: UInt32.self), String(decoding: payload[4...], as: UTF8.self))
    }

    /// RL_JREC_EVENT: one rl_event_t.
    static func decodeEvent(_ payload: UnsafeRawBufferPointer) -> rl_event_t? {
        guard payload.count == MemoryLayout<rl_event_t>.size else { return nil }
        var event = rl_event_t()
        withUnsafeMutableBytes(of: &event) { $0.copyMemory(from: payload) }
        return event
    }

    /// RL_JREC_POSITION: rl_journal_position_payload_t.
    static func position(_ id: SymbolID, _ view: rl_position_view_t) -> [UInt8] {
        var payload = rl_journal_position_payload_t(symbol: id.rawValue, reserved: 0, view: view)
        return withUnsafeBytes(of: &payload) { Array($0) }
    }

    static func decodePosition(_ payload: UnsafeRawBufferPointer) -> (UInt32, rl_position_view_t)? {
        var symbol: UInt32 = 0
        var view = rl_position_view_t()
        let rc = rl_journal_decode_position(payload.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                            UInt32(payload.count), &symbol, &view)
        return rc == 0 ? (symbol, view) : nil
    }

    /// RL_JREC_LIMITS: the limits as JSON.
    static func limits(_ limits: RiskLimits) -> [UInt8] {
        (try? JSONEncoder().encode(limits)).map { Array($0) } ?? []
    }

    /// The JSON the orchestrator adds to a state record.
    struct StateDetail: Codable {
        var change: TradingStateChange?
        var freeze: FreezeEvent?
    }

    /// RL_JREC_FREEZE (16 bytes: rl_journal_state_payload_t) or RL_JREC_UNFREEZE
    /// (its first 8 bytes), then JSON detail.
    static func state(word: UInt64, value: Int64, detail: StateDetail?) throws -> [UInt8] {
        var head = rl_journal_state_payload_t(word: word, value: value)
        let active = rl_freeze_word_state(word) == RL_STATE_ACTIVE
        let bytes = withUnsafeBytes(of: &head) { Array($0.prefix(active ? 8 : 16)) }
        return try bytes + (detail.map { Array(try JSONEncoder().encode($0)) } ?? [])
    }

    static func stateDetail(_ change: TradingStateChange, _ freeze: FreezeEvent?) throws -> [UInt8] {
        try state(word: change.to.word, value: 0, detail: StateDetail(change: change, freeze: freeze))
    }

    /// (word, value, JSON detail) of an RL_JREC_FREEZE or RL_JREC_UNFREEZE.
    static func decodeState(_ payload: UnsafeRawBufferPointer, freeze: Bool) -> (UInt64, Int64, Data?)? {
        guard payload.count >= 8 else { return nil }
        let word = payload.loadUnaligned(as: UInt64.self)
        let start = freeze ? 16 : 8
        let value = freeze && payload.count >= 16 ? payload.loadUnaligned(fromByteOffset: 8, as: Int64.self) : 0
        let detail = payload.count > start ? Data(payload[start...]) : nil
        return (word, value, detail)
    }

    /// Detail JSON in this format, or an older journal's (a bare `FreezeEvent`).
    static func decodeStateDetail(_ data: Data) -> StateDetail? {
        if let detail = try? JSONDecoder().decode(StateDetail.self, from: data),
            detail.change != nil || detail.freeze != nil
        {
            return detail
        }
        if let freeze = try? JSONDecoder().decode(FreezeEvent.self, from: data) {
            return StateDetail(change: nil, freeze: freeze)
        }
        return nil
    }
}
