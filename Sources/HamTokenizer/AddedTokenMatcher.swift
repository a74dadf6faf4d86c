/// One entry of tokenizer.json's `added_tokens`.
public struct AddedToken: Sendable, Equatable {
    public let id: Int32
    public let content: String
    /// Special tokens can be skipped when decoding and are not parsed from text when
    /// `parseSpecialTokens` is false.
    public let isSpecial: Bool
    /// Matches only when not inside a word (`\w` on neither side).
    public let singleWord: Bool
    /// Swallows the whitespace on its left.
    public let lstrip: Bool
    /// Swallows the whitespace on its right.
    public let rstrip: Bool
    /// Matched after normalization (hamrun supports no normalizer, so: matched in the gaps
    /// that the non-normalized tokens leave, which is where Hugging Face looks for them).
    public let normalized: Bool
}

/// Finds added tokens in text before pre-tokenization, as Hugging Face's
/// `AddedVocabulary::find_matches` does: leftmost-longest non-overlapping matches over the
/// bytes, then per-token `single_word`, `lstrip` and `rstrip` adjustments.
struct AddedTokenMatcher: Sendable {
    enum Segment: Equatable {
        case text(Range<Int>)
        case token(Int32)
    }

    private let tokens: [AddedToken]
    private let contents: [[UInt8]]
    /// Byte trie: `children[node]` is a sorted list of (byte, child); `terminal[node]` the
    /// index in `tokens` of the token ending there, or -1.
    private var childBytes: [[UInt8]] = [[]]
    private var childNodes: [[Int32]] = [[]]
    private var terminal: [Int32] = [-1]
    /// Quick rejection: does any token start with this byte?
    private var startsToken = [Bool](repeating: false, count: 256)

    var isEmpty: Bool { tokens.isEmpty }

    init(_ tokens: [AddedToken]) {
        self.tokens = tokens
        self.contents = tokens.map { Array($0.content.utf8) }
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

    /// Splits `p[range]` (a whole sentence, as far as word boundaries and stripping are
    /// concerned) into text and token segments. `skipSpecial` leaves special tokens as text.
    func split(_ p: UnsafePointer<UInt8>, _ range: Range<Int>, skipSpecial: Bool, into out: inout [Segment]) {
        var i = range.lowerBound
        let end = range.upperBound
        var startOffset = range.lowerBound
        while i < end {
            if !startsToken[Int(p[i])] {
                i += 1
                continue
            }
            // Longest token starting at i.
            var node = 0
            var j = i
            var found = -1
            var foundEnd = i
            while j < end {
                guard let k = childBytes[node].firstIndex(of: p[j]) else { break }
                node = Int(childNodes[node][k])
                j += 1
                if terminal[node] >= 0 {
                    found = Int(terminal[node])
                    foundEnd = j
                }
            }
            if found < 0 {
                i += 1
                continue
            }
            // The search resumes after this match even when the match is then discarded,
            // as the Aho-Corasick iterator Hugging Face uses does.
            i = foundEnd
            let token = tokens[found]
            if skipSpecial && token.isSpecial { continue }
            var start = foundEnd - contents[found].count
            var stop = foundEnd
            if token.singleWord {
                let wordBefore = start > range.lowerBound && isWordScalar(lastScalar(p, range.lowerBound, start))
                let wordAfter = stop < end && isWordScalar(firstScalar(p, stop, end))
                if wordBefore || wordAfter { continue }
            }
            if token.lstrip {
                var s = start
                while s > range.lowerBound {
                    let (v, len) = lastScalarAndLength(p, range.lowerBound, s)
                    if !isWhitespace(v) { break }
                    s -= len
                }
                start = max(s, startOffset)
            }
            if token.rstrip {
                while stop < end {
                    let (v, len) = firstScalarAndLength(p, stop, end)
                    if !isWhitespace(v) { break }
                    stop += len
                }
            }
            if startOffset < start { out.append(.text(startOffset..<start)) }
            out.append(.token(token.id))
            startOffset = stop
        }
        if startOffset < end { out.append(.text(startOffset..<end)) }
    }

    // MARK: scalars around a position (the text is valid UTF-8)

    private func firstScalarAndLength(_ p: UnsafePointer<UInt8>, _ at: Int, _ end: Int) -> (UInt32, Int) {
        let b0 = p[at]
        if b0 < 0x80 { return (UInt32(b0), 1) }
        let len = b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4
        var v = UInt32(b0) & (0x7F >> UInt32(len))
        for k in 1..<len where at + k < end { v = v << 6 | UInt32(p[at + k] & 0x3F) }
        return (v, len)
    }

    private func firstScalar(_ p: UnsafePointer<UInt8>, _ at: Int, _ end: Int) -> UInt32 {
        firstScalarAndLength(p, at, end).0
    }

    private func lastScalarAndLength(_ p: UnsafePointer<UInt8>, _ begin: Int, _ before: Int) -> (UInt32, Int) {
        var s = before - 1
        while s > begin && p[s] & 0xC0 == 0x80 { s -= 1 }
        return (firstScalarAndLength(p, s, before).0, before - s)
    }

    private func lastScalar(_ p: UnsafePointer<UInt8>, _ begin: Int, _ before: Int) -> UInt32 {
        lastScalarAndLength(p, begin, before).0
    }

    /// `\s` of Rust's regex crate, which Hugging Face uses for stripping: White_Space.
    private func isWhitespace(_ v: UInt32) -> Bool {
        Unicode.Scalar(v)?.properties.isWhitespace ?? false
    }

    /// `\w` of Rust's regex crate: Alphabetic, marks, decimal numbers, connector
    /// punctuation and the joiners (of Unicode 16, like the split pattern's classes).
    private func isWordScalar(_ v: UInt32) -> Bool {
        guard let s = Unicode.Scalar(v) else { return false }
        let p = s.properties
        if ScalarClass.huggingFace.isNewerThanReference(p) { return false }
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation:
            return true
        default:
            return false
        }
    }
}
