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
    /// Orders working at the end of what was replayed: in doubt until the
    /// venue is asked. The same rules as the writer's shadow (rl_journal.c).
    private(set) var openOrders: [UInt64: rl_journal_open_order_payload_t] = [:]

    /// The highest router session in any order id replayed.
    private(set) var highestSession: UInt16 = 0

    /// The open orders as the monitor's in-doubt list, oldest id first.
    var inDoubt: [InDoubtOrder] {
        openOrders.values.sorted { $0.order_id < $1.order_id }.map {
            InDoubtOrder(id: OrderID(rawValue: $0.order_id), symbol: SymbolID(rawValue: $0.symbol),
                         side: $0.side == 0 ? .buy : .sell, remaining: $0.remaining, price: $0.price)
        }
    }

    private func track(_ event: rl_event_t) {
        guard event.order_id != 0 else { return }
        highestSession = max(highestSession, OrderID(rawValue: event.order_id).session)
        switch rl_event_type_t(UInt32(event.type)) {
        case RL_EVENT_ORDER_ACCEPTED, RL_EVENT_ORDER_ADOPTED:
            openOrders[event.order_id] = rl_journal_open_order_payload_t(
                order_id: event.order_id, symbol: event.symbol, side: event.side, reserved: (0, 0, 0),
                remaining: event.qty, price: event.price)
        case RL_EVENT_FILL:
            guard var order = openOrders[event.order_id] else { return }
            order.remaining -= event.qty
            openOrders[event.order_id] = order.remaining > 0 ? order : nil
        case RL_EVENT_CANCEL_ACK, RL_EVENT_REJECT, RL_EVENT_EXPIRE:
            openOrders[event.order_id] = nil
        default:
            break
        }
    }

    init(monitor: RuntimeRiskMonitor) {
        self.monitor = monitor
        context.owner = Unmanaged.passUnretained(self)
    }

    /// A visitor that only lets the scanner check every record.
    static let validate: rl_journal_visit_fn = { _, _, _ in 0 }

    func check() throws(RedlineError) {
        if let error { throw error }
    }

    /// The reason a record could not be applied, once: recovery to last good
    /// reports it as the damage it stepped over.
    func takeError() -> RedlineError? {
        defer { error = nil }
        return error
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
        let record: JournalRecord
        do { record = try JournalRecord.decode(type: header.type, payload) } catch {
            return fail(.journalCorrupt(directory: "", damage: "record \(seq): \(error)"))
        }
        switch record {
        case .event(let event) where event.type == UInt8(RL_EVENT_STRATEGY_HALT.rawValue):
            // History only: the strategy belonged to a router of the earlier process.
            guard monitor.trading.replay(strategyRecord: event) else {
                return fail(.journalCorrupt(directory: "", damage:
                    "record \(seq): a strategy halt with action \(event.side), which this version does not know"))
            }
        case .event(var event):
            guard rl_engine_replay_event(monitor.engineHandle, &event) else {
                return fail(.journalCorrupt(directory: "", damage: "record \(seq): event for symbol \(event.symbol) cannot apply"))
            }
            track(event)
        case .openOrder(let order):
            openOrders[order.order_id] = order
            highestSession = max(highestSession, OrderID(rawValue: order.order_id).session)
        case .symbol(let id, let name):
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
        case .limits(let limits):
            do {
                try monitor.updateLimits(limits, journal: false)
                sawLimits = true
            } catch {
                return fail(error)
            }
        case .state(let word, let value, let detail):
            monitor.trading.replay(word: word, value: value, detail: detail,
                                   timestamp: Date(timeIntervalSince1970: Double(header.timestamp_ns) / 1e9))
        case .operatorAction(let action):
            try? monitor.recordOperatorAction(action, journal: false) // with journal: false it never throws
        case .position(let symbol, var view):
            guard rl_engine_restore_position(monitor.engineHandle, symbol, &view) == 0 else {
                return fail(.invalidSnapshot("record \(seq): position for symbol \(symbol) does not restore"))
            }
        }
        return 0
    }
}
