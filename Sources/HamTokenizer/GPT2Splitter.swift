/// GPT-2's pre-tokenizer pattern as llama.cpp cuts text with it:
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
///
/// llama.cpp runs this pattern as hand-written code (`unicode_regex_split_custom_gpt2`), which
/// is what this follows, with llama.cpp's Unicode tables: the contractions are case-sensitive,
/// and whitespace that the pattern leaves unmatched (one space before a non-space) is a piece
/// of its own, as a regex split that keeps the gaps makes it.
///
/// `isolatesDigits` puts llama.cpp's `\p{N}` split first, as its `smollm` (StarCoder) family
/// does: every number scalar is a piece alone, and the pattern then runs on the stretches
/// between them, each a text of its own (a lookahead cannot see past its end).
struct GPT2Splitter: @unchecked Sendable {
    let classes: ScalarClass = .llamaCpp
    let isolatesDigits: Bool

    /// Past the end of the stretch the pattern runs on.
    private static let outside: UInt8 = 0xFF

    /// The class and length of the scalar at `j`, `outside` past the stretch.
    @inline(__always)
    private func scalar(_ p: UnsafePointer<UInt8>, _ n: Int, _ j: Int) -> (cls: UInt8, len: Int) {
        if j >= n { return (GPT2Splitter.outside, 0) }
        let s = classes.scalar(p, j)
        if isolatesDigits && s.cls == ScalarClass.number { return (GPT2Splitter.outside, 0) }
        return s
    }

    /// End (exclusive byte offset) of the piece that starts at `i` (< `n`).
    func pieceEnd(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: Int) -> Int {
        let b0 = p[i]
        let (c0, l0) = classes.scalar(p, i)
        if isolatesDigits && c0 == ScalarClass.number { return i + l0 }

        // 's|'t|'re|'ve|'m|'ll|'d, ASCII and case-sensitive.
        if b0 == UInt8(ascii: "'") && i + 1 < n {
            switch p[i + 1] {
            case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
                return i + 2
            case UInt8(ascii: "r"), UInt8(ascii: "v"):
                if i + 2 < n && p[i + 2] == UInt8(ascii: "e") { return i + 3 }
            case UInt8(ascii: "l"):
                if i + 2 < n && p[i + 2] == UInt8(ascii: "l") { return i + 3 }
            default:
                break
            }
        }

        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: a run of one class, after an optional space.
        var start = i
        var c = c0
        if b0 == UInt8(ascii: " ") {
            start = i + 1
            c = scalar(p, n, start).cls
        }
        if c == ScalarClass.letter || c == ScalarClass.number || c == ScalarClass.other {
            var j = start
            while true {
                let (cj, lj) = scalar(p, n, j)
                if cj != c { return j }
                j += lj
            }
        }

        // `\s+(?!\S)`, and the whitespace it leaves: a run of two or more before a non-space
        // leaves its last scalar to the next piece; a run at the end, or of one, is one piece.
        var j = i
        var lastStart = i
        var count = 0
        while true {
            let (cj, lj) = scalar(p, n, j)
            guard cj == ScalarClass.space || cj == ScalarClass.newline else { break }
            lastStart = j
            j += lj
            count += 1
        }
        if count > 1 && scalar(p, n, j).cls != GPT2Splitter.outside { return lastStart }
        if count > 0 { return j }
        return i + l0
    }
}
