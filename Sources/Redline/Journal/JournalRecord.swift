import Foundation
import RedlineCore

/// One journal record, as Swift reads and writes it: the one codec. Binary
/// layouts are the C structs of `rl_journal_format.h` (with their static
/// assertions), so the C writer, its shadow and Swift agree by construction.
/// The monitor, snapshots, recovery, the CLI and the tests all go through
/// this type; nothing else knows a payload's offsets.
public enum JournalRecord: Sendable {
    /// RL_JREC_EVENT: a reservation, fill, release, adjustment or mark, as the risk step applied it.
    case event(rl_event_t)
    /// RL_JREC_SYMBOL: a registration.
    case symbol(id: UInt32, name: String)
    /// RL_JREC_FREEZE (HALTED or REDUCING) or RL_JREC_UNFREEZE (ACTIVE): the
    /// freeze word, the value of its cause, and the orchestrator's detail.
    case state(word: UInt64, value: Int64, detail: StateDetail?)
    /// RL_JREC_LIMITS, in fixed point.
    case limits(RiskLimits)
    /// RL_JREC_POSITION (snapshots only).
    case position(symbol: UInt32, view: rl_position_view_t)
    /// RL_JREC_OPEN_ORDER (snapshots only): an order still working.
    case openOrder(rl_journal_open_order_payload_t)
    /// RL_JREC_OPERATOR: an operator's command (who, what, the outcome), the audit trail.
    case operatorAction(OperatorAction)

    /// The JSON the orchestrator adds to a state record.
    public struct StateDetail: Codable, Sendable {
        public var change: TradingStateChange?
        public var freeze: FreezeEvent?
        /// The strategy whose event caused the change: all the risk side's
        /// own record of it says beyond the word.
        public var strategy: UInt16?

        public init(change: TradingStateChange?, freeze: FreezeEvent?, strategy: UInt16? = nil) {
            self.change = change
            self.freeze = freeze
            self.strategy = strategy
        }
    }

    public var type: rl_journal_record_type_t {
        switch self {
        case .event: RL_JREC_EVENT
        case .symbol: RL_JREC_SYMBOL
        case .state(let word, _, _): rl_freeze_word_state(word) == RL_STATE_ACTIVE ? RL_JREC_UNFREEZE : RL_JREC_FREEZE
        case .limits: RL_JREC_LIMITS
        case .position: RL_JREC_POSITION
        case .openOrder: RL_JREC_OPEN_ORDER
        case .operatorAction: RL_JREC_OPERATOR
        }
    }

    // MARK: Encoding

