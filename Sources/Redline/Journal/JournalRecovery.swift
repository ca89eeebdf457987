import Foundation
import RedlineCore

/// Rebuilds a monitor from journal records (a snapshot's, then the
/// segments'), as the C scanner visits them. Errors stop the scan and are
/// rethrown by `check()`.
final class JournalRecovery {
    struct Context {
        var owner: Unmanaged<JournalRecovery>?
        var replayed = 0
    }

    let monitor: RuntimeRiskMonitor
    var context = Context()
    private(set) var error: RedlineError?
    /// Symbols and limits the records carried: what the journal already knows.
    private(set) var symbolsSeen = 0
    private(set) var sawLimits = false

    init(monitor: RuntimeRiskMonitor) {
        self.monitor = monitor
        context.owner = Unmanaged.passUnretained(self)
    }

    /// A visitor that only lets the scanner check every record.
    static let validate: rl_journal_visit_fn = { _, _, _ in 0 }

    func check() throws(RedlineError) {
        if let error { throw error }
    }

    func fail(_ error: RedlineError) -> Int32 {
        self.error = error
        return -EBADMSG
    }

    /// The C visitor: `context` points at a `Context`.
    static let visit: rl_journal_visit_fn = { context, header, payload in
        let recovery = context!.assumingMemoryBound(to: Context.self).pointee.owner!.takeUnretainedValue()
        let rc = recovery.apply(header!.pointee, UnsafeRawBufferPointer(start: payload, count: Int(header!.pointee.length)))
        if rc == 0 { context!.assumingMemoryBound(to: Context.self).pointee.replayed += 1 }
        return rc
    }

    private func apply(_ header: rl_journal_record_header_t, _ payload: UnsafeRawBufferPointer) -> Int32 {
        let seq = header.seq
        switch rl_journal_record_type_t(UInt32(header.type)) {
        case RL_JREC_EVENT:
            guard var event = JournalCodec.decodeEvent(payload) else {
                return fail(.invalidSnapshot("record \(seq): event of \(payload.count) bytes"))
            }
            guard rl_engine_replay_event(monitor.engineHandle, &event) else {
                return fail(.journalCorrupt(directory: "", damage: "record \(seq): event for symbol \(event.symbol) cannot apply"))
            }
        case RL_JREC_SYMBOL:
            guard let (id, name) = JournalCodec.decodeSymbol(payload) else {
                return fail(.invalidSnapshot("record \(seq): short symbol record"))
            }
            do {
                let registered = try monitor.register(symbol: name, journal: false)
                symbolsSeen = max(symbolsSeen, Int(id) + 1)
                guard registered.rawValue == id else {
                    return fail(.journalCorrupt(directory: "", damage:
                        "symbol \(name) is id \(id) in the journal but \(registered.rawValue) in this monitor: create the monitor without symbols and let the journal register them"))
                }
            } catch {
                return fail(error)
            }
        case RL_JREC_LIMITS:
            do {
                let limits = try JSONDecoder().decode(RiskLimits.self, from: Data(payload))
                try monitor.updateLimits(limits, journal: false)
                sawLimits = true
            } catch let error as RedlineError {
                return fail(error)
            } catch {
                return fail(.invalidSnapshot("record \(seq): limits do not decode: \(error)"))
            }
        case RL_JREC_FREEZE, RL_JREC_UNFREEZE:
            let freeze = header.type == UInt16(RL_JREC_FREEZE.rawValue)
            guard let (word, value, detail) = JournalCodec.decodeState(payload, freeze: freeze) else {
                return fail(.invalidSnapshot("record \(seq): short freeze record"))
            }
            monitor.trading.replay(word: word, value: value, detail: detail,
                                   timestamp: Date(timeIntervalSince1970: Double(header.timestamp_ns) / 1e9))
        case RL_JREC_POSITION:
            guard let (symbol, view) = JournalCodec.decodePosition(payload) else {
                return fail(.invalidSnapshot("record \(seq): position record of \(payload.count) bytes"))
            }
            var restored = view
            guard rl_position_table_restore(rl_engine_table(monitor.engineHandle), symbol, &restored) == 0 else {
                return fail(.invalidSnapshot("record \(seq): position for symbol \(symbol) does not restore"))
            }
        default:
            return fail(.journalCorrupt(directory: "", damage: "record \(seq): unknown type \(header.type)"))
        }
        return 0
    }
}
