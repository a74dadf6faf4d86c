import HamCore
import HamLoad

/// A JSON value that keeps numbers and strings exactly as they were written, so a config can be
/// rewritten with a key added without `32.0` becoming `32` or `1e-05` becoming
/// `1.0000000000000001e-05` (Python readers tell floats from ints). Printed the way Hugging Face
/// writes configs: keys sorted, two-space indent, `"key": value`.
public indirect enum JSONDocument: Equatable, Sendable {
    case object([Member])
    case array([JSONDocument])
    /// The literal as written, quotes and escapes included, and its decoded value.
    case string(literal: String, value: String)
    /// The literal as written.
    case number(String)
    case bool(Bool)
    case null

    public struct Member: Equatable, Sendable {
        public var key: String
        /// The key's literal, so it is written back unchanged.
        public var keyLiteral: String
        public var value: JSONDocument

        public init(key: String, value: JSONDocument) {
            self.key = key
            self.keyLiteral = jsonQuoted(key)
            self.value = value
        }

        init(key: String, keyLiteral: String, value: JSONDocument) {
            self.key = key
            self.keyLiteral = keyLiteral
            self.value = value
        }
    }

    public static func string(_ value: String) -> JSONDocument { .string(literal: jsonQuoted(value), value: value) }
    public static func integer(_ value: Int) -> JSONDocument { .number(String(value)) }

    /// The member `key` of an object.
    public subscript(key: String) -> JSONDocument? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.key == key }?.value
    }

    /// This object with `key` set to `value` (replacing an existing member of that name).
    public func setting(_ key: String, to value: JSONDocument) -> JSONDocument {
        guard case .object(var members) = self else { return self }
        members.removeAll { $0.key == key }
        members.append(Member(key: key, value: value))
        return .object(members)
    }

    // MARK: Parsing

    /// Parses `bytes`; `path` names the file in errors.
    public static func parse(_ bytes: [UInt8], path: String) throws -> JSONDocument {
        var parser = Parser(bytes: bytes, path: path)
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.position == bytes.count else { throw parser.error("unexpected text after the JSON value") }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        let path: String
        var position = 0

        init(bytes: [UInt8], path: String) {
            self.bytes = bytes
            self.path = path
        }

        func error(_ detail: String) -> LoadError {
            .malformed(path: path, detail: "not valid JSON at byte \(position): \(detail)")
        }

        mutating func skipSpace() {
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        }

        mutating func expect(_ literal: String) throws {
            let expected = Array(literal.utf8)
            guard bytes.count - position >= expected.count,
                  Array(bytes[position..<(position + expected.count)]) == expected else {
                throw error("expected \(literal)")
            }
            position += expected.count
        }

        mutating func value(depth: Int) throws -> JSONDocument {
            // Configs nest a few levels; a limit keeps a hostile file from exhausting the stack.
            guard depth < 512 else { throw error("nested more than 512 levels") }
            guard position < bytes.count else { throw error("unexpected end") }
            switch bytes[position] {
            case UInt8(ascii: "{"):
                position += 1
                var members: [Member] = []
                skipSpace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                    position += 1
                    return .object(members)
                }
                while true {
                    skipSpace()
                    guard case .string(let keyLiteral, let key) = try string() else { throw error("expected a key") }
                    skipSpace()
                    try expect(":")
                    skipSpace()
                    members.append(Member(key: key, keyLiteral: keyLiteral, value: try value(depth: depth + 1)))
                    skipSpace()
                    guard position < bytes.count else { throw error("unexpected end in an object") }
                    if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                    try expect("}")
                    return .object(members)
                }
            case UInt8(ascii: "["):
                position += 1
                var items: [JSONDocument] = []
                skipSpace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                    position += 1
                    return .array(items)
                }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard position < bytes.count else { throw error("unexpected end in an array") }
                    if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                    try expect("]")
                    return .array(items)
                }
            case UInt8(ascii: "\""):
                return try string()
            case UInt8(ascii: "t"):
                try expect("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try expect("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try expect("null")
                return .null
            default:
                return try number()
            }
        }

        mutating func number() throws -> JSONDocument {
            let start = position
            func digits() -> Int {
                let from = position
                while position < bytes.count, (0x30...0x39).contains(bytes[position]) { position += 1 }
                return position - from
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
            let intStart = position
            guard digits() > 0 else { throw error("expected a value") }
            if bytes[intStart] == UInt8(ascii: "0"), position - intStart > 1 { throw error("number with a leading zero") }
            if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
                position += 1
                guard digits() > 0 else { throw error("expected digits after '.'") }
            }
            if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
                position += 1
                if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
                guard digits() > 0 else { throw error("expected digits in the exponent") }
            }
            return .number(String(decoding: bytes[start..<position], as: UTF8.self))
        }

        mutating func string() throws -> JSONDocument {
            let start = position
            try expect("\"")
            var scalars = String.UnicodeScalarView()
            var run = position
            func flush(_ end: Int) throws {
                guard let text = String(validating: bytes[run..<end], as: UTF8.self) else {
                    throw error("string is not valid UTF-8")
                }
                scalars.append(contentsOf: text.unicodeScalars)
            }
            while true {
                guard position < bytes.count else { throw error("unterminated string") }
                let byte = bytes[position]
                if byte == UInt8(ascii: "\"") {
                    try flush(position)
                    position += 1
                    break
                }
                guard byte >= 0x20 else { throw error("control character in a string") }
                guard byte == UInt8(ascii: "\\") else { position += 1; continue }
                try flush(position)
                position += 1
                guard position < bytes.count else { throw error("unterminated escape") }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code), bytes.count - position >= 6,
                       bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") {
                        let resume = position
                        position += 2
                        let low = try hex4()
                        if (0xDC00..<0xE000).contains(low) {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            position = resume
                        }
                    }
                    // A lone surrogate has no Unicode scalar; Python would keep it, hamrun substitutes.
                    scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
                default:
                    throw error("unknown escape '\\\(Character(Unicode.Scalar(escape)))'")
                }
                run = position
            }
            let literal = String(decoding: bytes[start..<position], as: UTF8.self)
            return .string(literal: literal, value: String(scalars))
        }

        mutating func hex4() throws -> UInt32 {
            guard bytes.count - position >= 4,
                  bytes[position..<(position + 4)].allSatisfy({ Character(Unicode.Scalar($0)).isHexDigit }),
                  let code = UInt32(String(decoding: bytes[position..<(position + 4)], as: UTF8.self), radix: 16) else {
                throw error("expected four hex digits after \\u")
            }
            position += 4
            return code
        }
    }

    // MARK: Printing

    /// The document with sorted keys and a two-space indent, ending in a newline.
    public func rendered() -> String {
        var out = ""
        render(into: &out, indent: "")
        return out + "\n"
    }

    private func render(into out: inout String, indent: String) {
        switch self {
        case .object(let members):
            guard !members.isEmpty else { out += "{}"; return }
            // Python's sort_keys compares code points.
            let sorted = members.sorted { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) { $0.value < $1.value } }
            let inner = indent + "  "
            out += "{\n"
            for (i, member) in sorted.enumerated() {
                out += inner + member.keyLiteral + ": "
                member.value.render(into: &out, indent: inner)
                out += i + 1 < sorted.count ? ",\n" : "\n"
            }
            out += indent + "}"
        case .array(let items):
            guard !items.isEmpty else { out += "[]"; return }
            let inner = indent + "  "
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += inner
                item.render(into: &out, indent: inner)
                out += i + 1 < items.count ? ",\n" : "\n"
            }
            out += indent + "]"
        case .string(let literal, _): out += literal
        case .number(let literal): out += literal
        case .bool(let value): out += value ? "true" : "false"
        case .null: out += "null"
        }
    }

}
