/// One value of a `JSONDocument`: a reference to the document and a node index, so it is cheap to
/// copy and pass around.
///
/// Two ways to read it. The optional properties (`stringValue`, `integerValue`...) answer nil for
/// a value of another kind. The throwing readers (`string()`, `integer(in:)`, `required(_:)`...)
/// throw a `JSONError` that names the source, the value's path from the top
/// (`rope_scaling.factor`, `added_tokens[3].id`), what it is and what was expected. The path is
/// found again from the document when an error is made, so reading costs nothing for it.
public struct JSONValue: Sendable {
    public let document: JSONDocument
    let index: Int

    init(document: JSONDocument, index: Int) {
        self.document = document
        self.index = index
    }

    @inline(__always) var node: JSONNode { document.nodes[index] }

    public enum Kind: Sendable, CustomStringConvertible {
        case null, bool, number, string, array, object

        public var description: String {
            switch self {
            case .null: "null"
            case .bool: "true or false"
            case .number: "a number"
            case .string: "a string"
            case .array: "an array"
            case .object: "an object"
            }
        }
    }

    public var kind: Kind {
        switch node.kind {
        case .null: .null
        case .bool: .bool
        case .number: .number
        case .string: .string
        case .array: .array
        case .object: .object
        }
    }

    public var isNull: Bool { node.kind == .null }

    // MARK: scalars

    public var boolValue: Bool? { node.kind == .bool ? node.flag : nil }

    /// The decoded text of a string.
    public var stringValue: String? {
        guard node.kind == .string else { return nil }
        return String(decoding: stringBytes ?? [], as: UTF8.self)
    }

    /// The UTF-8 bytes a string stands for, escapes resolved.
    public var stringBytes: [UInt8]? {
        guard node.kind == .string else { return nil }
        var out: [UInt8] = []
        appendStringBytes(to: &out)
        return out
    }

