/// The client order ids of a router's working orders, so that an id already
/// working is refused (`DUPLICATE_ORDER_ID`). A fixed-size open-addressing
/// set with linear probing, and the id of each order by its state-machine
/// slot, both allocated once: the order path allocates nothing. One thread
/// (the router's). Id 0 means "none" and is never stored.
struct WorkingClientIDs {
    private let keys: UnsafeMutablePointer<UInt64>
    private let mask: Int
    private let bySlot: UnsafeMutablePointer<UInt64>
    private let slots: Int

    init(orderCapacity: Int) {
        var size = 16
        while size < 2 * orderCapacity { size <<= 1 }  // at most half full
        keys = .allocate(capacity: size)
        keys.initialize(repeating: 0, count: size)
        mask = size - 1
        slots = orderCapacity
        bySlot = .allocate(capacity: orderCapacity)
        bySlot.initialize(repeating: 0, count: orderCapacity)
    }

    func deallocate() {
        keys.deallocate()
        bySlot.deallocate()
    }

    private func home(_ id: UInt64) -> Int { Int(truncatingIfNeeded: (id &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask }

    func contains(_ id: UInt64) -> Bool {
        var i = home(id)
        while keys[i] != 0 {
            if keys[i] == id { return true }
            i = (i + 1) & mask
        }
        return false
    }

    /// The order in `slot` works under `id` (not 0, not already working).
    func insert(_ id: UInt64, slot: Int) {
        guard id != 0, slot < slots else { return }
        var i = home(id)
        while keys[i] != 0 { i = (i + 1) & mask }
        keys[i] = id
        bySlot[slot] = id
    }

    /// The order in `slot` finished: its id may be used again.
    func remove(slot: Int) {
        guard slot < slots, bySlot[slot] != 0 else { return }
        let id = bySlot[slot]
        bySlot[slot] = 0
        var i = home(id)
        while keys[i] != id {
            if keys[i] == 0 { return }
            i = (i + 1) & mask
        }
        // Backward-shift deletion: pull later entries of the run into the gap.
        var j = i
        while true {
            j = (j + 1) & mask
            if keys[j] == 0 { break }
            let k = home(keys[j])
            let stays = i <= j ? (i < k && k <= j) : (i < k || k <= j)
            if stays { continue }
            keys[i] = keys[j]
            i = j
        }
        keys[i] = 0
    }
}
