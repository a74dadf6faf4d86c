/// Remembers the tokens of pieces already encoded. Natural text repeats a small set of
/// words, so most pieces cost one hash lookup instead of a merge loop.
///
/// A value type, lent to one encode call at a time as `inout`: reading arrays through a
/// class reference would retain and release them on every lookup.
struct WordCache {
    /// Piece bytes → offset in `tokens` where `count, id, id, ...` is stored.
    private var index = ByteStringTable(capacity: 1 << 14)
    private var tokens: [Int32] = []

    /// Longer pieces are rarely repeated and would crowd out the useful ones.
    static let maxPieceLength = 64
    /// Past this many entries the cache starts over, which keeps memory bounded on
    /// adversarial input without any bookkeeping on the hot path.
    static let maxEntries = 1 << 16

    init() {
        tokens.reserveCapacity(1 << 16)
    }

    /// Appends the cached tokens of `p[0..<n]` and returns true, or returns false.
    @inline(__always)
    func append(_ p: UnsafePointer<UInt8>, _ n: Int, to out: inout [Int32]) -> Bool {
        guard let at = index.find(p, n) else { return false }
        tokens.withUnsafeBufferPointer { t in
            let start = Int(at)
            let count = Int(t[start])
            out.append(contentsOf: UnsafeBufferPointer(rebasing: t[start + 1..<start + 1 + count]))
        }
        return true
    }

    mutating func store(_ p: UnsafePointer<UInt8>, _ n: Int, _ ids: ArraySlice<Int32>) {
        if index.count >= WordCache.maxEntries {
            index.removeAll()
            tokens.removeAll(keepingCapacity: true)
        }
        index.insert(UnsafeBufferPointer(start: p, count: n), Int32(tokens.count))
        tokens.append(Int32(ids.count))
        tokens.append(contentsOf: ids)
    }
}
