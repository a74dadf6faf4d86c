/// A small JSON reader made for tokenizer.json.
///
/// Strings and numbers stay byte ranges into the source until someone asks for them: the
/// Llama 3 file has 128k vocabulary keys and 280k merges, and turning each into a Swift
/// `String` (as JSONSerialization does) costs more than the whole load budget. Validation
/// (syntax, escapes, UTF-8) is complete at parse time, so reading a range later cannot fail.
struct JSONDocument {
    let bytes: [UInt8]
    let root: JSONValue

    /// Nesting deeper than this is rejected rather than risking the stack on hostile input.
    static let maxDepth = 256

    init(bytes: [UInt8], source: String) throws {
        self.bytes = bytes
        var parser = JSONParser(source: source)
        self.root = try bytes.withUnsafeBufferPointer { try parser.parseDocument($0) }
    }

    /// The UTF-8 bytes a string stands for, escapes resolved.
    func stringBytes(_ s: JSONString) -> [UInt8] {
        var out: [UInt8] = []
        appendStringBytes(s, to: &out)
        return out
    }

    func string(_ s: JSONString) -> String {
        String(decoding: stringBytes(s), as: UTF8.self)
    }

    func appendStringBytes(_ s: JSONString, to out: inout [UInt8]) {
        bytes.withUnsafeBufferPointer { buf in
            let start = Int(s.start), end = Int(s.end)
            if !s.hasEscapes {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[start..<end]))
                return
            }
            var i = start
            while i < end {
                let b = buf[i]
                if b != UInt8(ascii: "\\") {
                    out.append(b)
                    i += 1
                    continue
                }
                let e = buf[i + 1]
                i += 2
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    var scalar = JSONParser.hex4(buf, i)
                    i += 4
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        // The parser checked that a low surrogate escape follows.
                        let low = JSONParser.hex4(buf, i + 2)
                        i += 6
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    appendUTF8(scalar, to: &out)
                default: out.append(e)  // \" \\ \/
                }
            }
        }
    }

    /// The value of an integer literal, or nil for fractions, exponents and overflow.
    func integer(_ start: Int32, _ end: Int32) -> Int? {
        var i = Int(start)
        let end = Int(end)
        var negative = false
        if bytes[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        var value = 0
        while i < end {
            let d = bytes[i] &- UInt8(ascii: "0")
            if d > 9 { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(d))
            if o1 || o2 { return nil }
            value = a
            i += 1
        }
        return negative ? -value : value
    }

    func numberText(_ start: Int32, _ end: Int32) -> String {
        String(decoding: bytes[Int(start)..<Int(end)], as: UTF8.self)
    }
}

func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
    switch scalar {
    case ..<0x80:
        out.append(UInt8(scalar))
    case ..<0x800:
        out.append(UInt8(0xC0 | (scalar >> 6)))
        out.append(UInt8(0x80 | (scalar & 0x3F)))
    case ..<0x10000:
        out.append(UInt8(0xE0 | (scalar >> 12)))
        out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (scalar & 0x3F)))
    default:
        out.append(UInt8(0xF0 | (scalar >> 18)))
        out.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
        out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (scalar & 0x3F)))
    }
}

/// A string's content range (between the quotes) in the source bytes.
struct JSONString: Hashable {
    let start: Int32
    let end: Int32
    let hasEscapes: Bool
}

struct JSONMember {
    let key: JSONString
    let value: JSONValue
}

enum JSONValue {
    case null
    case bool(Bool)
    case number(start: Int32, end: Int32)
    case string(JSONString)
    case array([JSONValue])
    case object([JSONMember])

    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

private struct JSONParser {
    let source: String
    var depth = 0

    init(source: String) { self.source = source }

    mutating func parseDocument(_ buf: UnsafeBufferPointer<UInt8>) throws -> JSONValue {
        guard buf.count < Int(Int32.max) else {
            throw TokenizerError.unreadable(source: source, reason: "file is larger than 2 GiB")
        }
        var i = 0
        // Editors sometimes save a byte order mark; it carries no content, so skip it rather
        // than fail on a file that is otherwise fine.
        if buf.count >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF { i = 3 }
        skipSpace(buf, &i)
        let v = try parseValue(buf, &i)
        skipSpace(buf, &i)
        if i != buf.count { throw error(buf, i, "unexpected \(describe(buf, i)) after the top-level value") }
        return v
    }

    @inline(__always)
    func skipSpace(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int) {
        while i < buf.count {
            let b = buf[i]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { i += 1 } else { break }
        }
    }