    /// Appends the UTF-8 bytes of a string (nothing for other kinds). Decoding cannot fail: the
    /// parser checked every escape and byte.
    public func appendStringBytes(to out: inout [UInt8]) {
        let n = node
        guard n.kind == .string else { return }
        document.bytes.withUnsafeBufferPointer { buf in
            let start = Int(n.start), end = Int(n.end)
            if !n.flag {
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
                    var scalar = hex4(buf, i) ?? 0xFFFD
                    i += 4
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        // The parser checked that a low surrogate escape follows.
                        let low = hex4(buf, i + 2) ?? 0xDC00
                        i += 6
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    appendUTF8(scalar, to: &out)
                default: out.append(e)  // \" \\ \/
                }
            }
        }
    }

    /// Whether this is a string whose bytes are `expected` (no copy when it has no escapes).
    public func stringEquals(_ expected: [UInt8]) -> Bool {
        let n = node
        guard n.kind == .string else { return false }
        if !n.flag {
            guard Int(n.end - n.start) == expected.count else { return false }
            return document.bytes.withUnsafeBufferPointer { buf in
                expected.elementsEqual(UnsafeBufferPointer(rebasing: buf[Int(n.start)..<Int(n.end)]))
            }
        }
        return stringBytes == expected
    }

    /// An integer written without fraction or exponent that fits in `Int`; nil otherwise.
    public var integerValue: Int? {
        let n = node
        guard n.kind == .number, n.flag else { return nil }
        return document.bytes.withUnsafeBufferPointer { buf in
            var i = Int(n.start)
            let end = Int(n.end)
            let negative = buf[i] == UInt8(ascii: "-")
            if negative { i += 1 }
            var value = 0
            while i < end {
                // Accumulated negatively so that Int.min reads too.
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.subtractingReportingOverflow(Int(buf[i] &- UInt8(ascii: "0")))
                if o1 || o2 { return nil }
                value = a
                i += 1
            }
            if negative { return value }
            return value == Int.min ? nil : -value
        }
    }

    /// The nearest `Double` to a number (infinite when the literal is out of its range, as in
    /// Python's `json`); nil for other kinds.
    public var doubleValue: Double? {
        guard node.kind == .number else { return nil }
        return Double(literal)
    }

    /// The value as it is written in the source, quotes and escapes included (containers: their
    /// whole text).
    public var literal: Substring {
        let n = node
        let range: Range<Int>
        switch n.kind {
        case .string: range = Int(n.start) - 1..<Int(n.end) + 1
        case .array, .object: range = Int(n.start)..<(document.closingOffset(of: index) + 1)
        default: range = Int(n.start)..<Int(n.end)
        }
        return Substring(decoding: document.bytes[range], as: UTF8.self)
    }

    // MARK: containers

    /// Elements of an array or members of an object; 0 for scalars.
    public var count: Int {
        switch node.kind {
        case .array, .object: Int(node.count)
        default: 0
        }
    }

    /// The elements of an array (none for other kinds).
    public var elements: Elements { Elements(document: document, container: node.kind == .array ? index : -1) }

    /// The members of an object, in file order, duplicates included (none for other kinds).
    public var members: Members { Members(document: document, container: node.kind == .object ? index : -1) }

    /// The member `key` of an object; with duplicate keys, the last, as Python's `json` and
    /// serde read them. Nil when absent or when this is not an object.
    public subscript(key: String) -> JSONValue? {
        let want = Array(key.utf8)
        var found: JSONValue?
        for member in members where member.key.stringEquals(want) { found = member.value }
        return found
    }

    /// The element at `position` of an array.
    public subscript(position: Int) -> JSONValue? {
        guard node.kind == .array, position >= 0, position < count else { return nil }
        var k = 0
        for element in elements {
            if k == position { return element }
            k += 1
        }
        return nil
    }

    /// One past this value's subtree in the tape.
    var subtreeEnd: Int {
        switch node.kind {
        case .array, .object: Int(node.end)
        default: index + 1
        }
    }

    public struct Elements: Sequence, Sendable {
        let document: JSONDocument
        let container: Int

        public var underestimatedCount: Int { container < 0 ? 0 : Int(document.nodes[container].count) }

        public func makeIterator() -> Iterator {
            container < 0 ? Iterator(document: document, position: 0, end: 0)
                : Iterator(document: document, position: container + 1, end: Int(document.nodes[container].end))
        }

        public struct Iterator: IteratorProtocol {
            let document: JSONDocument
            var position: Int
            let end: Int

            public mutating func next() -> JSONValue? {
                guard position < end else { return nil }
                let value = JSONValue(document: document, index: position)
                position = value.subtreeEnd
                return value
            }
        }
    }

    public struct Member: Sendable {
        /// The key, a string value.
        public let key: JSONValue
        public let value: JSONValue

        public var name: String { key.stringValue ?? "" }
    }

    public struct Members: Sequence, Sendable {
        let document: JSONDocument
        let container: Int

        public var underestimatedCount: Int { container < 0 ? 0 : Int(document.nodes[container].count) }

        public func makeIterator() -> Iterator {
            container < 0 ? Iterator(document: document, position: 0, end: 0)
                : Iterator(document: document, position: container + 1, end: Int(document.nodes[container].end))
        }

        public struct Iterator: IteratorProtocol {
            let document: JSONDocument
            var position: Int
            let end: Int

            public mutating func next() -> Member? {
                guard position < end else { return nil }
                let key = JSONValue(document: document, index: position)
                let value = JSONValue(document: document, index: position + 1)
                position = value.subtreeEnd
                return Member(key: key, value: value)
            }
        }
    }
}

extension JSONDocument {
    /// The byte offset of the bracket that closes the container at `index`. The tape does not
    /// store it (only `literal` needs it): it is found after the subtree's last scalar, going
    /// down through last children, and then up past each enclosing bracket.
    func closingOffset(of index: Int) -> Int {
        var position = Int(nodes[index].start) + 1
        var depth = 0
        var container = index
        while true {
            depth += 1
            var last = -1
            var k = container + 1
            while k < Int(nodes[container].end) {
                last = k
                k = JSONValue(document: self, index: k).subtreeEnd
            }
            guard last >= 0 else { break }
            let node = nodes[last]
            if node.kind == .array || node.kind == .object {
                position = Int(node.start) + 1
                container = last
                continue
            }
            position = Int(node.end) + (node.kind == .string ? 1 : 0)
            break
        }
        // Each level's closing bracket follows, with only spaces in between.
        for level in 0..<depth {
            while position < bytes.count && bytes[position] != UInt8(ascii: "}") && bytes[position] != UInt8(ascii: "]") { position += 1 }
            if level + 1 < depth { position += 1 }
        }
        return position
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
