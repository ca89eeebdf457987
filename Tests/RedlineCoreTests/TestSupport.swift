import RedlineCore
import XCTest

let S = Int64(RL_FP_SCALE)

func fp(_ value: Double) -> Int64 {
    var out: Int64 = 0
    precondition(rl_fp_from_double(value, RL_FP_ROUND_AWAY, &out) == RL_FP_OK)
    return out
}

/// An engine with the given limits (USD) and symbols, destroyed by the caller.
func makeEngine(symbolLimit: Double = 5_000, maxTotal: Double = 20_000, edgeThreshold: Double = 200,
                symbols: [String] = ["BTCUSDT", "ETHUSDT", "SOLUSDT"], capacity: UInt32 = 0,
                manualClock: Bool = false) -> OpaquePointer {
    var config = rl_engine_config_t(symbol_capacity: capacity, default_symbol_limit: fp(symbolLimit),
                                    max_total: fp(maxTotal), edge_freeze_threshold_bps: fp(edgeThreshold),
                                    resume_share: 0, manual_clock: manualClock ? 1 : 0, reserved: 0)
    var engine: OpaquePointer?
    precondition(rl_engine_create(&config, &engine) == 0)
    for name in symbols { precondition(rl_engine_add_symbol(engine, name, 0) >= 0) }
    return engine!
}

func view(_ engine: OpaquePointer, _ symbol: UInt32) -> rl_position_view_t {
    var v = rl_position_view_t()
    rl_position_table_read(rl_engine_table(engine), symbol, &v)
    return v
}

func event(_ type: rl_event_type_t, symbol: UInt32 = 0, side: rl_side_t = RL_SIDE_BUY, qty: Int64 = 0,
           price: Int64 = 0, value: Int64 = 0, orderID: UInt64 = 0) -> rl_event_t {
    rl_event_t(type: UInt8(type.rawValue), side: UInt8(side.rawValue), strategy: 0, symbol: symbol, order_id: orderID,
               qty: qty, price: price, value: value, timestamp_ns: 0)
}

/// The book's true worst-case exposure: the sum over symbols of the larger
/// side's exposure (what rl_position_table.h's invariant I3 bounds).
func trueExposure(_ engine: OpaquePointer) -> Int64 {
    (0..<rl_engine_symbol_count(engine)).reduce(0) { $0 + rl_position_table_exposure(rl_engine_table(engine), $1) }
}

func total(_ engine: OpaquePointer) -> Int64 { rl_position_table_total(rl_engine_table(engine)) }

func state(_ engine: OpaquePointer) -> rl_trading_state_t { rl_freeze_word_state(rl_freeze_load(rl_engine_freeze(engine))) }

/// Push events into a fresh ring and run one engine step over them.
@discardableResult
func step(_ engine: OpaquePointer, _ events: [rl_event_t]) -> rl_step_result_t {
    var ring: OpaquePointer?
    precondition(rl_spsc_create(1024, &ring) == 0)
    defer { rl_spsc_destroy(ring) }
    for var e in events { precondition(rl_spsc_push(ring, &e) == RL_OK) }
    var result = rl_step_result_t()
    rl_engine_step(engine, ring, 1024, &result)
    return result
}
