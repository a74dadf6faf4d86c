/// Turns ids into text one at a time, as a generator produces them.
///
/// A token can end in the middle of a UTF-8 character (byte-level BPE splits emoji and CJK
/// across tokens), so the bytes of an unfinished character are held back until the token
/// that completes them arrives. Everything returned, plus `finish()`, is exactly what
/// `Tokenizer.decode` gives for all the ids at once.
public struct StreamingDecoder: Sendable {
    public let tokenizer: Tokenizer
    public let skipSpecialTokens: Bool
    /// Bytes that may still become a character (at most 3).
    private var pending: [UInt8] = []

    public init(tokenizer: Tokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// The text completed by this id ("" while a character is still incomplete).
    public mutating func append(_ id: Int32) throws -> String {
        guard let piece = tokenizer.bytes(forId: id) else { throw TokenizerError.unknownTokenId(id) }
        if skipSpecialTokens && tokenizer.isSpecial(id) { return "" }
        pending.append(contentsOf: piece)
        let keep = StreamingDecoder.incompleteSuffixLength(pending)
        let ready = pending.count - keep
        if ready == 0 { return "" }
        let text = String(decoding: pending[..<ready], as: UTF8.self)
        pending.removeFirst(ready)
        return text
    }

    /// The held-back bytes, with what cannot become a character shown as U+FFFD, as a
    /// whole-sequence decode would show it. The decoder is empty afterwards.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// How many bytes at the end of `bytes` are the start of a UTF-8 sequence that more
    /// bytes could still complete. Holding back only those keeps the output identical to
    /// decoding everything at once: a lead byte never continues an earlier sequence, so the
    /// split falls where a whole-sequence decoder would also start afresh.
    static func incompleteSuffixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        var k = 1
        while k <= min(3, n) {
            let b = bytes[n - k]
            if b & 0xC0 != 0x80 {
                // The lead byte of the last sequence: is it still short, and valid so far?
                let need: Int
                switch b {
                case 0xC2...0xDF: need = 2
                case 0xE0...0xEF: need = 3
                case 0xF0...0xF4: need = 4
                default: return 0
                }
                if k >= need { return 0 }
                if k >= 2 {
                    // The second byte has a narrower range after some lead bytes.
                    let second = bytes[n - k + 1]
                    let (lo, hi): (UInt8, UInt8) =
                        b == 0xE0 ? (0xA0, 0xBF) : b == 0xED ? (0x80, 0x9F) :
                        b == 0xF0 ? (0x90, 0xBF) : b == 0xF4 ? (0x80, 0x8F) : (0x80, 0xBF)
                    if second < lo || second > hi { return 0 }
                }
                return k
            }
            k += 1
        }
        return 0
    }
}
