/// A hash map from byte strings to `Int32`, with its keys packed in one arena.
///
/// Looking a word up must not allocate (Dictionary<[UInt8], _> would build an array per
/// query), and loading 128k vocabulary keys must not create 128k objects. A slot holds
/// everything a lookup needs except the key bytes, so a lookup touches two cache lines:
/// loading Llama 3's merges does 840k lookups into a table far larger than the cache.
struct ByteStringTable {
    private struct Slot {
        /// High bits of the hash, to skip most key comparisons.
        var tag: UInt32
        var value: Int32
        var keyStart: UInt32
        /// Key length + 1; 0 marks an empty slot.
        var keyLengthPlusOne: UInt32
        /// Index in the insertion-ordered entries.
        var entry: Int32
    }

    private(set) var arena: [UInt8] = []
    /// Insertion-ordered entries, for iteration: key range and value.
    private var entryStart: [UInt32] = []
    private var entryLength: [UInt32] = []
    private(set) var values: [Int32] = []
    private var slots: [Slot]
    private var mask: Int

    var count: Int { values.count }

    init(capacity: Int = 16) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Slot](repeating: Slot(tag: 0, value: 0, keyStart: 0, keyLengthPlusOne: 0, entry: 0), count: size)
        mask = size - 1
        arena.reserveCapacity(capacity * 6)
        entryStart.reserveCapacity(capacity)
        entryLength.reserveCapacity(capacity)
        values.reserveCapacity(capacity)
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

    /// The slot holding the key `p[0..<count]`, or the empty slot where it would go.
    @inline(__always)
    private func slotIndex(_ p: UnsafePointer<UInt8>?, _ count: Int, _ h: UInt64) -> Int {
        let tag = UInt32(truncatingIfNeeded: h >> 32)
        let want = UInt32(truncatingIfNeeded: count + 1)
        var s = Int(truncatingIfNeeded: h) & mask
        return slots.withUnsafeBufferPointer { slots in
            arena.withUnsafeBufferPointer { arena in
                while true {
                    let slot = slots[s]
                    if slot.keyLengthPlusOne == 0 { return s }
                    if slot.tag == tag && slot.keyLengthPlusOne == want {
                        if count == 0 { return s }
                        if let a = arena.baseAddress, let p, memoryEqual(a + Int(slot.keyStart), p, count) { return s }
                    }
                    s = (s + 1) & mask
                }
            }
        }
    }

    /// The value stored for the key `p[0..<count]`, or nil.
    @inline(__always)
    func find(_ p: UnsafePointer<UInt8>?, _ count: Int) -> Int32? {
        let s = slotIndex(p, count, ByteStringTable.hash(p, count))
        return slots.withUnsafeBufferPointer { $0[s].keyLengthPlusOne == 0 ? nil : $0[s].value }
    }

    func find(_ bytes: [UInt8]) -> Int32? {
        bytes.withUnsafeBufferPointer { find($0.baseAddress, $0.count) }
    }

    /// Stores `value` for the key, replacing an earlier value for the same key.
    /// Returns the value replaced, if any.
    @discardableResult
    mutating func insert(_ key: UnsafeBufferPointer<UInt8>, _ value: Int32) -> Int32? {
        if (count + 1) * 2 > slots.count { grow() }
        let h = ByteStringTable.hash(key.baseAddress, key.count)
        let s = slotIndex(key.baseAddress, key.count, h)
        if slots[s].keyLengthPlusOne != 0 {
            let old = slots[s].value
            slots[s].value = value
            values[Int(slots[s].entry)] = value
            return old
        }
        let start = UInt32(arena.count)
        arena.append(contentsOf: key)
        slots[s] = Slot(tag: UInt32(truncatingIfNeeded: h >> 32), value: value, keyStart: start,
                        keyLengthPlusOne: UInt32(key.count + 1), entry: Int32(values.count))
        entryStart.append(start)
        entryLength.append(UInt32(key.count))
        values.append(value)
        return nil
    }

    @discardableResult
    mutating func insert(_ key: [UInt8], _ value: Int32) -> Int32? {
        key.withUnsafeBufferPointer { insert($0, value) }
    }

    /// The key of entry `index` (insertion order).
    func key(at index: Int) -> ArraySlice<UInt8> {
        let s = Int(entryStart[index])
        return arena[s..<s + Int(entryLength[index])]
    }

    mutating func removeAll() {
        arena.removeAll(keepingCapacity: true)
        entryStart.removeAll(keepingCapacity: true)
        entryLength.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        for i in slots.indices { slots[i].keyLengthPlusOne = 0 }
    }

    private mutating func grow() {
        let old = slots
        let size = slots.count * 2
        slots = [Slot](repeating: Slot(tag: 0, value: 0, keyStart: 0, keyLengthPlusOne: 0, entry: 0), count: size)
        mask = size - 1
        arena.withUnsafeBufferPointer { arena in
            for slot in old where slot.keyLengthPlusOne != 0 {
                let length = Int(slot.keyLengthPlusOne) - 1
                let h = ByteStringTable.hash(arena.baseAddress.map { $0 + Int(slot.keyStart) }, length)
                var s = Int(truncatingIfNeeded: h) & mask
                while slots[s].keyLengthPlusOne != 0 { s = (s + 1) & mask }
                slots[s] = slot
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
