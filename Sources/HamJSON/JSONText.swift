/// JSON to be written: built in code, or taken from a parsed document with every number and
/// string kept exactly as it was written, so that a config rewritten with one key added keeps
/// `32.0` (not `32`) and `1e-05` (not `1.0000000000000001e-05`): Python readers tell floats from
/// integers. `rendered()` prints it the way Hugging Face writes configs (`json.dumps(indent=2,
/// sort_keys=True)`).
public indirect enum JSONText: Equatable, Sendable {
    case object([Member])
    case array([JSONText])
    /// A scalar exactly as it is written: `"text"` with its quotes, `1e-05`, `true`, `null`.
    case literal(String)

    public struct Member: Equatable, Sendable {
        public var key: String
        /// The key as written, so that a rewrite leaves it unchanged.
        public var keyLiteral: String
        public var value: JSONText

        public init(_ key: String, _ value: JSONText) {
            self.init(key: key, keyLiteral: JSONText.quoted(key), value: value)
        }

        init(key: String, keyLiteral: String, value: JSONText) {
            self.key = key
            self.keyLiteral = keyLiteral
            self.value = value
        }
    }

    public static func string(_ value: String) -> JSONText { .literal(quoted(value)) }
    public static func integer<I: BinaryInteger>(_ value: I) -> JSONText { .literal(String(value)) }
    public static func bool(_ value: Bool) -> JSONText { .literal(value ? "true" : "false") }
    public static let null = JSONText.literal("null")

    /// A finite number the way Python's `repr` writes a float: `500000.0`, `1e-05`.
    public static func number(_ value: Double) -> JSONText {
        precondition(value.isFinite, "JSON has no literal for \(value)")
        return .literal(value.description)
    }

    /// The object of `members` in this order.
    public static func object(_ members: KeyValuePairs<String, JSONText>) -> JSONText {
        .object(members.map { Member($0.key, $0.value) })
    }

    /// A parsed value with its literals. Duplicate keys collapse to the last, as a Python
    /// reader would see them.
    public init(_ value: JSONValue) {
        // Iterative like the parser: values are built bottom-up in a post-order pass.
        enum Step { case enter(JSONValue), exit(JSONValue) }
        var work: [Step] = [.enter(value)]
        var built: [JSONText] = []
        while let step = work.popLast() {
            switch step {
            case .enter(let v):
                switch v.kind {
                case .array:
                    work.append(.exit(v))
                    for element in v.elements.reversed() { work.append(.enter(element)) }
                case .object:
                    work.append(.exit(v))
                    for member in v.members.reversed() { work.append(.enter(member.value)) }
                default:
                    built.append(.literal(String(v.literal)))
                }
            case .exit(let v):
                let children = Array(built.suffix(v.count))
                built.removeLast(v.count)
                if v.kind == .array {
                    built.append(.array(children))
                } else {
                    var members: [Member] = []
                    for (member, child) in zip(v.members, children) {
                        let key = member.key.stringValue ?? ""
                        members.removeAll { $0.key == key }
                        members.append(Member(key: key, keyLiteral: String(member.key.literal), value: child))
                    }
                    built.append(.object(members))
                }
            }
        }
        self = built.last ?? .null
    }

    /// The member `key` of an object. Setting replaces the member (or removes it, with nil);
    /// on other kinds, setting does nothing.
    public subscript(key: String) -> JSONText? {
        get {
            guard case .object(let members) = self else { return nil }
            return members.last { $0.key == key }?.value
        }
        set { self = setting(key, to: newValue) }
    }

    /// This object with `key` set to `value` (replacing a member of that name), or removed
    /// when `value` is nil. Other kinds are returned unchanged.
    public func setting(_ key: String, to value: JSONText?) -> JSONText {
        guard case .object(var members) = self else { return self }
        members.removeAll { $0.key == key }
        if let value { members.append(Member(key, value)) }
        return .object(members)
    }

    // MARK: rendering

    /// Sorted keys, a two-space indent, a final newline: Hugging Face's `save_pretrained`.
    public func rendered() -> String {
        var out = ""
        render(into: &out, indent: "")
        return out + "\n"
    }

    /// On one line, keys in their order: for JSON Lines and compact headers.
    public func compact() -> String {
        var out = ""
        renderCompact(into: &out)
        return out
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
        case .literal(let text):
            out += text
        }
    }

    private func renderCompact(into out: inout String) {
        switch self {
        case .object(let members):
            out += "{"
            for (i, member) in members.enumerated() {
                if i > 0 { out += ", " }
                out += member.keyLiteral + ": "
                member.value.renderCompact(into: &out)
            }
            out += "}"
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                item.renderCompact(into: &out)
            }
            out += "]"
        case .literal(let text):
            out += text
        }
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped, everything
    /// else (all of Unicode) written as it is.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// Literals, so that JSON to be written reads like JSON in code:
/// `["max_steps": 4, "feature_layers": [0, 1], "rms_norm_eps": 1e-5]`.
extension JSONText: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(integerLiteral value: Int) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONText...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONText)...) {
        self = .object(elements.map { Member($0.0, $0.1) })
    }
}
