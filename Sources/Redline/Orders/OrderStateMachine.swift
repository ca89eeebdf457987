import RedlineCore

/// The order lifecycle as one transition table, over pre-sized storage.
///
///     new -> pending -> acknowledged -> partiallyFilled -> filled
///                  \-> pendingCancel -> canceled          \-> expired
///                  \-> rejected
///
/// Every transition is one line of `OrderStateMachine.next(_:_:hasFills:)`;
/// anything else is `RedlineError.illegalTransition`, never a crash. Orders live
/// in a fixed array of slots (twice the capacity: see `slotCount`) with a ring of
/// free slots, reused longest-free first, and an active list, so the steady
/// state allocates nothing per order. Not thread-safe: one router owns it.
/// Storage is raw memory allocated once: `let` pointers to it are not subject
/// to Swift's dynamic exclusivity checks or copy-on-write checks, which cost
/// more than the transitions themselves when the storage was arrays.
public final class OrderStateMachine {
    public let capacity: Int
    /// Slots in all: `capacity` and as many again held back, so that a slot
    /// freed waits at least `capacity` new orders before it is reused, even
    /// with the book full (a late fill still finds its finished order).
    public let slotCount: Int
    @usableFromInline let records: UnsafeMutablePointer<OrderRecord>
    @usableFromInline let generations: UnsafeMutablePointer<UInt32>
    /// Free slots in the order they were freed (a ring: `freeCount` entries
    /// from `freeHead`), the longest free reused first. A finished order's
    /// record stays readable by its id until its slot is reused, so a venue's
    /// late answer (a fill after the cancel ack) still finds it: with the
    /// slots reused last-freed first, the very next order took its slot and
    /// the late fill was lost.
    @usableFromInline let freeSlots: UnsafeMutablePointer<Int32>
    /// Bits of an id that name its slot (at least 16, enough for `slotCount`);
    /// the slot's generation has the rest below the session's 16.
    public let slotBits: Int
    @usableFromInline let activeSlots: UnsafeMutablePointer<Int32>
    /// Each slot's place in `activeSlots`, -1 when not active. Kept apart
    /// from the records: retiring an order moves the last active one into
    /// its place, and touching that order's record (a cache miss in a large
    /// book) cost more than the whole transition during a cancel-all.
    @usableFromInline let activeIndex: UnsafeMutablePointer<Int32>
    /// The counts, in raw memory too: a `var` of the class would pay a
    /// dynamic exclusivity check on every order.
    @usableFromInline struct Counts {
        @usableFromInline var free: Int
        @usableFromInline var active: Int
        @usableFromInline var adopted: Int
        @usableFromInline var freeHead: Int
    }
    @usableFromInline let counts: UnsafeMutablePointer<Counts>
    @usableFromInline var freeCount: Int {
        get { counts.pointee.free }
        set { counts.pointee.free = newValue }
    }
    @usableFromInline var activeCountStorage: Int {
        get { counts.pointee.active }
        set { counts.pointee.active = newValue }
    }
    /// The top 16 bits of every id this machine makes.
    public let session: UInt16
    /// Orders adopted from before a restart, by their old ids (cold: only
    /// looked up when an id's own slot does not hold it, and only touched
    /// when `counts.adopted` says it holds any).
    @usableFromInline var adopted: [OrderID: Int32] = [:] {
        didSet { counts.pointee.adopted = adopted.count }
    }
    @usableFromInline var hasAdopted: Bool { counts.pointee.adopted != 0 }

    public init(capacity: Int = 65_536, session: UInt16 = 0) {
        self.session = session
        precondition(capacity > 0 && capacity <= Int(Int32.max), "capacity must be in 1...Int32.max")
        self.capacity = capacity
        slotCount = min(2 * capacity, Int(Int32.max))
        slotBits = max(16, Int.bitWidth - (slotCount - 1).leadingZeroBitCount)
        let blank = OrderRecord(
            id: OrderID(rawValue: 0), symbol: SymbolID(rawValue: 0), side: .buy, status: .canceled,
            quantity: 0, price: 0, filled: 0)
        records = .allocate(capacity: slotCount)
        records.initialize(repeating: blank, count: slotCount)
        generations = .allocate(capacity: slotCount)
        generations.initialize(repeating: 0, count: slotCount)
        freeSlots = .allocate(capacity: slotCount)
        for i in 0..<slotCount { (freeSlots + i).initialize(to: Int32(i)) }
        activeSlots = .allocate(capacity: slotCount)
        activeSlots.initialize(repeating: -1, count: slotCount)
        activeIndex = .allocate(capacity: slotCount)
        activeIndex.initialize(repeating: -1, count: slotCount)
        counts = .allocate(capacity: 1)
        counts.initialize(to: Counts(free: slotCount, active: 0, adopted: 0, freeHead: 0))
    }