    mutating func parseValue(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int) throws -> JSONValue {
        guard i < buf.count else { throw error(buf, i, "unexpected end of input (truncated file?)") }
        switch buf[i] {
        case UInt8(ascii: "{"): return try parseObject(buf, &i)
        case UInt8(ascii: "["): return try parseArray(buf, &i)
        case UInt8(ascii: "\""): return .string(try parseString(buf, &i))
        case UInt8(ascii: "t"): try literal(buf, &i, "true"); return .bool(true)
        case UInt8(ascii: "f"): try literal(buf, &i, "false"); return .bool(false)
        case UInt8(ascii: "n"): try literal(buf, &i, "null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber(buf, &i)
        default: throw error(buf, i, "unexpected \(describe(buf, i)) where a value should start")
        }
    }

    mutating func parseObject(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int) throws -> JSONValue {
        depth += 1
        defer { depth -= 1 }
        if depth > JSONDocument.maxDepth { throw error(buf, i, "nesting deeper than \(JSONDocument.maxDepth)") }
        i += 1
        var members: [JSONMember] = []
        skipSpace(buf, &i)
        if i < buf.count && buf[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
        while true {
            skipSpace(buf, &i)
            guard i < buf.count else { throw error(buf, i, "unexpected end of input inside an object (truncated file?)") }
            guard buf[i] == UInt8(ascii: "\"") else { throw error(buf, i, "expected a string key, found \(describe(buf, i))") }
            let key = try parseString(buf, &i)
            skipSpace(buf, &i)
            guard i < buf.count else { throw error(buf, i, "unexpected end of input inside an object (truncated file?)") }
            guard buf[i] == UInt8(ascii: ":") else { throw error(buf, i, "expected ':' after an object key, found \(describe(buf, i))") }
            i += 1
            skipSpace(buf, &i)
            let value = try parseValue(buf, &i)
            members.append(JSONMember(key: key, value: value))
            skipSpace(buf, &i)
            guard i < buf.count else { throw error(buf, i, "unexpected end of input inside an object (truncated file?)") }
            if buf[i] == UInt8(ascii: ",") { i += 1; continue }
            if buf[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            throw error(buf, i, "expected ',' or '}' in an object, found \(describe(buf, i))")
        }
    }

    mutating func parseArray(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int) throws -> JSONValue {
        depth += 1
        defer { depth -= 1 }
        if depth > JSONDocument.maxDepth { throw error(buf, i, "nesting deeper than \(JSONDocument.maxDepth)") }
        i += 1
        var elements: [JSONValue] = []
        skipSpace(buf, &i)
        if i < buf.count && buf[i] == UInt8(ascii: "]") { i += 1; return .array(elements) }
        while true {
            skipSpace(buf, &i)
            elements.append(try parseValue(buf, &i))
            skipSpace(buf, &i)
            guard i < buf.count else { throw error(buf, i, "unexpected end of input inside an array (truncated file?)") }
            if buf[i] == UInt8(ascii: ",") { i += 1; continue }
            if buf[i] == UInt8(ascii: "]") { i += 1; return .array(elements) }
            throw error(buf, i, "expected ',' or ']' in an array, found \(describe(buf, i))")
        }
    }

    func parseString(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int) throws -> JSONString {
        let open = i
        i += 1
        let start = i
        var escapes = false
        while i < buf.count {
            let b = buf[i]
            if b == UInt8(ascii: "\"") {
                let s = JSONString(start: Int32(start), end: Int32(i), hasEscapes: escapes)
                i += 1
                return s
            }
            if b == UInt8(ascii: "\\") {
                escapes = true
                try checkEscape(buf, &i)
                continue
            }
            if b < 0x20 { throw error(buf, i, "control character 0x\(hex(b)) inside a string (must be escaped)") }
            if b < 0x80 { i += 1; continue }
            let n = utf8SequenceLength(buf, i)
            if n == 0 { throw error(buf, i, "invalid UTF-8 byte 0x\(hex(b)) inside a string") }
            i += n
        }
        throw error(buf, open, "string never closed (truncated file?)")
    }

    func checkEscape(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int) throws {
        guard i + 1 < buf.count else { throw error(buf, i, "unexpected end of input in an escape (truncated file?)") }
        let e = buf[i + 1]
        switch e {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
             UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            i += 2
        case UInt8(ascii: "u"):
            guard let hi = JSONParser.checkedHex4(buf, i + 2) else { throw error(buf, i, "bad \\u escape (needs 4 hex digits)") }
            if hi >= 0xDC00 && hi < 0xE000 { throw error(buf, i, "lone low surrogate \\u\(hex16(hi)) in a string") }
            if hi >= 0xD800 && hi < 0xDC00 {
                guard i + 11 < buf.count, buf[i + 6] == UInt8(ascii: "\\"), buf[i + 7] == UInt8(ascii: "u"),
                      let lo = JSONParser.checkedHex4(buf, i + 8), lo >= 0xDC00 && lo < 0xE000
                else { throw error(buf, i, "lone high surrogate \\u\(hex16(hi)) in a string") }
                i += 12
            } else {
                i += 6
            }
        default:
            throw error(buf, i, "invalid escape \\\(describeByte(e)) in a string")
        }
    }

    static func hex4(_ buf: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt32 {
        checkedHex4(buf, at) ?? 0xFFFD
    }

    static func checkedHex4(_ buf: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt32? {
        guard at + 4 <= buf.count else { return nil }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = buf[at + k]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    func parseNumber(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int) throws -> JSONValue {
        let start = i
        func digits(_ i: inout Int) -> Int {
            let s = i
            while i < buf.count && buf[i] >= UInt8(ascii: "0") && buf[i] <= UInt8(ascii: "9") { i += 1 }
            return i - s
        }
        if buf[i] == UInt8(ascii: "-") { i += 1 }
        guard i < buf.count else { throw error(buf, i, "unexpected end of input in a number (truncated file?)") }
        if buf[i] == UInt8(ascii: "0") {
            i += 1
        } else if digits(&i) == 0 {
            throw error(buf, i, "expected a digit, found \(describe(buf, i))")
        }
        if i < buf.count && buf[i] == UInt8(ascii: ".") {
            i += 1
            if digits(&i) == 0 { throw error(buf, i, "expected a digit after '.', found \(describe(buf, i))") }
        }
        if i < buf.count && (buf[i] == UInt8(ascii: "e") || buf[i] == UInt8(ascii: "E")) {
            i += 1
            if i < buf.count && (buf[i] == UInt8(ascii: "+") || buf[i] == UInt8(ascii: "-")) { i += 1 }
            if digits(&i) == 0 { throw error(buf, i, "expected a digit in an exponent, found \(describe(buf, i))") }
        }
        return .number(start: Int32(start), end: Int32(i))
    }

    func literal(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        let w = UnsafeBufferPointer(start: word.utf8Start, count: n)
        for k in 0..<n {
            guard i + k < buf.count else { throw error(buf, i + k, "unexpected end of input in '\(word)' (truncated file?)") }
            guard buf[i + k] == w[k] else { throw error(buf, i, "unexpected \(describe(buf, i)) where a value should start") }
        }
        i += n
    }

    /// Length of the well-formed UTF-8 sequence at `i`, or 0 if it is ill-formed.
    func utf8SequenceLength(_ buf: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
        let b0 = buf[i]
        let n: Int
        var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: n = 2
        case 0xE0: n = 3; lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: n = 3
        case 0xED: n = 3; hi = 0x9F
        case 0xF0: n = 4; lo = 0x90
        case 0xF1...0xF3: n = 4
        case 0xF4: n = 4; hi = 0x8F
        default: return 0
        }
        guard i + n <= buf.count else { return 0 }
        if buf[i + 1] < lo || buf[i + 1] > hi { return 0 }
        for k in 2..<max(n, 2) where buf[i + k] & 0xC0 != 0x80 { return 0 }
        return n
    }

    func error(_ buf: UnsafeBufferPointer<UInt8>, _ at: Int, _ message: String) -> TokenizerError {
        var line = 1, column = 1
        var k = 0
        let end = min(at, buf.count)
        while k < end {
            if buf[k] == 0x0A { line += 1; column = 1 } else if buf[k] & 0xC0 != 0x80 { column += 1 }
            k += 1
        }
        return .malformedJSON(source: source, line: line, column: column, message: message)
    }

    func describe(_ buf: UnsafeBufferPointer<UInt8>, _ i: Int) -> String {
        i < buf.count ? describeByte(buf[i]) : "end of input"
    }

    func describeByte(_ b: UInt8) -> String {
        (b >= 0x21 && b < 0x7F) ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(hex(b))"
    }

    func hex(_ b: UInt8) -> String {
        let s = String(b, radix: 16, uppercase: true)
        return b < 16 ? "0" + s : s
    }

    func hex16(_ v: UInt32) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }
}
