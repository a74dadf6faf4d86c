/// The Llama 3 pre-tokenizer pattern as a hand-written scanner:
///
///     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
///     | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
///
/// Hugging Face runs it with Oniguruma (first alternative that matches wins, then the next
/// search starts where the match ended). Every scalar is matched by some alternative, so the
/// pieces tile the text and "find the next match" reduces to "where does the match that
/// starts here end". A regex engine would spend most of its time rediscovering that.
///
/// llama.cpp runs the same pattern as hand-written code too (`unicode_regex_split_custom_llama3`,
/// and `_qwen2` for Qwen2's `\p{N}` in place of `\p{N}{1,3}`), which cuts the same pieces except
/// in two ways it is configured for: its own Unicode tables, and a case-insensitive match that
/// only folds ASCII.
///
/// Works on valid UTF-8 (a Swift String's bytes), at scalar granularity like Oniguruma.
/// Sendable: the table it points at is immutable and never freed.
struct Llama3Splitter: @unchecked Sendable {
    /// Scalar classes, from the reference's Unicode version.
    let classes: ScalarClass
    /// `\p{N}{1,maxDigits}`.
    let maxDigits: Int
    /// Whether `(?i:'s)` also matches U+017F LATIN SMALL LETTER LONG S, as Oniguruma's Unicode
    /// case folding does.
    let foldsLongS: Bool

    /// Hugging Face's.
    init() {
        self.init(classes: .huggingFace, maxDigits: 3, foldsLongS: true)
    }

    init(classes: ScalarClass, maxDigits: Int, foldsLongS: Bool) {
        self.classes = classes
        self.maxDigits = maxDigits
        self.foldsLongS = foldsLongS
    }

    @inline(__always)
    func scalar(_ p: UnsafePointer<UInt8>, _ i: Int) -> (cls: UInt8, len: Int) {
        classes.scalar(p, i)
    }

    /// End (exclusive byte offset) of the piece that starts at `i` (< `n`).
    func pieceEnd(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: Int) -> Int {
        let b0 = p[i]

        // (?i:'s|'t|'re|'ve|'m|'ll|'d). Case-insensitive matching in Oniguruma uses Unicode
        // case folding, under which U+017F LATIN SMALL LETTER LONG S is an 's'; no other
        // scalar folds to one of these ASCII letters (nor lowercases to one, for llama.cpp).
        if b0 == UInt8(ascii: "'") && i + 1 < n {
            let b1 = p[i + 1]
            switch b1 | 0x20 {
            // `| 0x20` lowercases ASCII letters; only 'X' and 'x' map to 'x'.
            case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
                return i + 2
            case UInt8(ascii: "r"), UInt8(ascii: "v"):
                if i + 2 < n && p[i + 2] | 0x20 == UInt8(ascii: "e") { return i + 3 }
            case UInt8(ascii: "l"):
                if i + 2 < n && p[i + 2] | 0x20 == UInt8(ascii: "l") { return i + 3 }
            default:
                break
            }
            if foldsLongS && b1 == 0xC5 && i + 2 < n && p[i + 2] == 0xBF { return i + 3 }
        }

        let (c0, l0) = scalar(p, i)
        // [^\r\n\p{L}\p{N}]?\p{L}+ with the optional scalar absent.
        if c0 == ScalarClass.letter { return letterRunEnd(p, n, i + l0) }
        // \p{N}{1,3}; numbers cannot start the letter alternative, so it is next in line.
        if c0 == ScalarClass.number {
            var j = i + l0
            var count = 1
            while count < maxDigits && j < n {
                let (c, l) = scalar(p, j)
                if c != ScalarClass.number { break }
                j += l
                count += 1
            }
            return j
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+ with the optional scalar present.
        if c0 != ScalarClass.newline && i + l0 < n {
            let (c1, l1) = scalar(p, i + l0)
            if c1 == ScalarClass.letter { return letterRunEnd(p, n, i + l0 + l1) }
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        if c0 == ScalarClass.other { return otherRunEnd(p, n, i + l0) }
        if b0 == UInt8(ascii: " ") && i + 1 < n {
            let (c1, l1) = scalar(p, i + 1)
            if c1 == ScalarClass.other { return otherRunEnd(p, n, i + 1 + l1) }
        }

        // Only whitespace is left. Measure the whole run once; the three remaining
        // alternatives are all decided by where it ends and where its last newline is.
        var j = i
        var lastNewlineEnd = -1
        var lastScalarStart = i
        while j < n {
            let (c, l) = scalar(p, j)
            if c == ScalarClass.newline {
                lastNewlineEnd = j + l
            } else if c != ScalarClass.space {
                break
            }
            lastScalarStart = j
            j += l
        }
        // \s*[\r\n]+ : \s* backtracks until the rest starts at a newline.
        if lastNewlineEnd >= 0 { return lastNewlineEnd }
        // \s+(?!\S) : the whole run at the end of the text, else all but its last scalar.
        if j == n { return n }
        if lastScalarStart > i { return lastScalarStart }
        // \s+ : a single whitespace scalar before non-whitespace.
        return j
    }

    @inline(__always)
    func letterRunEnd(_ p: UnsafePointer<UInt8>, _ n: Int, _ start: Int) -> Int {
        var j = start
        while j < n {
            let b = p[j]
            if b < 0x80 {
                // The common case, an ASCII word, without the general decoder.
                if classes.table[Int(b)] != ScalarClass.letter { return j }
                j += 1
                continue
            }
            let (c, l) = scalar(p, j)
            if c != ScalarClass.letter { return j }
            j += l
        }
        return j
    }

    /// `[^\s\p{L}\p{N}]*[\r\n]*` from `start` (the first scalar of the run is already taken).
    @inline(__always)
    func otherRunEnd(_ p: UnsafePointer<UInt8>, _ n: Int, _ start: Int) -> Int {
        var j = start
        while j < n {
            let (c, l) = scalar(p, j)
            if c != ScalarClass.other { break }
            j += l
        }
        while j < n && (p[j] == 0x0D || p[j] == 0x0A) { j += 1 }
        return j
    }
}
