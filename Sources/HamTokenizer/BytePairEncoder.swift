/// Hugging Face's BPE model over byte-level pieces: start from one token per byte, then
/// repeatedly merge the adjacent pair with the lowest merge rank, leftmost first.
struct BytePairEncoder: Sendable {
    /// Token id of each byte's alphabet scalar, -1 where the vocabulary lacks it.
    let byteTokens: [Int32]
    let merges: MergeTable
    /// With `fuseUnknown`, a run of bytes missing from the vocabulary becomes one unknown token.
    let unknownToken: Int32?
    let fuseUnknown: Bool
    /// `ignore_merges`: a piece that is itself a vocabulary token is taken whole.
    let wholePieces: ByteStringTable?
    /// What becomes of a byte without a token. Hugging Face drops it before merging, so its
    /// neighbours can merge across it; llama.cpp keeps it as a symbol that merges with nothing
    /// and drops it at the end.
    let missingBytesStayInPlace: Bool

    /// The symbol of a byte without a token in llama.cpp's way: no merge has it (the merge
    /// table's empty key is (-1, -1), so it must not be -1).
    static let placeholder = Int32.min

    init(byteTokens: [Int32], merges: MergeTable, unknownToken: Int32?, fuseUnknown: Bool,
         wholePieces: ByteStringTable?, missingBytesStayInPlace: Bool = false) {
        self.byteTokens = byteTokens
        self.merges = merges
        self.unknownToken = unknownToken
        self.fuseUnknown = fuseUnknown
        self.wholePieces = wholePieces
        self.missingBytesStayInPlace = missingBytesStayInPlace
    }

    /// Words up to this many symbols are merged by rescanning a flat array each step, which
    /// beats a heap for the short words that make up almost all text.
    static let linearLimit = 48