    /// The payload. An encoding failure is an error, never an empty record.
    public func encode() throws(RedlineError) -> [UInt8] {
        switch self {
        case .event(var event):
            return withUnsafeBytes(of: &event) { Array($0) }
        case .symbol(let id, let name):
            return withUnsafeBytes(of: id.littleEndian) { Array($0) } + Array(name.utf8)
        case .state(let word, let value, let detail):
            var head = rl_journal_state_payload_t(word: word, value: value)
            let active = rl_freeze_word_state(word) == RL_STATE_ACTIVE
            var bytes = withUnsafeBytes(of: &head) { Array($0.prefix(active ? 8 : 16)) }
            if let detail {
                do { bytes += try JSONEncoder().encode(detail) } catch {
                    throw .invalidInput("the state record's detail does not encode: \(error)")
                }
            }
            return bytes
        case .limits(let limits):
            let fp = try limits.fixedPoint()
            var head = rl_journal_limits_payload_t(
                max_inventory: fp.maxInventory, max_total: fp.maxTotal, edge_threshold: fp.edgeThreshold,
                resume_share: fp.resumeShare, overrides: UInt32(fp.overrides.count), reserved: 0)
            var bytes = withUnsafeBytes(of: &head) { Array($0) }
            for (name, limit) in fp.overrides.sorted(by: { $0.key < $1.key }) {
                var entry = rl_journal_limit_override_t(limit: limit, name_length: UInt32(name.utf8.count), reserved: 0)
                Self.appendNamed(&bytes, &entry, name)
            }
            if limits.hasOrderRules {
                let rules = fp.rules
                var head = rl_journal_rules_payload_t(
                    magic: RL_JOURNAL_RULES_MAGIC, symbols: UInt32(limits.symbolOrderRules.count),
                    restricted: UInt32(limits.restrictedSymbols.count), flags: rules.defaultRules.flags,
                    defaults: rules.defaultRules)
                bytes += withUnsafeBytes(of: &head) { Array($0) }
                for (name, symbolRules) in limits.symbolOrderRules.sorted(by: { $0.key < $1.key }) {
                    var entry = rl_journal_symbol_rules_t(rules: try symbolRules.fixedPoint(name: name),
                                                          name_length: UInt32(name.utf8.count), reserved: 0)
                    Self.appendNamed(&bytes, &entry, name)
                }
                for name in limits.restrictedSymbols.sorted() {
                    var entry = rl_journal_name_t(name_length: UInt32(name.utf8.count), reserved: 0)
                    Self.appendNamed(&bytes, &entry, name)
                }
            }
            if limits.circuitBreaker != .default || limits.heartbeatTimeoutMilliseconds != nil {
                let c = limits.circuitBreaker.config
                var block = rl_journal_breaker_payload_t(
                    magic: RL_JOURNAL_BREAKER_MAGIC, escalate_after: c.escalate_after, cooldown_ns: c.cooldown_ns,
                    max_cooldown_ns: c.max_cooldown_ns, window_ns: c.window_ns,
                    heartbeat_timeout_ns: UInt64(limits.heartbeatTimeoutNanoseconds))
                bytes += withUnsafeBytes(of: &block) { Array($0) }
            }
            if limits.strategyLimits != .off {
                let strategy = limits.strategyLimits
                var block = rl_journal_strategy_payload_t(
                    magic: RL_JOURNAL_STRATEGY_MAGIC, rate_freeze_after: UInt32(strategy.rateFreezeAfter ?? 0),
                    limits: strategy.cLimits, rate_freeze_window_ns: UInt64(strategy.rateFreezeWindowSeconds * 1e9))
                bytes += withUnsafeBytes(of: &block) { Array($0) }
            }
            if limits.maxDrawdownUSD != nil || limits.dailyLossLimitUSD != nil {
                var block = rl_journal_loss_payload_t(
                    magic: RL_JOURNAL_LOSS_MAGIC, reserved: 0, max_drawdown: fp.maxDrawdown,
                    daily_loss_limit: fp.dailyLossLimit, day_begins_ns: fp.dayBeginsNanoseconds)
                bytes += withUnsafeBytes(of: &block) { Array($0) }
            }
            if limits.hasFeedGuards {
                var block = rl_journal_guards_payload_t(
                    magic: RL_JOURNAL_GUARDS_MAGIC, reserved: 0, stale_data_ns: UInt64(limits.staleDataNanoseconds),
                    backpressure_ns: UInt64(limits.journalBackpressureNanoseconds))
                bytes += withUnsafeBytes(of: &block) { Array($0) }
            }
            if !limits.limitSchedule.isEmpty || limits.volatilityScaling != nil {
                let (reference, floor, cap) = limits.volatilityScaling?.fixedPoint ?? (0, 0, 0)
                var block = rl_journal_dynamic_payload_t(
                    magic: RL_JOURNAL_DYNAMIC_MAGIC, windows: UInt32(limits.limitSchedule.count), vol_reference: reference,
                    vol_floor: floor, vol_cap: cap)
                bytes += withUnsafeBytes(of: &block) { Array($0) }
                for window in limits.limitSchedule {
                    var entry = rl_journal_window_t(
                        scale: Int64((window.scale * Double(RL_FP_SCALE)).rounded()), start_minute: UInt16(window.startMinute),
                        end_minute: UInt16(window.endMinute),
                        weekdays: UInt8((window.weekdays ?? []).reduce(0) { $0 | (1 << ($1 - 1)) }), reserved: (0, 0, 0),
                        name_length: UInt32(window.timeZone.utf8.count), reserved2: 0)
                    Self.appendNamed(&bytes, &entry, window.timeZone)
                }
            }
            return bytes
        case .position(let symbol, let view):
            var payload = rl_journal_position_payload_t(symbol: symbol, reserved: 0, view: view)
            return withUnsafeBytes(of: &payload) { Array($0) }
        case .openOrder(var order):
            return withUnsafeBytes(of: &order) { Array($0) }
        case .operatorAction(let action):
            do { return Array(try OperatorAction.encoder.encode(action)) } catch {
                throw .invalidInput("the operator's action does not encode: \(error)")
            }
        }
    }

