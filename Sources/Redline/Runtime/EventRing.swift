import RedlineCore

/// A Swift owner for one C SPSC ring of `rl_event_t` (rl_spsc.h).
///
/// The ring struct is over-aligned, so Swift sees it only as an opaque pointer;
/// C allocates it and the inline C functions do the work. Exactly one thread
/// may push and exactly one thread may consume.
public final class EventRing: @unchecked Sendable {
    @usableFromInline nonisolated(unsafe) let pointer: OpaquePointer
    public let capacity: Int

    /// `capacity` must be a power of two, at least 2. `numaNode`: where the
    /// ring's memory lives (the consumer's node); nil for any.
    public init(capacity: Int, numaNode: Int? = nil) throws(RedlineError) {
        var ring: OpaquePointer?
        try RedlineError.errno(rl_spsc_create_on_node(UInt64(max(capacity, 0)), Int32(numaNode ?? -1), &ring),
                               operation: "rl_spsc_create(\(capacity))")
        pointer = ring!
        self.capacity = capacity
    }

    deinit { rl_spsc_destroy(pointer) }

    /// Producer: `RL_OK` or `RL_FULL` (nothing written).
    @inlinable
    public func push(_ event: inout rl_event_t) -> rl_result_t {
        rl_spsc_push(pointer, &event)
    }

    /// Consumer: one event, or nil when empty.
    @inlinable
    public func pop() -> rl_event_t? {
        var event = rl_event_t()
        return rl_spsc_pop(pointer, &event) == RL_OK ? event : nil
    }

    /// Consumer: up to `buffer.count` events into `buffer`; returns how many.
    @inlinable
    public func popBatch(into buffer: UnsafeMutableBufferPointer<rl_event_t>) -> Int {
        Int(rl_spsc_pop_batch(pointer, buffer.baseAddress, UInt64(buffer.count)))
    }

    /// Events waiting now (approximate while both sides run).
    public var depth: Int { Int(rl_spsc_depth(pointer)) }

    /// Pushes refused with `RL_FULL` since creation.
    public var fullCount: UInt64 { rl_spsc_full_count(pointer) }

    /// Events ever pushed.
    public var pushedCount: UInt64 { rl_spsc_pushed(pointer) }

    /// Events ever consumed (applied by the risk side).
    public var consumedCount: UInt64 { rl_spsc_consumed(pointer) }

    /// Producer: free slots now.
    @inlinable
    public var writable: Int { Int(rl_spsc_writable(pointer, rl_spsc_capacity(pointer))) }
}

extension rl_event_t {
    /// An event for `symbol` with the given fixed-point fields.
    @inlinable
    public init(type: rl_event_type_t, symbol: UInt32 = 0, side: Side = .buy, orderID: UInt64 = 0,
                qty: Int64 = 0, price: Int64 = 0, value: Int64 = 0, timestampNs: UInt64 = 0) {
        self.init(type: UInt8(type.rawValue), side: side.rawValue, strategy: 0, symbol: symbol, order_id: orderID,
                  qty: qty, price: price, value: value, timestamp_ns: timestampNs)
    }
}
