/// BPE merge ranks keyed by the ids of the two tokens merged.
///
/// The merge loop asks this once per adjacent pair per step, so it is an open-addressing
/// table whose probe touches one 16-byte slot: key, rank and result together.
struct MergeTable {
    struct Slot {
        var key: UInt64
        var rank: UInt32
        var result: Int32
    }

    static let noRank = UInt32.max
    private static let emptyKey = UInt64.max

    private var slots: [Slot]
    private var shift: UInt64
    private(set) var count = 0

    /// Sized for a load factor between 1/3 and 2/3: the table for Llama 3's 280k merges is
    /// 8 MB, and a smaller table is faster to build and to probe than an emptier one.
    init(capacity: Int) {
        var bits: UInt64 = 4
        while (1 << bits) < capacity * 3 / 2 { bits += 1 }
        slots = [Slot](repeating: Slot(key: MergeTable.emptyKey, rank: 0, result: 0), count: 1 << bits)
        shift = 64 - bits
    }

    /// Builds the table from merges listed in rank order (a later duplicate wins).
    ///
    /// Inserting in list order writes to random slots of an 8 MB table, one cache miss per
    /// merge; inserting in home-slot order (a stable counting sort first) writes it nearly
    /// sequentially, which makes loading Llama 3's merges several times faster.
    init(merges: [(left: Int32, right: Int32, result: Int32)]) {
        self.init(capacity: merges.count)
        let size = slots.count
        var counts = [Int32](repeating: 0, count: size + 1)
        var home = [Int32](repeating: 0, count: merges.count)
        for (i, m) in merges.enumerated() {
            let h = Int(truncatingIfNeeded: (MergeTable.key(m.left, m.right) &* 0x9E37_79B9_7F4A_7C15) >> shift)
            home[i] = Int32(h)
            counts[h + 1] += 1
        }
        for k in 0..<size { counts[k + 1] += counts[k] }
        var order = [Int32](repeating: 0, count: merges.count)
        for i in merges.indices {
            let h = Int(home[i])
            order[Int(counts[h])] = Int32(i)
            counts[h] += 1
        }
        for i in order {
            let m = merges[Int(i)]
            insert(left: m.left, right: m.right, rank: UInt32(i), result: m.result)
        }
    }

    @inline(__always)
    static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Records a merge; a later merge of the same pair replaces the earlier one, as in
    /// Hugging Face (which collects merges into a hash map).
    mutating func insert(left: Int32, right: Int32, rank: UInt32, result: Int32) {
        if (count + 1) * 3 > slots.count * 2 { grow() }
        let k = MergeTable.key(left, right)
        let mask = slots.count - 1
        var s = Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while slots[s].key != MergeTable.emptyKey && slots[s].key != k { s = (s + 1) & mask }
        if slots[s].key == MergeTable.emptyKey { count += 1 }
        slots[s] = Slot(key: k, rank: rank, result: result)
    }

    private mutating func grow() {
        let old = slots
        var bits: UInt64 = 64 - shift + 1
        if bits > 40 { bits = 40 }
        slots = [Slot](repeating: Slot(key: MergeTable.emptyKey, rank: 0, result: 0), count: 1 << bits)
        shift = 64 - bits
        count = 0
        let mask = slots.count - 1
        for slot in old where slot.key != MergeTable.emptyKey {
            var s = Int(truncatingIfNeeded: (slot.key &* 0x9E37_79B9_7F4A_7C15) >> shift)
            while slots[s].key != MergeTable.emptyKey { s = (s + 1) & mask }
            slots[s] = slot
            count += 1
        }
    }

    /// Read access for the merge loop, which holds the buffer for a whole word.
    func withLookup<R>(_ body: (MergeLookup) -> R) -> R {
        // `slots` always has at least 16 entries, so the base address exists.
        slots.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { preconditionFailure("empty merge table") }
            return body(MergeLookup(slots: base, mask: buffer.count - 1, shift: shift))
        }
    }
}

struct MergeLookup {
    let slots: UnsafePointer<MergeTable.Slot>
    let mask: Int
    let shift: UInt64

    /// The rank and result of merging `left` and `right`; rank `MergeTable.noRank` if none.
    @inline(__always)
    func callAsFunction(_ left: Int32, _ right: Int32) -> (rank: UInt32, result: Int32) {
        let k = MergeTable.key(left, right)
        var s = Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while true {
            let slot = slots[s]
            if slot.key == k { return (slot.rank, slot.result) }
            if slot.key == UInt64.max { return (MergeTable.noRank, -1) }
            s = (s + 1) & mask
        }
    }
}
