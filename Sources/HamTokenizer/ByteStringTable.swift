/// A hash map from byte strings to `Int32`, with its keys packed in one arena.
///
/// Looking a word up must not allocate (Dictionary<[UInt8], _> would build an array per
/// query), and loading 128k vocabulary keys must not create 128k objects.
struct ByteStringTable {
    private(set) var arena: [UInt8] = []
    private var keyStart: [Int32] = []
    private var keyLength: [Int32] = []
    private(set) var values: [Int32] = []
    /// Open addressing: entry index + 1, 0 when empty.
    private var slots: [Int32]
    private var slotHash: [UInt32]
    private var mask: Int

    var count: Int { values.count }

    init(capacity: Int = 16) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: 0, count: size)
        slotHash = [UInt32](repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>?, _ count: Int) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: count)
        guard let p, count > 0 else { return h ^ (h >> 29) }
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= count {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            i += 8
        }
        if i < count {
            var w: UInt64 = 0
            var shift: UInt64 = 0
            while i < count {
                w |= UInt64(p[i]) << shift
                shift += 8
                i += 1
            }
            h = (h ^ w) &* 0x94D0_49BB_1331_11EB
        }
        h ^= h >> 29
        return h
    }

    /// The value stored for the key `p[0..<count]`, or nil.
    @inline(__always)
    func find(_ p: UnsafePointer<UInt8>?, _ count: Int) -> Int32? {
        let h = ByteStringTable.hash(p, count)
        let tag = UInt32(truncatingIfNeeded: h >> 32)
        var s = Int(truncatingIfNeeded: h) & mask
        return slots.withUnsafeBufferPointer { slots in
            slotHash.withUnsafeBufferPointer { slotHash in
                arena.withUnsafeBufferPointer { arena in
                    while true {
                        let e = Int(slots[s])
                        if e == 0 { return nil }
                        if slotHash[s] == tag && Int(keyLength[e - 1]) == count {
                            let start = Int(keyStart[e - 1])
                            if count == 0 {
                                return values[e - 1]
                            }
                            if let a = arena.baseAddress, let p, memoryEqual(a + start, p, count) {
                                return values[e - 1]
                            }
                        }
                        s = (s + 1) & mask
                    }
                }
            }
        }
    }

    func find(_ bytes: [UInt8]) -> Int32? {
        bytes.withUnsafeBufferPointer { find($0.baseAddress, $0.count) }
    }

    /// Stores `value` for the key, replacing an earlier value for the same key.
    /// Returns the value replaced, if any.
    @discardableResult
    mutating func insert(_ key: UnsafeBufferPointer<UInt8>, _ value: Int32) -> Int32? {
        if (count + 1) * 2 > slots.count { grow() }
        let count = key.count
        let h = ByteStringTable.hash(key.baseAddress, count)
        let tag = UInt32(truncatingIfNeeded: h >> 32)
        var s = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = Int(slots[s])
            if e == 0 { break }
            if slotHash[s] == tag && Int(keyLength[e - 1]) == count
                && arena[Int(keyStart[e - 1])..<Int(keyStart[e - 1]) + count].elementsEqual(key) {
                let old = values[e - 1]
                values[e - 1] = value
                return old
            }
            s = (s + 1) & mask
        }
        keyStart.append(Int32(arena.count))
        keyLength.append(Int32(count))
        arena.append(contentsOf: key)
        values.append(value)
        slots[s] = Int32(values.count)
        slotHash[s] = tag
        return nil
    }

    @discardableResult
    mutating func insert(_ key: [UInt8], _ value: Int32) -> Int32? {
        key.withUnsafeBufferPointer { insert($0, value) }
    }

    /// The key of entry `index` (insertion order).
    func key(at index: Int) -> ArraySlice<UInt8> {
        let s = Int(keyStart[index])
        return arena[s..<s + Int(keyLength[index])]
    }

    mutating func removeAll() {
        arena.removeAll(keepingCapacity: true)
        keyStart.removeAll(keepingCapacity: true)
        keyLength.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        for i in slots.indices { slots[i] = 0 }
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = [Int32](repeating: 0, count: size)
        slotHash = [UInt32](repeating: 0, count: size)
        mask = size - 1
        arena.withUnsafeBufferPointer { arena in
            for e in 0..<values.count {
                let start = Int(keyStart[e])
                let h = ByteStringTable.hash(arena.baseAddress.map { $0 + start }, Int(keyLength[e]))
                var s = Int(truncatingIfNeeded: h) & mask
                while slots[s] != 0 { s = (s + 1) & mask }
                slots[s] = Int32(e + 1)
                slotHash[s] = UInt32(truncatingIfNeeded: h >> 32)
            }
        }
    }
}

@inline(__always)
func memoryEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while i + 8 <= count {
        if ra.loadUnaligned(fromByteOffset: i, as: UInt64.self) != rb.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < count {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}
