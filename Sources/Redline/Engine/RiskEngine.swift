import Glibc
import RedlineCore
import Synchronization

/// strategy -> check: the C engine itself. Symbols, the hot-path check and
/// reservation, and reads of the position table. The risk side
/// (`RiskSide`) and the trading-state controller (`TradingStateController`)
/// work on the same engine; this type owns its memory.
final class RiskEngine: @unchecked Sendable {
    /// The `rl_engine_t *`.
    nonisolated(unsafe) let pointer: OpaquePointer
    let symbolCapacity: Int
    let numaNode: Int?
    private let symbolIDs = Mutex<[String: SymbolID]>([:])

    /// - Parameter manualClock: the engine's clock (the staleness rule) is
    ///   moved only by `setClock(nanoseconds:)`, for tests and replays.
    init(limits: RiskLimits.FixedPointLimits, symbolCapacity: Int, numaNode: Int?, manualClock: Bool = false)
        throws(RedlineError)
    {
        guard symbolCapacity > 0, symbolCapacity <= 1 << 24 else {
            throw .invalidLimits("symbolCapacity must be in 1...16777216, got \(symbolCapacity)")
        }
        var config = rl_engine_config_t(
            symbol_capacity: UInt32(symbolCapacity), default_symbol_limit: limits.maxInventory,
            max_total: limits.maxTotal, edge_freeze_threshold_bps: limits.edgeThreshold,
            resume_share: limits.resumeShare, manual_clock: manualClock ? 1 : 0, reserved: 0)
        var created: OpaquePointer?
        try RedlineError.errno(rl_engine_create_on_node(&config, Int32(numaNode ?? -1), &created),
                               operation: "rl_engine_create")
        pointer = created!
        self.symbolCapacity = symbolCapacity
        self.numaNode = numaNode
    }

    deinit { rl_engine_destroy(pointer) }

    /// The one name rule (`rl_symbols_valid_name_n`), on the name's bytes: a
    /// name with an embedded NUL is refused, not cut short.
    static func isValidName(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { rl_symbols_valid_name_n($0.baseAddress, $0.count) }
        }
    }

    /// Register `name` (idempotent) with `limit` (fixed point). Returns its id
    /// and whether it is new.
    func register(_ name: String, limit: Int64) throws(RedlineError) -> (id: SymbolID, isNew: Bool) {
        guard Self.isValidName(name) else { throw .invalidSymbolName(name) }
        let result: Result<(SymbolID, Bool), RedlineError> = symbolIDs.withLock { ids in
            if let id = ids[name] { return .success((id, false)) }
            let rc = rl_engine_add_symbol(pointer, name, limit)
            switch rc {
            case let id where id >= 0:
                let symbolID = SymbolID(rawValue: UInt32(id))
                ids[name] = symbolID
                return .success((symbolID, true))
            case Int64(-EINVAL): return .failure(.invalidLimits("limit \(FixedPoint.double(limit)) for \(name) is out of range or above maxTotalNotional"))
            case Int64(-ENOSPC): return .failure(.symbolRegistryFull(capacity: symbolCapacity))
            default: return .failure(.system(errno: Int32(-rc), operation: "rl_engine_add_symbol(\(name))"))
            }
        }
        return try result.get()
    }

    func symbolID(_ name: String) -> SymbolID? { symbolIDs.withLock { $0[name] } }

    /// Registered symbols by id order.
    var symbolsByID: [(name: String, id: SymbolID)] {
        symbolIDs.withLock { $0 }.sorted { $0.value.rawValue < $1.value.rawValue }.map { ($0.key, $0.value) }
    }

    func symbolName(_ id: SymbolID) -> String? {
        rl_engine_symbol_name(pointer, id.rawValue).map { String(cString: $0) }
    }

    var symbolCount: Int { Int(rl_engine_symbol_count(pointer)) }

    func view(_ id: SymbolID) -> rl_position_view_t {
        var view = rl_position_view_t()
        rl_position_table_read(rl_engine_table(pointer), id.rawValue, &view)
        return view
    }

    var table: OpaquePointer { rl_engine_table(pointer) }
    var total: Int64 { rl_position_table_total(table) }
    var maxTotal: Int64 { rl_position_table_max_total(table) }
    var freezeWord: UInt64 { rl_freeze_load(rl_engine_freeze(pointer)) }
}
