/// GPT-2's byte-level alphabet, which Hugging Face's `ByteLevel` components use: every
/// byte gets a printable scalar so that vocabularies can be stored as text. Printable
/// Latin-1 bytes stand for themselves; the other 68 bytes (controls, space, DEL, NBSP,
/// soft hyphen) are moved, in byte order, to U+0100 and up.
enum ByteLevelAlphabet {
    static func isPrintable(_ b: Int) -> Bool {
        (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
    }

    /// The scalar that stands for each byte.
    static let scalarOfByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 0x100
        for b in 0..<256 {
            if isPrintable(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// The inverse: scalar value → byte + 1 (0 for scalars outside the alphabet).
    /// All 256 scalars are below U+0144.
    static let byteOfScalar: [UInt16] = {
        var table = [UInt16](repeating: 0, count: 0x144)
        for b in 0..<256 { table[Int(scalarOfByte[b])] = UInt16(b + 1) }
        return table
    }()

    /// The bytes a token's text stands for, the way Hugging Face's ByteLevel decoder reads
    /// it: scalar by scalar through the alphabet, or, if any scalar is outside the alphabet
    /// (an added token such as "<|eot_id|>" is not, but "é" text in one would be), the
    /// token's own UTF-8 unchanged.
    static func decode(_ text: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var it = text.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&it) {
            case let .scalarValue(s):
                let v = Int(s.value)
                guard v < byteOfScalar.count, byteOfScalar[v] != 0 else { return Array(text) }
                out.append(UInt8(byteOfScalar[v] - 1))
            case .emptyInput:
                return out
            case .error:
                return Array(text)
            }
        }
    }

    /// The alphabet text for `bytes` (how the vocabulary spells them).
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(Unicode.Scalar(scalarOfByte[Int(b)]) ?? "\u{FFFD}") }  // all in range
        return String(s)
    }

    /// The token of each byte's scalar in `vocab` (keyed by token text), -1 where it has none:
    /// the BPE's starting symbols.
    static func byteTokens(in vocab: ByteStringTable) -> [Int32] {
        (0..<256).map { b in
            let text = String(Unicode.Scalar(scalarOfByte[b]).map(Character.init) ?? "\u{FFFD}")  // all in range
            return vocab.find(Array(text.utf8)) ?? -1
        }
    }
}
