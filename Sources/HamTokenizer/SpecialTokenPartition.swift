/// Finds special tokens in text as llama.cpp's `tokenizer_st_partition` does: token by token,
/// longest text first, each taken at every occurrence from left to right (a match resumes the
/// search after itself) that lies wholly in text no longer token has taken.
///
/// That differs from Hugging Face's leftmost-longest matching only where the texts of two
/// tokens overlap in the text. llama.cpp orders tokens of equal length with `std::sort`, which
/// is not stable; they are taken here in id order, which can differ from llama.cpp only where
/// two tokens of the same length overlap in the text.
struct SpecialTokenPartition: Sendable {
    private let tokens: [AddedToken]
    private let lengths: [Int]
    /// Per token: its place in llama.cpp's order (longest first).
    private let rank: [Int32]
    /// Byte trie of the token texts, as in `AddedTokenMatcher`.
    private var childBytes: [[UInt8]] = [[]]
    private var childNodes: [[Int32]] = [[]]
    private var terminal: [Int32] = [-1]
    private var startsToken = [Bool](repeating: false, count: 256)

    init(_ tokens: [AddedToken]) {
        self.tokens = tokens
        let contents = tokens.map { Array($0.content.utf8) }
        lengths = contents.map(\.count)
        let order = tokens.indices.sorted { a, b in
            contents[a].count != contents[b].count ? contents[a].count > contents[b].count : tokens[a].id < tokens[b].id
        }
        var rank = [Int32](repeating: 0, count: tokens.count)
        for (r, t) in order.enumerated() { rank[t] = Int32(r) }
        self.rank = rank
        for (t, bytes) in contents.enumerated() where !bytes.isEmpty {
            var node = 0
            for b in bytes {
                if let k = childBytes[node].firstIndex(of: b) {
                    node = Int(childNodes[node][k])
                } else {
                    childBytes.append([])
                    childNodes.append([])
                    terminal.append(-1)
                    childBytes[node].append(b)
                    childNodes[node].append(Int32(terminal.count - 1))
                    node = terminal.count - 1
                }
            }
            terminal[node] = Int32(t)
            startsToken[Int(bytes[0])] = true
        }
    }

    /// Splits `p[range]` into text and token segments. `skipSpecial` leaves the special
    /// (control and unknown) tokens as text, as llama.cpp's `parse_special = false` does;
    /// user-defined tokens are found either way.
    func split(_ p: UnsafePointer<UInt8>, _ range: Range<Int>, skipSpecial: Bool, into out: inout [AddedTokenMatcher.Segment]) {
        // Every occurrence of every token: (rank, start), token index.
        var found: [(key: Int, token: Int32)] = []
        var i = range.lowerBound
        while i < range.upperBound {
            if startsToken[Int(p[i])] {
                var node = 0
                var j = i
                while j < range.upperBound, let k = childBytes[node].firstIndex(of: p[j]) {
                    node = Int(childNodes[node][k])
                    j += 1
                    let t = terminal[node]
                    if t >= 0 && !(skipSpecial && tokens[Int(t)].isSpecial) {
                        found.append((Int(rank[Int(t)]) << 40 | (i - range.lowerBound), t))
                    }
                }
            }
            i += 1
        }
        if found.isEmpty {
            if !range.isEmpty { out.append(.text(range)) }
            return
        }
        // In llama.cpp's order, take each occurrence that is still wholly untaken (which also
        // keeps a token's own occurrences from overlapping, the left one first).
        found.sort { $0.key < $1.key }
        var taken = [Bool](repeating: false, count: range.count)
        var matches: [(start: Int, token: Int32)] = []
        for f in found {
            let start = f.key & (1 << 40 - 1)
            let end = start + lengths[Int(f.token)]
            if taken[start..<end].contains(true) { continue }
            for k in start..<end { taken[k] = true }
            matches.append((start, f.token))
        }
        matches.sort { $0.start < $1.start }
        var at = range.lowerBound
        for m in matches {
            let start = range.lowerBound + m.start
            if at < start { out.append(.text(at..<start)) }
            out.append(.token(tokens[Int(m.token)].id))
            at = start + lengths[Int(m.token)]
        }
        if at < range.upperBound { out.append(.text(at..<range.upperBound)) }
    }
}