    deinit {
        records.deinitialize(count: slotCount).deallocate()
        generations.deinitialize(count: slotCount).deallocate()
        freeSlots.deinitialize(count: slotCount).deallocate()
        activeSlots.deinitialize(count: slotCount).deallocate()
        activeIndex.deinitialize(count: slotCount).deallocate()
        counts.deinitialize(count: 1).deallocate()
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
        case (.pending, .expire): .expired            // an IOC the venue ended before its ack
        case (.pending, .cancelAck): .canceled        // an IOC with nothing to match, a post-only that would cross
        case (.acknowledged, .partialFill): .partiallyFilled
        case (.acknowledged, .fill): .filled
        case (.acknowledged, .requestCancel): .pendingCancel
        case (.acknowledged, .expire): .expired
        case (.acknowledged, .cancelAck): .canceled   // the venue canceled it: after a refused cancel, or its own
        case (.partiallyFilled, .partialFill): .partiallyFilled
        case (.partiallyFilled, .fill): .filled
        case (.partiallyFilled, .requestCancel): .pendingCancel
        case (.partiallyFilled, .expire): .expired
        case (.partiallyFilled, .cancelAck): .canceled
        case (.pendingCancel, .acknowledge): .pendingCancel
        case (.pendingCancel, .partialFill): .pendingCancel
        case (.pendingCancel, .fill): .filled
        case (.pendingCancel, .cancelAck): .canceled
        case (.pendingCancel, .cancelReject): hasFills ? .partiallyFilled : .acknowledged
        case (.pendingCancel, .expire): .expired
        // The order itself refused, its cancel on the way; never one that
        // traded (a venue rejects only what it never worked: that "reject"
        // would be the cancel's, and the rest may still work).
        case (.pendingCancel, .reject): hasFills ? nil : .rejected
        case (.pendingCancel, .requestCancel): .pendingCancel
        default: nil
        }
    }

    public var activeCount: Int { activeCountStorage }

    /// Orders that can still be opened or adopted.
    public var available: Int { freeCount - (slotCount - capacity) }

    /// Ids of every active order, in no particular order. Allocates: cold path.
    public var activeOrderIDs: [OrderID] { (0..<activeCountStorage).map { records[Int(activeSlots[$0])].id } }

    /// Move every active order to `pendingCancel` (each active state may
    /// ask for a cancel) and copy into `buffer` (cleared first, capacity
    /// kept) the ids of those that were not `pendingCancel` already: an order
    /// already waiting for its cancel's answer must not get a second cancel
    /// (a venue's "already pending cancel" reject would put it back to
    /// working before the first cancel lands). One pass over the active
    /// list, the records fetched a few ahead: what a cancel-all does first,
    /// for thousands of orders.
    public func requestCancelAll(into buffer: inout ContiguousArray<OrderID>) {
        buffer.removeAll(keepingCapacity: true)
        let count = activeCountStorage
        for i in 0..<count {
            if i + 8 < count { prefetchRecord(Int(activeSlots[i + 8])) }
            let record = records + Int(activeSlots[i])
            guard record.pointee.status != .pendingCancel else { continue }
            record.pointee.status = Self.next(record.pointee.status, .requestCancel, hasFills: record.pointee.filled > 0)
                ?? record.pointee.status
            record.pointee.cancelFlags = 0
            buffer.append(record.pointee.id)
        }
    }

    /// A cancel for `id` went to the venue: its wait for an answer starts
    /// now (`OrderRecord.cancelWatched`). The record is found while its slot
    /// is not reused.
    @inlinable
    func noteCancelSent(_ id: OrderID, resent: Bool = false) {
        guard let slot = slot(of: id) else { return }
        records[slot].cancelWatched = false
        if resent { records[slot].cancelResent = true }
    }

    /// `id`'s cancel is overdue now: the next look acts on it.
    @inlinable
    func noteCancelOverdue(_ id: OrderID) {
        if let slot = slot(of: id) { records[slot].cancelWatched = true }
    }

    /// What a look learned of `id` from the venue: it said "never received"
    /// (`unknown`), said otherwise (clears that), or the look settled the order.
    @inlinable
    func noteLook(_ id: OrderID, unknown: Bool? = nil, settled: Bool = false) {
        guard let slot = slot(of: id) else { return }
        if let unknown { records[slot].cancelUnknownOnce = unknown }
        if settled { records[slot].cancelSettledByLook = true }
    }

    /// One look for cancels the venue has not answered: copy into `buffer`
    /// (cleared first, capacity kept) the ids of `pendingCancel` orders that
    /// were already `pendingCancel` at the last look (their cancel has waited
    /// at least the time between looks), and mark the others. Returns how
    /// many were marked (they are looked at again). One pass over the active
    /// list; allocates nothing.
    public func collectUnansweredCancels(into buffer: inout ContiguousArray<OrderID>) -> Int {
        buffer.removeAll(keepingCapacity: true)
        var marked = 0
        for i in 0..<activeCountStorage {
            let record = records + Int(activeSlots[i])
            if record.pointee.status != .pendingCancel {
                record.pointee.cancelWatched = false
            } else if record.pointee.cancelWatched {
                buffer.append(record.pointee.id)
            } else {
                record.pointee.cancelWatched = true
                marked += 1
            }
        }
        return marked
    }

    /// A new order in state `new`.
    @inlinable
    public func open(symbol: SymbolID, side: Side, quantity: Int64, price: Int64) throws(RedlineError) -> OrderID {
        let slot = try takeFreeSlot()
        generations[slot] &+= 1
        let id = OrderID(session: session, slot: slot, generation: generations[slot], slotBits: slotBits)
        records[slot] = OrderRecord(
            id: id, symbol: symbol, side: side, status: .new, quantity: quantity, price: price, filled: 0)
        activeIndex[slot] = -1
        return id
    }

    /// Take over an order that was working before a restart, under its old
    /// id, as acknowledged with `remaining` still working (of `quantity`).
    @discardableResult
    public func adopt(_ id: OrderID, symbol: SymbolID, side: Side, quantity: Int64, remaining: Int64,
                      price: Int64) throws(RedlineError) -> OrderRecord {
        guard (try? order(id)) == nil else { throw .invalidInput("order \(id) is already known") }
        guard remaining > 0, remaining <= quantity else { throw .invalidInput("order \(id): \(remaining) of \(quantity) left") }
        let slot = try takeFreeSlot()
        generations[slot] &+= 1
        records[slot] = OrderRecord(id: id, symbol: symbol, side: side, status: .acknowledged, quantity: quantity,
                                    price: price, filled: quantity - remaining)
        enlist(slot)
        adopted[id] = Int32(slot)
        return records[slot]
    }

    /// The longest-free slot, taken; its next is fetched meanwhile.
    @inlinable
    func takeFreeSlot() throws(RedlineError) -> Int {
        guard available > 0 else { throw .orderCapacityExhausted(capacity: capacity) }
        let head = counts.pointee.freeHead
        let slot = Int(freeSlots[head])
        counts.pointee.freeHead = head + 1 == slotCount ? 0 : head + 1
        freeCount -= 1
        if freeCount > 0 { prefetchRecord(Int(freeSlots[counts.pointee.freeHead])) }
        if hasAdopted { forgetAdopted(in: slot) }
        return slot
    }

    /// The slot an id made here names (not checked: see `slot(of:)`).
    @inlinable
    func idSlot(_ id: OrderID) -> Int { Int(truncatingIfNeeded: id.rawValue & (UInt64(1) << UInt64(slotBits) - 1)) }

    /// The slot holding `id`: its own, or where it was adopted.
    @inlinable
    public func slot(of id: OrderID) -> Int? {
        let slot = idSlot(id)
        if slot < slotCount, records[slot].id == id { return slot }
        if !hasAdopted { return nil }
        return adopted[id].map { Int($0) }
    }

    /// Start fetching the record `id` names (its own slot; an adopted order's
    /// is not worth the lookup) and its place in the active list, which its
    /// end takes it off: see `OrderRouter.processExchangeEvents`.
    @inlinable
    func prefetch(_ id: OrderID) {
        let slot = idSlot(id)
        guard slot < slotCount else { return }
        prefetchRecord(slot)
        rl_prefetch_for_write(activeIndex + slot)
    }

    /// Start fetching both lines a record may lie on: records are 48 bytes,
    /// so half of them cross a cache line, and their second half (the fill
    /// counts an answer reads) would otherwise miss after the first arrived.
    @inlinable
    func prefetchRecord(_ slot: Int) {
        let start = UnsafeMutableRawPointer(records + slot)
        rl_prefetch_for_write(start)
        rl_prefetch_for_write(start + (MemoryLayout<OrderRecord>.size - 1))
    }

    /// The order's record, while its slot has not been reused.
    @inlinable
    public func order(_ id: OrderID) throws(RedlineError) -> OrderRecord {
        guard let slot = slot(of: id) else { throw .unknownOrder(id) }
        return records[slot]
    }

    /// Apply `event`; for fills, `fillQuantity` is the fixed-point quantity filled.
    /// Returns the new record. On an illegal transition nothing changes.
    @inlinable
    @discardableResult
    public func apply(_ id: OrderID, _ event: OrderEventKind, fillQuantity: Int64 = 0) throws(RedlineError) -> OrderRecord {
        guard let slot = slot(of: id) else { throw .unknownOrder(id) }
        let record = records + slot
        let current = record.pointee.status
        var kind = event
        if event == .partialFill || event == .fill {
            guard fillQuantity > 0, fillQuantity <= record.pointee.remaining else {
                throw .illegalTransition(order: id, from: current, event: event)
            }
            kind = fillQuantity == record.pointee.remaining ? .fill : .partialFill
        }
        guard let next = Self.next(current, kind, hasFills: record.pointee.filled > 0) else {
            throw .illegalTransition(order: id, from: current, event: kind)
        }
        if kind == .partialFill || kind == .fill {
            record.pointee.filled += fillQuantity
            record.pointee.executed += fillQuantity
        }
        record.pointee.status = next
        if kind == .requestCancel { record.pointee.cancelFlags = 0 } // a new cancel: its own wait
        if next.isActive && activeIndex[slot] < 0 {
            enlist(slot)
        } else if next.isTerminal {
            retire(slot)
        }
        return record.pointee
    }

    /// The venue filled `quantity` more of `id` (any part of it beyond the
    /// order's size, or after it ended, included): see `OrderRecord.executed`.
    /// The record is found while its slot is not reused.
    @inlinable
    func addExecuted(_ id: OrderID, _ quantity: Int64) {
        if let slot = slot(of: id) { records[slot].executed += quantity }
    }

    /// A fill of `id` carried the venue's running total (`OrderRecord.reportsRunningTotals`).
    @inlinable
    func noteRunningTotal(_ id: OrderID) {
        if let slot = slot(of: id) { records[slot].reportsRunningTotals = true }
    }

    /// Put the order in `slot` at the end of the active list.
    @usableFromInline
    func enlist(_ slot: Int) {
        activeIndex[slot] = Int32(activeCountStorage)
        activeSlots[activeCountStorage] = Int32(slot)
        activeCountStorage += 1
    }

    /// Drop a terminal order from the active list and free its slot. The record
    /// stays readable by id until the slot is reused.
    @usableFromInline
    func retire(_ slot: Int) {
        let index = Int(activeIndex[slot])
        if index >= 0 {
            activeCountStorage -= 1
            let last = activeSlots[activeCountStorage]
            if Int(last) != slot {
                activeSlots[index] = last
                activeIndex[Int(last)] = Int32(index)
            }
            activeIndex[slot] = -1
        }
        var tail = counts.pointee.freeHead + freeCount
        if tail >= slotCount { tail -= slotCount }
        freeSlots[tail] = Int32(slot)
        freeCount += 1
    }

    /// A free slot is about to hold another order: an adopted order that
    /// retired from it stops being readable by its old id.
    @usableFromInline
    func forgetAdopted(in slot: Int) {
        if adopted[records[slot].id] == Int32(slot) { adopted[records[slot].id] = nil }
    }
}
