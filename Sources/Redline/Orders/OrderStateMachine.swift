/// The order lifecycle as one transition table, over pre-sized storage.
///
///     new -> pending -> acknowledged -> partiallyFilled -> filled
///                  \-> pendingCancel -> canceled          \-> expired
///                  \-> rejected
///
/// Every transition is one line of `OrderStateMachine.next(_:_:hasFills:)`;
/// anything else is `RedlineError.illegalTransition`, never a crash. Orders live
/// in a fixed array of slots with a free list and an active list, so the steady
/// state allocates nothing per order. Not thread-safe: one router owns it.
public final class OrderStateMachine {
    public let capacity: Int
    @usableFromInline var records: ContiguousArray<OrderRecord>
    @usableFromInline var generations: ContiguousArray<UInt32>
    @usableFromInline var freeSlots: ContiguousArray<Int32>
    @usableFromInline var activeSlots: ContiguousArray<Int32>

    public init(capacity: Int = 65_536) {
        precondition(capacity > 0 && capacity <= Int(Int32.max), "capacity must be in 1...Int32.max")
        self.capacity = capacity
        let blank = OrderRecord(
            id: OrderID(rawValue: 0), symbol: SymbolID(rawValue: 0), side: .buy, status: .canceled,
            quantity: 0, price: 0, filled: 0, activeIndex: -1)
        records = ContiguousArray(repeating: blank, count: capacity)
        generations = ContiguousArray(repeating: 0, count: capacity)
        freeSlots = ContiguousArray((0..<Int32(capacity)).reversed())
        activeSlots = []
        activeSlots.reserveCapacity(capacity)
    }

    /// The transition table. nil means illegal.
    public static func next(_ status: OrderStatus, _ event: OrderEventKind, hasFills: Bool) -> OrderStatus? {
        switch (status, event) {
        case (.new, .submit): .pending
        case (.new, .reject): .rejected
        case (.pending, .acknowledge): .acknowledged
        case (.pending, .partialFill): .partiallyFilled
        case (.pending, .fill): .filled
        case (.pending, .requestCancel): .pendingCancel
        case (.pending, .reject): .rejected
        case (.acknowledged, .partialFill): .partiallyFilled
        case (.acknowledged, .fill): .filled
        case (.acknowledged, .requestCancel): .pendingCancel
        case (.acknowledged, .expire): .expired
        case (.partiallyFilled, .partialFill): .partiallyFilled
        case (.partiallyFilled, .fill): .filled
        case (.partiallyFilled, .requestCancel): .pendingCancel
        case (.partiallyFilled, .expire): .expired
        case (.pendingCancel, .acknowledge): .pendingCancel
        case (.pendingCancel, .partialFill): .pendingCancel
        case (.pendingCancel, .fill): .filled
        case (.pendingCancel, .cancelAck): .canceled
        case (.pendingCancel, .cancelReject): hasFills ? .partiallyFilled : .acknowledged
        case (.pendingCancel, .expire): .expired
        case (.pendingCancel, .requestCancel): .pendingCancel
        default: nil
        }
    }

    public var activeCount: Int { activeSlots.count }

    /// Ids of every active order, in no particular order. Allocates: cold path.
    public var activeOrderIDs: [OrderID] { activeSlots.map { records[Int($0)].id } }

    /// Visit every active order without allocating. The body must not open or
    /// retire orders.
    @inlinable
    public func forEachActive(_ body: (OrderRecord) throws(RedlineError) -> Void) throws(RedlineError) {
        for slot in activeSlots { try body(records[Int(slot)]) }
    }

    /// Copy the active slots' ids into `buffer` (cleared first, capacity kept).
    public func collectActive(into buffer: inout ContiguousArray<OrderID>) {
        buffer.removeAll(keepingCapacity: true)
        for slot in activeSlots { buffer.append(records[Int(slot)].id) }
    }

    /// A new order in state `new`.
    @inlinable
    public func open(symbol: SymbolID, side: Side, quantity: Int64, price: Int64) throws(RedlineError) -> OrderID {
        guard let slot32 = freeSlots.popLast() else { throw .orderCapacityExhausted(capacity: capacity) }
        let slot = Int(slot32)
        generations[slot] &+= 1
        let id = OrderID(slot: slot, generation: generations[slot])
        records[slot] = OrderRecord(
            id: id, symbol: symbol, side: side, status: .new, quantity: quantity, price: price, filled: 0,
            activeIndex: -1)
        return id
    }

    /// The order's record, while its slot has not been reused.
    @inlinable
    public func order(_ id: OrderID) throws(RedlineError) -> OrderRecord {
        let slot = id.slot
        guard slot < capacity, records[slot].id == id else { throw .unknownOrder(id) }
        return records[slot]
    }

    /// Apply `event`; for fills, `fillQuantity` is the fixed-point quantity filled.
    /// Returns the new record. On an illegal transition nothing changes.
    @inlinable
    @discardableResult
    public func apply(_ id: OrderID, _ event: OrderEventKind, fillQuantity: Int64 = 0) throws(RedlineError) -> OrderRecord {
        let slot = id.slot
        guard slot < capacity, records[slot].id == id else { throw .unknownOrder(id) }
        let current = records[slot]
        var kind = event
        if event == .partialFill || event == .fill {
            guard fillQuantity > 0, fillQuantity <= current.remaining else {
                throw .illegalTransition(order: id, from: current.status, event: event)
            }
            kind = fillQuantity == current.remaining ? .fill : .partialFill
        }
        guard let next = Self.next(current.status, kind, hasFills: current.filled > 0) else {
            throw .illegalTransition(order: id, from: current.status, event: kind)
        }
        records.withUnsafeMutableBufferPointer { records in
            if kind == .partialFill || kind == .fill { records[slot].filled += fillQuantity }
            records[slot].status = next
        }
        if next.isActive && current.activeIndex < 0 {
            records[slot].activeIndex = Int32(activeSlots.count)
            activeSlots.append(Int32(slot))
        } else if next.isTerminal {
            retire(slot)
        }
        return records[slot]
    }

    /// Drop a terminal order from the active list and free its slot. The record
    /// stays readable by id until the slot is reused.
    @usableFromInline
    func retire(_ slot: Int) {
        let index = Int(records[slot].activeIndex)
        if index >= 0 {
            let last = activeSlots.removeLast()
            if Int(last) != slot {
                activeSlots[index] = last
                records[Int(last)].activeIndex = Int32(index)
            }
            records[slot].activeIndex = -1
        }
        freeSlots.append(Int32(slot))
    }
}
