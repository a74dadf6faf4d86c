/// Readers that say what was wrong: each throws a `JSONError` naming the value's path, how it is
/// written and what was expected.
extension JSONValue {
    /// The member `key` of this object; missing (or this not an object) is an error.
    public func required(_ key: String) throws -> JSONValue {
        let object = try self.object()
        guard let value = object[key] else {
            throw JSONError.missingField(source: document.source, field: JSONPath.appending(key, to: path))
        }
        return value
    }

    /// The member `key` of this object, nil when absent or null (Hugging Face writes `null` for
    /// unset options). This not being an object is an error.
    public func optional(_ key: String) throws -> JSONValue? {
        guard let value = try object()[key], !value.isNull else { return nil }
        return value
    }

    /// This value, which must be an object.
    @discardableResult
    public func object() throws -> JSONValue {
        guard node.kind == .object else { throw mismatch("an object") }
        return self
    }

    /// The elements of this array.
    public func array() throws -> Elements {
        guard node.kind == .array else { throw mismatch("an array") }
        return elements
    }

    public func string() throws -> String {
        guard let s = stringValue else { throw mismatch("a string") }
        return s
    }

    /// A string that must be one of `allowed`.
    public func string(oneOf allowed: [String]) throws -> String {
        let s = try string()
        guard allowed.contains(s) else { throw mismatch(Self.alternatives(allowed.map { JSONText.quoted($0) })) }
        return s
    }

    public func bool() throws -> Bool {
        guard let b = boolValue else { throw mismatch("true or false") }
        return b
    }

    /// An integer in `range`, written without fraction or exponent (Python reads `128.0` as a
    /// float, which PyTorch refuses as a size).
    public func integer(in range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
        guard let n = integerValue, range.contains(n) else { throw mismatch(Self.integerExpectation(range)) }
        return n
    }

    /// A finite number in `range`.
    public func double(in range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude) throws -> Double {
        guard let d = doubleValue, d.isFinite, range.contains(d) else {
            let full = range == -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
            throw mismatch(full ? "a finite number" : "a number in \(range.lowerBound)...\(range.upperBound)")
        }
        return d
    }

    /// A finite number as `Float`, rounded from its `Double` as PyTorch rounds a Python float.
    public func float() throws -> Float {
        let d = try double()
        let f = Float(d)
        guard f.isFinite else { throw mismatch("a number within float32's range") }
        return f
    }

    /// An integer or an array of integers (`eos_token_id` is either).
    public func integers(in range: ClosedRange<Int> = Int.min...Int.max) throws -> [Int] {
        if node.kind == .array {
            return try elements.map { try $0.integer(in: range) }
        }
        guard let n = integerValue, range.contains(n) else {
            throw mismatch(Self.integerExpectation(range) + " or an array of them")
        }
        return [n]
    }

    /// An error about this value: it is not `expected`.
    public func mismatch(_ expected: String) -> JSONError {
        .invalidValue(source: document.source, field: path, value: shown, expected: expected)
    }

    /// The value as messages show it: scalars as written (long ones shortened), containers by
    /// kind and size.
    public var shown: String {
        switch node.kind {
        case .array: return "an array of \(count)"
        case .object: return count == 0 ? "an empty object" : "an object"
        default:
            let text = literal
            let limit = 60
            guard text.count > limit else { return String(text) }
            return String(text.prefix(limit)) + "..."
        }
    }

    /// Where this value is: `hidden_size`, `rope_scaling.factor`, `added_tokens[3].id`,
    /// `model.vocab["Ġa"]`; empty for the top-level value.
    public var path: String {
        var path = ""
        var container = 0
        while container != index {
            let kind = document.nodes[container].kind
            var position = 0
            var k = container + 1
            var found = false
            while k < Int(document.nodes[container].end) {
                if kind == .object {
                    let key = JSONValue(document: document, index: k)
                    let value = JSONValue(document: document, index: k + 1)
                    if index == k || (index >= k + 1 && index < value.subtreeEnd) {
                        path = JSONPath.appending(key.stringValue ?? "", to: path)
                        // A key itself is reported by its member's path.
                        container = index == k ? index : k + 1
                        found = true
                        break
                    }
                    k = value.subtreeEnd
                } else {
                    let element = JSONValue(document: document, index: k)
                    if index >= k && index < element.subtreeEnd {
                        path += "[\(position)]"
                        container = k
                        found = true
                        break
                    }
                    k = element.subtreeEnd
                    position += 1
                }
            }
            if !found { break }
        }
        return path
    }

    static func integerExpectation(_ range: ClosedRange<Int>) -> String {
        switch (range.lowerBound, range.upperBound) {
        case (Int.min, Int.max): "an integer"
        case (0, Int.max): "a non-negative integer"
        case (1, Int.max): "a positive integer"
        case let (lo, hi): "an integer in \(lo)...\(hi)"
        }
    }

    static func alternatives(_ items: [String]) -> String {
        guard items.count > 1 else { return items.first ?? "nothing" }
        return items.dropLast().joined(separator: ", ") + " or " + (items.last ?? "")
    }
}

/// Field paths in messages.
public enum JSONPath {
    /// `parent.key`, or `parent["key"]` for a key that is not a plain identifier.
    public static func appending(_ key: String, to parent: String) -> String {
        let plain = !key.isEmpty && key.utf8.allSatisfy { b in
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
        }
        if !plain { return parent + "[" + JSONText.quoted(shortened(key)) + "]" }
        return parent.isEmpty ? key : parent + "." + key
    }

    private static func shortened(_ key: String) -> String {
        key.unicodeScalars.count > 60 ? String(String.UnicodeScalarView(key.unicodeScalars.prefix(60))) + "..." : key
    }
}
