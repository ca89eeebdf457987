/// The client order ids of a router's working orders, so that an id already
/// working is refused (`DUPLICATE_ORDER_ID`). A fixed-size open-addressing
/// set with linear probing, and the id of each order by its state-machine
/// slot, both allocated once: the order path allocates nothing. One thread
/// (the router's). Id 0 means "none" and is never stored.
struct WorkingClientIDs {
    private let ids: FixedHashMap<Void>
    private let bySlot: UnsafeMutablePointer<UInt64>
    private let slots: Int

    /// `orderCapacity` ids at once, for orders in slots 0..<`slotCount`
    /// (`OrderStateMachine.slotCount`: every slot an order can have).
    init(orderCapacity: Int, slotCount: Int) {
        precondition(slotCount >= orderCapacity)
        ids = FixedHashMap(capacity: orderCapacity)
        slots = slotCount
        bySlot = .allocate(capacity: slotCount)
        bySlot.initialize(repeating: 0, count: slotCount)
    }

    func deallocate() {
        ids.deallocate()
        bySlot.deallocate()
    }

    func contains(_ id: UInt64) -> Bool { ids.contains(id) }

    /// The order in `slot` works under `id` (not 0, not already working).
    func insert(_ id: UInt64, slot: Int) {
        guard id != 0, slot < slots, ids.set(id, ()) else { return }
        bySlot[slot] = id
    }

    /// The order in `slot` finished: its id may be used again. With no id
    /// working (a strategy that sends none), nothing is read: a burst of
    /// acks does not miss on `bySlot` once per order.
    func remove(slot: Int) {
        guard ids.count > 0, slot < slots, bySlot[slot] != 0 else { return }
        ids.remove(bySlot[slot])
        bySlot[slot] = 0
    }
}