    /// Appends the tokens of the piece `p[0..<n]` (n > 0).
    func encode(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [Int32]) {
        if let wholePieces, let id = wholePieces.find(p, n) {
            out.append(id)
            return
        }
        if n <= 512 {
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: n) { symbols in
                if let sym = symbols.baseAddress { merge(p, n, sym, into: &out) }
            }
        } else {
            // Pieces can be megabytes long (one huge word); keep those off the stack.
            var symbols = [Int32](repeating: 0, count: n)
            symbols.withUnsafeMutableBufferPointer { if let sym = $0.baseAddress { merge(p, n, sym, into: &out) } }
        }
    }

    @inline(__always)
    private func merge(_ p: UnsafePointer<UInt8>, _ n: Int, _ sym: UnsafeMutablePointer<Int32>, into out: inout [Int32]) {
        let m = initialSymbols(p, n, sym)
        if m == 0 { return }
        let count = merges.withLookup { lookup in
            m <= BytePairEncoder.linearLimit
                ? BytePairEncoder.mergeLinear(sym, m, lookup)
                : BytePairEncoder.mergeWithHeap(sym, m, lookup)
        }
        if missingBytesStayInPlace {
            for k in 0..<count where sym[k] != BytePairEncoder.placeholder { out.append(sym[k]) }
        } else {
            out.append(contentsOf: UnsafeBufferPointer(start: sym, count: count))
        }
    }

    /// One symbol per byte; bytes without a token are dropped, or become the unknown token,
    /// exactly as Hugging Face's `BPE::merge_word` does. Returns the symbol count.
    @inline(__always)
    private func initialSymbols(_ p: UnsafePointer<UInt8>, _ n: Int, _ sym: UnsafeMutablePointer<Int32>) -> Int {
        byteTokens.withUnsafeBufferPointer { table in
            var m = 0
            var pendingUnknown = false
            for i in 0..<n {
                let id = table[Int(p[i])]
                if id >= 0 {
                    if pendingUnknown, let unknownToken {
                        sym[m] = unknownToken
                        m += 1
                        pendingUnknown = false
                    }
                    sym[m] = id
                    m += 1
                } else if missingBytesStayInPlace {
                    sym[m] = BytePairEncoder.placeholder
                    m += 1
                } else if let unknownToken {
                    if pendingUnknown && !fuseUnknown {
                        sym[m] = unknownToken
                        m += 1
                    }
                    pendingUnknown = true
                }
            }
            if pendingUnknown, let unknownToken {
                sym[m] = unknownToken
                m += 1
            }
            return m
        }
    }

    /// O(m²) merging for short words: rescan the pair ranks for the lowest each step.
    static func mergeLinear(_ sym: UnsafeMutablePointer<Int32>, _ m: Int, _ lookup: MergeLookup) -> Int {
        if m < 2 { return m }
        return withUnsafeTemporaryAllocation(of: (rank: UInt32, result: Int32).self, capacity: m) { pairsBuffer in
            guard let pairs = pairsBuffer.baseAddress else { return m }
            var count = m
            for k in 0..<count - 1 { pairs[k] = lookup(sym[k], sym[k + 1]) }
            while count > 1 {
                var best = MergeTable.noRank
                var at = -1
                for k in 0..<count - 1 where pairs[k].rank < best {
                    best = pairs[k].rank
                    at = k
                }
                if at < 0 { break }
                sym[at] = pairs[at].result
                // Close the gap left by the right-hand symbol.
                var k = at + 1
                while k < count - 1 {
                    sym[k] = sym[k + 1]
                    pairs[k] = pairs[k + 1]
                    k += 1
                }
                count -= 1
                if at > 0 { pairs[at - 1] = lookup(sym[at - 1], sym[at]) }
                if at < count - 1 { pairs[at] = lookup(sym[at], sym[at + 1]) }
            }
            return count
        }
    }

    /// O(m log m) merging for long words (long runs of spaces or punctuation, base64 blobs):
    /// a min-heap of (rank, position) over a linked list of symbols, like Hugging Face's
    /// `Word::merge_all`. Stale heap entries are recognised by their rank no longer matching
    /// the pair now at that position (each pair has exactly one rank).
    static func mergeWithHeap(_ sym: UnsafeMutablePointer<Int32>, _ m: Int, _ lookup: MergeLookup) -> Int {
        var next = [Int](0..<m).map { $0 + 1 }
        var prev = [Int](0..<m).map { $0 - 1 }
        var alive = [Bool](repeating: true, count: m)
        var heap = MinHeap()
        for k in 0..<m - 1 {
            let r = lookup(sym[k], sym[k + 1]).rank
            if r != MergeTable.noRank { heap.push(rank: r, position: k) }
        }
        while let (rank, pos) = heap.pop() {
            guard alive[pos], next[pos] < m else { continue }
            let right = next[pos]
            let pair = lookup(sym[pos], sym[right])
            guard pair.rank == rank else { continue }
            sym[pos] = pair.result
            alive[right] = false
            next[pos] = next[right]
            if next[pos] < m { prev[next[pos]] = pos }
            if prev[pos] >= 0 {
                let r = lookup(sym[prev[pos]], sym[pos]).rank
                if r != MergeTable.noRank { heap.push(rank: r, position: prev[pos]) }
            }
            if next[pos] < m {
                let r = lookup(sym[pos], sym[next[pos]]).rank
                if r != MergeTable.noRank { heap.push(rank: r, position: pos) }
            }
        }
        var count = 0
        var k = 0
        while k < m {
            sym[count] = sym[k]
            count += 1
            k = next[k]
        }
        return count
    }
}

/// Binary min-heap of (rank, position), ordered by rank then position.
private struct MinHeap {
    private var items: [UInt64] = []

    mutating func push(rank: UInt32, position: Int) {
        items.append(UInt64(rank) << 32 | UInt64(position))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent] <= items[i] { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> (UInt32, Int)? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < items.count && items[l] < items[smallest] { smallest = l }
                if r < items.count && items[r] < items[smallest] { smallest = r }
                if smallest == i { break }
                items.swapAt(i, smallest)
                i = smallest
            }
        }
        return (UInt32(top >> 32), Int(top & 0xFFFF_FFFF))
    }
}
