/// Reads little-endian values from a file's bytes, front to back. Every read checks that the bytes
/// are there and, when they are not, names what it was reading, so a file cut anywhere gives one
/// error saying which field it ended in.
struct ByteCursor {
    let bytes: UnsafeRawBufferPointer
    let path: String
    private(set) var offset = 0

    init(bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    var remaining: Int { bytes.count - offset }

    /// The next `count` bytes.
    mutating func take(_ count: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        guard count >= 0, count <= remaining else {
            throw LoadError.truncated(path: path, detail: "\(what()) needs \(count) bytes at byte \(offset) but the file ends at byte \(bytes.count)")
        }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
        offset += count
        return slice
    }

    mutating func read<T: FixedWidthInteger>(_ type: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let raw = try take(MemoryLayout<T>.size, what())
        return T(littleEndian: raw.loadUnaligned(as: T.self))
    }

    mutating func readFloat(_ what: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    mutating func readDouble(_ what: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    /// A GGUF string: a UInt64 byte length, then that many bytes of UTF-8 (no terminator). The
    /// length is checked against what is left of the file before anything is allocated.
    mutating func readString(_ what: @autoclosure () -> String, maxBytes: Int = .max) throws -> String {
        let length = try read(UInt64.self, "\(what()): length")
        guard length <= UInt64(min(remaining, maxBytes)) else {
            if length > UInt64(remaining) {
                throw LoadError.truncated(path: path, detail: "\(what()) claims \(length) bytes at byte \(offset) but the file ends at byte \(bytes.count)")
            }
            throw LoadError.malformed(path: path, detail: "\(what()) is \(length) bytes long; expected at most \(maxBytes)")
        }
        let raw = try take(Int(length), what())
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw LoadError.malformed(path: path, detail: "\(what()) is not valid UTF-8")
        }
        return text
    }
}

/// A name or value from a file as an error message shows it: on one line (control characters
/// escaped) and at most `limit` characters.
func printable(_ text: String, limit: Int = 120) -> String {
    var out = ""
    for (i, scalar) in text.unicodeScalars.enumerated() {
        if i == limit { return out + "..." }
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned:
            out += scalar.escaped(asASCII: true)
        default:
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}