    // MARK: Decoding

    /// Decode the payload of a record of `type`. Throws for a payload that
    /// does not fit its type, naming both.
    public static func decode(type: UInt16, _ payload: UnsafeRawBufferPointer) throws(RedlineError) -> JournalRecord {
        func bad(_ why: String) -> RedlineError { .invalidSnapshot("journal record of type \(type): \(why)") }
        switch rl_journal_record_type_t(UInt32(type)) {
        case RL_JREC_EVENT:
            guard payload.count == MemoryLayout<rl_event_t>.size else { throw bad("\(payload.count)-byte event") }
            var event = rl_event_t()
            withUnsafeMutableBytes(of: &event) { $0.copyMemory(from: payload) }
            return .event(event)
        case RL_JREC_SYMBOL:
            guard payload.count > 4 else { throw bad("short symbol") }
            return .symbol(id: payload.loadUnaligned(as: UInt32.self), name: String(decoding: payload[4...], as: UTF8.self))
        case RL_JREC_FREEZE, RL_JREC_UNFREEZE:
            guard payload.count >= 8 else { throw bad("short state") }
            let word = payload.loadUnaligned(as: UInt64.self)
            let freeze = type == UInt16(RL_JREC_FREEZE.rawValue)
            let start = freeze ? MemoryLayout<rl_journal_state_payload_t>.size : 8
            let value = freeze && payload.count >= start ? payload.loadUnaligned(fromByteOffset: 8, as: Int64.self) : 0
            let detail = payload.count > start ? decodeStateDetail(Data(payload[start...])) : nil
            return .state(word: word, value: value, detail: detail)
        case RL_JREC_LIMITS:
            return .limits(try decodeLimits(payload, bad))
        case RL_JREC_POSITION:
            var symbol: UInt32 = 0
            var view = rl_position_view_t()
            let rc = rl_journal_decode_position(payload.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                                UInt32(payload.count), &symbol, &view)
            guard rc == 0 else { throw bad("\(payload.count)-byte position") }
            return .position(symbol: symbol, view: view)
        case RL_JREC_OPEN_ORDER:
            guard payload.count == MemoryLayout<rl_journal_open_order_payload_t>.size else {
                throw bad("\(payload.count)-byte open order")
            }
            var order = rl_journal_open_order_payload_t()
            withUnsafeMutableBytes(of: &order) { $0.copyMemory(from: payload) }
            guard order.order_id != 0, order.remaining > 0 else { throw bad("an open order with no id or nothing left") }
            return .openOrder(order)
        case RL_JREC_OPERATOR:
            do { return .operatorAction(try OperatorAction.decoder.decode(OperatorAction.self, from: Data(payload))) } catch {
                throw bad("an operator's action that does not decode: \(error)")
            }
        default:
            throw bad("unknown type")
        }
    }

