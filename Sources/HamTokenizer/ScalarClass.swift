/// The classes of Unicode scalars that the Llama 3 split pattern distinguishes:
/// `\p{L}` (letter), `\p{N}` (number), `\s` (White_Space, which is what Oniguruma's `\s`
/// means for UTF-8 and so what Hugging Face matches) with `\r`/`\n` kept apart, and the rest.
enum ScalarClass {
    static let other: UInt8 = 0
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let space: UInt8 = 3
    /// `\r` or `\n`: whitespace that the pattern also names explicitly.
    static let newline: UInt8 = 4

    /// Scalars below this get their class from `table`; the rest (CJK extensions, rare
    /// scripts) ask the Unicode property tables each time.
    static let tableLimit: UInt32 = 0x20000

    /// Classes of planes 0 and 1 (every script in common use, and emoji), computed once:
    /// asking the Unicode property tables per scalar in the hot loop would cost more than
    /// the BPE itself. Never freed, so the pointer can be handed to the scanner freely.
    nonisolated(unsafe) static let table: UnsafePointer<UInt8> = {
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: Int(tableLimit))
        for v in 0..<tableLimit {
            // Surrogates are not scalars and never occur in a String.
            t[Int(v)] = Unicode.Scalar(v).map(compute) ?? other
        }
        return UnsafePointer(t)
    }()

    /// The Oniguruma inside Hugging Face tokenizers (0.21 to 0.23) knows Unicode 16.0; this
    /// Swift knows a later version. A scalar assigned after 16.0 is unassigned there, so
    /// neither letter nor number nor space: treating it so keeps the ids identical. (Checked
    /// for every scalar against Hugging Face: Tests/Fixtures/llama3-tokenizer/scalar-classes.json.)
    static func isNewerThanReference(_ p: Unicode.Scalar.Properties) -> Bool {
        guard let age = p.age else { return false }
        return age.major > 16 || (age.major == 16 && age.minor > 0)
    }

    static func compute(_ s: Unicode.Scalar) -> UInt8 {
        if s == "\r" || s == "\n" { return newline }
        let p = s.properties
        if isNewerThanReference(p) { return other }
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
    static func of(_ value: UInt32) -> UInt8 {
        if value < tableLimit { return table[Int(value)] }
        guard let s = Unicode.Scalar(value) else { return other }
        return compute(s)
    }
}
