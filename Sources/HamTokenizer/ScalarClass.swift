/// The classes of Unicode scalars that the split patterns distinguish: `\p{L}` (letter),
/// `\p{N}` (number), `\s` (White_Space) with `\r`/`\n` kept apart, and the rest.
///
/// Both references class scalars by the Unicode version their own tables were made from, which is
/// older than the one this Swift knows, so each gets its own table, cut off at its version: a
/// scalar assigned later is unassigned there, so neither letter nor number nor space.
/// - Hugging Face tokenizers (0.21 to 0.23) match with Oniguruma, which knows Unicode 16.0.
///   (Checked for every scalar: Tests/Fixtures/llama3-tokenizer/scalar-classes.json.)
/// - llama.cpp classes scalars with its own tables (src/unicode-data.cpp), made from
///   Unicode 15.1's UnicodeData.txt. (Checked for every scalar against llama-cpp-python 0.3.36:
///   Tests/Fixtures/smollm2-tokenizer/scalar-classes.json.)
struct ScalarClass: @unchecked Sendable {
    static let other: UInt8 = 0
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let space: UInt8 = 3
    /// `\r` or `\n`: whitespace that the patterns also name explicitly.
    static let newline: UInt8 = 4

    /// Scalars below this get their class from `table`; the rest (CJK extensions, rare
    /// scripts) ask the Unicode property tables each time.
    static let tableLimit: UInt32 = 0x20000

    static let huggingFace = ScalarClass(major: 16, minor: 0)
    static let llamaCpp = ScalarClass(major: 15, minor: 1)

    /// The reference's Unicode version.
    let major: Int, minor: Int
    /// Classes of planes 0 and 1 (every script in common use, and emoji), computed once:
    /// asking the Unicode property tables per scalar in the hot loop would cost more than
    /// the BPE itself. Never freed, so the pointer can be handed to the scanners freely.
    let table: UnsafePointer<UInt8>

    private init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: Int(ScalarClass.tableLimit))
        for v in 0..<ScalarClass.tableLimit {
            // Surrogates are not scalars and never occur in a String.
            t[Int(v)] = Unicode.Scalar(v).map { ScalarClass.compute($0, major: major, minor: minor) } ?? ScalarClass.other
        }
        table = UnsafePointer(t)
    }

    /// Whether the scalar was assigned after the reference's Unicode version.
    func isNewerThanReference(_ p: Unicode.Scalar.Properties) -> Bool {
        ScalarClass.isNewer(p, major: major, minor: minor)
    }

    private static func isNewer(_ p: Unicode.Scalar.Properties, major: Int, minor: Int) -> Bool {
        guard let age = p.age else { return false }
        return age.major > major || (age.major == major && age.minor > minor)
    }

    private static func compute(_ s: Unicode.Scalar, major: Int, minor: Int) -> UInt8 {
        if s == "\r" || s == "\n" { return newline }
        let p = s.properties
        if isNewer(p, major: major, minor: minor) { return other }
        if p.isWhitespace { return space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return number
        default:
            return other
        }
    }

    @inline(__always)
    func of(_ value: UInt32) -> UInt8 {
        if value < ScalarClass.tableLimit { return table[Int(value)] }
        guard let s = Unicode.Scalar(value) else { return ScalarClass.other }
        return ScalarClass.compute(s, major: major, minor: minor)
    }

    /// The class and byte length of the scalar starting at `p[i]` (valid UTF-8).
    @inline(__always)
    func scalar(_ p: UnsafePointer<UInt8>, _ i: Int) -> (cls: UInt8, len: Int) {
        let b0 = p[i]
        if b0 < 0x80 { return (table[Int(b0)], 1) }
        if b0 < 0xE0 {
            let v = UInt32(b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F)
            return (table[Int(v)], 2)
        }
        if b0 < 0xF0 {
            let v = UInt32(b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F)
            return (table[Int(v)], 3)
        }
        let v = UInt32(b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12
            | UInt32(p[i + 2] & 0x3F) << 6 | UInt32(p[i + 3] & 0x3F)
        return (of(v), 4)
    }
}