    private static func decodeLimits(_ payload: UnsafeRawBufferPointer,
                                     _ bad: (String) -> RedlineError) throws(RedlineError) -> RiskLimits {
        // Journals from before the typed record carry JSON.
        if payload.first == UInt8(ascii: "{") {
            do { return try JSONDecoder().decode(RiskLimits.self, from: Data(payload)) } catch {
                throw bad("limits JSON does not decode: \(error)")
            }
        }
        let headSize = MemoryLayout<rl_journal_limits_payload_t>.size
        guard payload.count >= headSize else { throw bad("short limits") }
        var head = rl_journal_limits_payload_t()
        withUnsafeMutableBytes(of: &head) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: payload[0..<headSize])) }
        var overrides: [String: Double] = [:]
        var offset = headSize
        for _ in 0..<head.overrides {
            let (entry, name) = try readNamed(rl_journal_limit_override_t(), payload, &offset, "limit override", bad)
            overrides[name] = FixedPoint.double(entry.limit)
        }
        var orderRules = OrderRules.off, symbolRules: [String: OrderRules] = [:], restricted: Set<String> = []
        var policy = NoReferencePricePolicy.block
        var breaker = CircuitBreakerSettings.default, heartbeat: Double?
        // Optional blocks, each named by its magic: the rules, then the breaker.
        func magic() -> UInt32? {
            payload.count - offset >= 4 ? payload.loadUnaligned(fromByteOffset: offset, as: UInt32.self) : nil
        }
        if magic() == RL_JOURNAL_RULES_MAGIC {
            let rulesHead = try read(rl_journal_rules_payload_t(), payload, &offset, "order rules", bad)
            orderRules = OrderRules(rulesHead.defaults)
            policy = rulesHead.flags & RL_RULES_ALLOW_NO_REFERENCE.rawValue != 0 ? .allowFirst : .block
            for _ in 0..<rulesHead.symbols {
                let (entry, name) = try readNamed(rl_journal_symbol_rules_t(), payload, &offset, "symbol rules", bad)
                symbolRules[name] = OrderRules(entry.rules)
            }
            for _ in 0..<rulesHead.restricted {
                restricted.insert(try readNamed(rl_journal_name_t(), payload, &offset, "restricted symbol", bad).1)
            }
        }
        if magic() == RL_JOURNAL_BREAKER_MAGIC {
            let block = try read(rl_journal_breaker_payload_t(), payload, &offset, "circuit breaker", bad)
            breaker = CircuitBreakerSettings(
                cooldownSeconds: Double(block.cooldown_ns) / 1e9, maxCooldownSeconds: Double(block.max_cooldown_ns) / 1e9,
                windowSeconds: Double(block.window_ns) / 1e9, escalateAfter: Int(block.escalate_after))
            heartbeat = block.heartbeat_timeout_ns == 0 ? nil : Double(block.heartbeat_timeout_ns) / 1e6
        }
        var strategy = StrategyLimits.off
        if magic() == RL_JOURNAL_STRATEGY_MAGIC {
            let block = try read(rl_journal_strategy_payload_t(), payload, &offset, "strategy limits", bad)
            func n(_ v: UInt32) -> Int? { v == 0 ? nil : Int(v) }
            let l = block.limits
            strategy = StrategyLimits(
                maxOrdersPerSecond: n(l.orders_per_second), maxOrdersPerSecondPerSymbol: n(l.orders_per_second_per_symbol),
                orderBurst: Int(l.order_burst), maxCancelsPerSecond: n(l.cancels_per_second), cancelBurst: Int(l.cancel_burst),
                maxOpenOrders: n(l.max_open_orders), maxOpenOrdersPerSymbol: n(l.max_open_orders_per_symbol),
                rateFreezeAfter: n(block.rate_freeze_after),
                rateFreezeWindowSeconds: Double(block.rate_freeze_window_ns) / 1e9)
        }
        var drawdown: Double?, dailyLoss: Double?, dayBegins = 0.0
        if magic() == RL_JOURNAL_LOSS_MAGIC {
            let block = try read(rl_journal_loss_payload_t(), payload, &offset, "loss limits", bad)
            drawdown = block.max_drawdown == 0 ? nil : FixedPoint.double(block.max_drawdown)
            dailyLoss = block.daily_loss_limit == 0 ? nil : FixedPoint.double(block.daily_loss_limit)
            dayBegins = Double(block.day_begins_ns) / 1e9
        }
        var staleData: Double?, backpressure: Double?
        if magic() == RL_JOURNAL_GUARDS_MAGIC {
            let block = try read(rl_journal_guards_payload_t(), payload, &offset, "feed guards", bad)
            staleData = block.stale_data_ns == 0 ? nil : Double(block.stale_data_ns) / 1e6
            backpressure = block.backpressure_ns == 0 ? nil : Double(block.backpressure_ns) / 1e6
        }
        var schedule: [LimitWindow] = [], volatility: VolatilityScaling?
        if magic() == RL_JOURNAL_DYNAMIC_MAGIC {
            let block = try read(rl_journal_dynamic_payload_t(), payload, &offset, "dynamic limits", bad)
            if block.vol_reference > 0 {
                volatility = VolatilityScaling(referenceVolatility: FixedPoint.double(block.vol_reference),
                                               floor: FixedPoint.double(block.vol_floor), cap: FixedPoint.double(block.vol_cap))
            }
            for _ in 0..<block.windows {
                let (entry, zone) = try readNamed(rl_journal_window_t(), payload, &offset, "limit window", bad)
                func hhmm(_ m: UInt16) -> String {
                    let h = Int(m) / 60, mm = Int(m) % 60
                    return (h < 10 ? "0" : "") + "\(h):" + (mm < 10 ? "0" : "") + "\(mm)"
                }
                guard entry.weekdays & 0x80 == 0 else { throw bad("limit window weekdays \(entry.weekdays) name no day") }
                let days = (1...7).filter { entry.weekdays & (1 << ($0 - 1)) != 0 }
                schedule.append(LimitWindow(start: hhmm(entry.start_minute), end: hhmm(entry.end_minute), timeZone: zone,
                                            weekdays: days.isEmpty ? nil : Set(days), scale: FixedPoint.double(entry.scale)))
            }
        }
        guard offset == payload.count else { throw bad("\(payload.count - offset) bytes after the limits") }
        return try RiskLimits(
            maxInventoryUSD: FixedPoint.double(head.max_inventory), maxTotalNotional: FixedPoint.double(head.max_total),
            edgeFreezeThresholdBps: FixedPoint.double(head.edge_threshold), symbolOverrides: overrides,
            resumeShare: FixedPoint.double(head.resume_share), orderRules: orderRules, symbolOrderRules: symbolRules,
            restrictedSymbols: restricted, noReferencePrice: policy, heartbeatTimeoutMilliseconds: heartbeat,
            circuitBreaker: breaker, strategyLimits: strategy, maxDrawdownUSD: drawdown, dailyLossLimitUSD: dailyLoss,
            dayBeginsSecondsAfterMidnightUTC: dayBegins, staleDataFreezeMilliseconds: staleData,
            journalBackpressureFreezeMilliseconds: backpressure, limitSchedule: schedule, volatilityScaling: volatility)
    }

    /// A fixed-size head, then a name whose length it holds, padded to 8.
    private static func appendNamed<Head>(_ bytes: inout [UInt8], _ head: inout Head, _ name: String) {
        let utf8 = Array(name.utf8)
        bytes += withUnsafeBytes(of: &head) { Array($0) }
        bytes += utf8 + Array(repeating: 0, count: (8 - utf8.count % 8) % 8)
    }

    private static func read<Head>(_ empty: Head, _ payload: UnsafeRawBufferPointer, _ offset: inout Int,
                                   _ what: String, _ bad: (String) -> RedlineError) throws(RedlineError) -> Head {
        var head = empty
        let size = MemoryLayout<Head>.size
        guard payload.count - offset >= size else { throw bad("truncated \(what)") }
        withUnsafeMutableBytes(of: &head) {
            $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: payload[offset..<(offset + size)]))
        }
        offset += size
        return head
    }

    /// A head written by `appendNamed` and its name. Every head that has a
    /// name keeps its length in its last 8 bytes (length, reserved).
    private static func readNamed<Head>(_ empty: Head, _ payload: UnsafeRawBufferPointer, _ offset: inout Int,
                                        _ what: String, _ bad: (String) -> RedlineError) throws(RedlineError)
        -> (Head, String)
    {
        var head = try read(empty, payload, &offset, what, bad)
        let length = withUnsafeBytes(of: &head) { Int($0.load(fromByteOffset: $0.count - 8, as: UInt32.self)) }
        let padded = (length + 7) & ~7
        guard payload.count - offset >= padded else { throw bad("truncated \(what) name") }
        let name = String(decoding: payload[offset..<(offset + length)], as: UTF8.self)
        offset += padded
        return (head, name)
    }

    /// Detail JSON in this format, or an older journal's (a bare `FreezeEvent`).
    static func decodeStateDetail(_ data: Data) -> StateDetail? {
        if let detail = try? JSONDecoder().decode(StateDetail.self, from: data),
           detail.change != nil || detail.freeze != nil || detail.strategy != nil {
            return detail
        }
        if let freeze = try? JSONDecoder().decode(FreezeEvent.self, from: data) {
            return StateDetail(change: nil, freeze: freeze)
        }
        return nil
    }

    /// The state record of a published change, with its detail.
    static func state(of change: TradingStateChange, _ freeze: FreezeEvent?) -> JournalRecord {
        .state(word: change.to.word, value: 0, detail: StateDetail(change: change, freeze: freeze))
    }
}
