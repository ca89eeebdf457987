/// A fixed-size open-addressing hash map from a non-zero 64-bit key (an
/// order id, a client order id) to a value, with linear probing and
/// backward-shift deletion (no tombstones). Allocated once, at most half
/// full: inserting, finding and removing allocate nothing and cost a
/// multiply and a probe or two, where `Dictionary` hashes with SipHash. One
/// thread. Its storage is raw memory behind `let` pointers, so no access
/// pays Swift's exclusivity checks. Call `deallocate()` once.
struct FixedHashMap<Value> {
    private let keys: UnsafeMutablePointer<UInt64>
    private let values: UnsafeMutablePointer<Value>
    private let counter: UnsafeMutablePointer<Int>
    private let mask: Int
    /// Most entries it takes.
    let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0)
        var size = 16
        while size < 2 * capacity { size <<= 1 }
        keys = .allocate(capacity: size)
        keys.initialize(repeating: 0, count: size)
        values = .allocate(capacity: size)
        counter = .allocate(capacity: 1)
        counter.initialize(to: 0)
        mask = size - 1
        self.capacity = capacity
    }

    func deallocate() {
        removeAll()
        keys.deallocate()
        values.deallocate()
        counter.deallocate()
    }

    var count: Int { counter.pointee }

    private func home(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask }

    /// The bucket holding `key`, or nil.
    private func bucket(_ key: UInt64) -> Int? {
        guard key != 0 else { return nil }
        var i = home(key)
        while keys[i] != 0 {
            if keys[i] == key { return i }
            i = (i + 1) & mask
        }
        return nil
    }

    func contains(_ key: UInt64) -> Bool { bucket(key) != nil }

    subscript(key: UInt64) -> Value? {
        guard let i = bucket(key) else { return nil }
        return values[i]
    }

    /// Set `key`'s value. False, and nothing changed, for key 0 or a map at
    /// its capacity that does not hold `key` yet.
    @discardableResult
    func set(_ key: UInt64, _ value: Value) -> Bool {
        guard key != 0 else { return false }
        var i = home(key)
        while keys[i] != 0 {
            if keys[i] == key {
                values[i] = value
                return true
            }
            i = (i + 1) & mask
        }
        guard counter.pointee < capacity else { return false }
        keys[i] = key
        (values + i).initialize(to: value)
        counter.pointee += 1
        return true
    }

    /// Remove `key`; its value, or nil if it was not there.
    @discardableResult
    func remove(_ key: UInt64) -> Value? {
        guard var i = bucket(key) else { return nil }
        let value = (values + i).move()
        counter.pointee -= 1
        // Backward shift: pull the later entries of the run into the gap,
        // unless their home lies after the gap (cyclically) up to them.
        var j = i
        while true {
            j = (j + 1) & mask
            if keys[j] == 0 { break }
            let k = home(keys[j])
            let stays = i <= j ? (i < k && k <= j) : (i < k || k <= j)
            if stays { continue }
            keys[i] = keys[j]
            (values + i).moveInitialize(from: values + j, count: 1)
            i = j
        }
        keys[i] = 0
        return value
    }

    /// Every entry, in no particular order (allocates: off the order path).
    var entries: [(key: UInt64, value: Value)] {
        var all: [(key: UInt64, value: Value)] = []
        all.reserveCapacity(count)
        for i in 0...mask where keys[i] != 0 { all.append((keys[i], values[i])) }
        return all
    }

    func removeAll() {
        guard !_isPOD(Value.self) else {
            // Nothing to release: one pass of zeros, no branch per bucket.
            keys.update(repeating: 0, count: mask + 1)
            counter.pointee = 0
            return
        }
        for i in 0...mask where keys[i] != 0 {
            keys[i] = 0
            (values + i).deinitialize(count: 1)
        }
        counter.pointee = 0
    }
}
