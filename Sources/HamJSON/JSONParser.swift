/// RFC 8259 JSON to a node tape, without recursion: open containers live on an explicit stack
/// bounded by `maxDepth`. Everything is validated here (grammar, escapes, surrogate pairs,
/// UTF-8), strictly as Python's `json` and Rust's `serde_json` read files, so a value read later
/// is always well formed.
struct JSONParser {
    let source: String
    let maxDepth: Int

    private struct Frame {
        var node: Int
        var isObject: Bool
        var count: UInt32
    }

    private static let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")

    mutating func parse(_ buf: UnsafeBufferPointer<UInt8>) throws -> [JSONNode] {
        // Offsets are 32-bit; no JSON file hamrun reads comes near 4 GiB.
        guard buf.count < Int(UInt32.max) else {
            throw JSONError.syntax(source: source, line: 1, column: 1, detail: "text of \(buf.count) bytes is larger than 4 GiB")
        }
        var nodes: [JSONNode] = []
        // Most files have a node every 8 or more bytes; reserving avoids most regrowth.
        nodes.reserveCapacity(buf.count / 8 + 1)
        var stack: [Frame] = []
        var i = 0
        // Editors sometimes save a byte order mark; it carries no content.
        if buf.count >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF { i = 3 }

        // Each turn reads one value, then closes every container that this value completed.
        value: while true {
            skipSpace(buf, &i)
            guard i < buf.count else {
                throw error(buf, i, stack.isEmpty ? "empty text; expected a JSON value" : "unexpected end of input (truncated file?)")
            }
            let b = buf[i]
            if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
                guard stack.count < maxDepth else { throw error(buf, i, "nesting deeper than \(maxDepth) levels") }
                let isObject = b == UInt8(ascii: "{")
                nodes.append(JSONNode(kind: isObject ? .object : .array, flag: false, count: 0, start: UInt32(i), end: 0))
                stack.append(Frame(node: nodes.count - 1, isObject: isObject, count: 0))
                i += 1
                skipSpace(buf, &i)
                let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                if i < buf.count && buf[i] == close {
                    i += 1
                    let frame = stack.removeLast()
                    nodes[frame.node].end = UInt32(nodes.count)
                    // An empty container is a complete value: fall through to closing.
                } else {
                    if isObject { try key(buf, &i, &nodes) }
                    continue value
                }
            } else {
                nodes.append(try scalar(buf, &i))
            }

            // A value is complete: count it, then see what follows.
            while !stack.isEmpty {
                stack[stack.count - 1].count += 1
                skipSpace(buf, &i)
                let top = stack[stack.count - 1]
                let close = top.isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                guard i < buf.count else {
                    throw error(buf, i, "unexpected end of input inside \(top.isObject ? "an object" : "an array") (truncated file?)")
                }
                if buf[i] == UInt8(ascii: ",") {
                    i += 1
                    if top.isObject { try key(buf, &i, &nodes) }
                    continue value
                }
                guard buf[i] == close else {
                    throw error(buf, i, "expected ',' or '\(Character(Unicode.Scalar(close)))' \(top.isObject ? "in an object" : "in an array"), found \(describe(buf, i))")
                }
                i += 1
                stack.removeLast()
                nodes[top.node].count = top.count
                nodes[top.node].end = UInt32(nodes.count)
            }
            skipSpace(buf, &i)
            guard i == buf.count else { throw error(buf, i, "unexpected \(describe(buf, i)) after the top-level value") }
            return nodes
        }
    }

    /// An object member's key and the ':' after it.
    private func key(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ nodes: inout [JSONNode]) throws {
        skipSpace(buf, &i)
        guard i < buf.count else { throw error(buf, i, "unexpected end of input inside an object (truncated file?)") }
        guard buf[i] == Self.quote else { throw error(buf, i, "expected a string key, found \(describe(buf, i))") }
        nodes.append(try string(buf, &i))
        skipSpace(buf, &i)
        guard i < buf.count else { throw error(buf, i, "unexpected end of input inside an object (truncated file?)") }
        guard buf[i] == UInt8(ascii: ":") else { throw error(buf, i, "expected ':' after an object key, found \(describe(buf, i))") }
        i += 1
    }

    @inline(__always)
    private func skipSpace(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int) {
        while i < buf.count {
            let b = buf[i]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { i += 1 } else { break }
        }
    }

    private func scalar(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int) throws -> JSONNode {
        let start = i
        switch buf[i] {
        case Self.quote:
            return try string(buf, &i)
        case UInt8(ascii: "t"):
            try literal(buf, &i, "true")
            return JSONNode(kind: .bool, flag: true, count: 0, start: UInt32(start), end: UInt32(i))
        case UInt8(ascii: "f"):
            try literal(buf, &i, "false")
            return JSONNode(kind: .bool, flag: false, count: 0, start: UInt32(start), end: UInt32(i))
        case UInt8(ascii: "n"):
            try literal(buf, &i, "null")
            return JSONNode(kind: .null, flag: false, count: 0, start: UInt32(start), end: UInt32(i))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try number(buf, &i)
        default:
            throw error(buf, i, "unexpected \(describe(buf, i)) where a value should start")
        }
    }

    private func string(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int) throws -> JSONNode {
        let open = i
        i += 1
        let start = i
        var escapes = false
        while i < buf.count {
            let b = buf[i]
            if b == Self.quote {
                let node = JSONNode(kind: .string, flag: escapes, count: 0, start: UInt32(start), end: UInt32(i))
                i += 1
                return node
            }
            if b == Self.backslash {
                escapes = true
                try escape(buf, &i)
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

    private func escape(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int) throws {
        guard i + 1 < buf.count else { throw error(buf, i, "unexpected end of input in an escape (truncated file?)") }
        let e = buf[i + 1]
        switch e {
        case Self.quote, Self.backslash, UInt8(ascii: "/"), UInt8(ascii: "b"),
             UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            i += 2
        case UInt8(ascii: "u"):
            guard let hi = hex4(buf, i + 2) else { throw error(buf, i, "bad \\u escape (needs 4 hex digits)") }
            if hi >= 0xDC00 && hi < 0xE000 { throw error(buf, i, "lone low surrogate \\u\(hex16(hi)) in a string") }
            if hi >= 0xD800 && hi < 0xDC00 {
                guard i + 11 < buf.count, buf[i + 6] == Self.backslash, buf[i + 7] == UInt8(ascii: "u"),
                      let lo = hex4(buf, i + 8), lo >= 0xDC00 && lo < 0xE000
                else { throw error(buf, i, "lone high surrogate \\u\(hex16(hi)) in a string") }
                i += 12
            } else {
                i += 6
            }
        default:
            throw error(buf, i, "invalid escape \\\(describeByte(e)) in a string")
        }
    }

    private func number(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int) throws -> JSONNode {
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
            if i < buf.count && buf[i] >= UInt8(ascii: "0") && buf[i] <= UInt8(ascii: "9") {
                throw error(buf, start, "number with a leading zero")
            }
        } else if digits(&i) == 0 {
            throw error(buf, i, "expected a digit, found \(describe(buf, i))")
        }
        var integer = true
        if i < buf.count && buf[i] == UInt8(ascii: ".") {
            integer = false
            i += 1
            if digits(&i) == 0 { throw error(buf, i, "expected a digit after '.', found \(describe(buf, i))") }
        }
        if i < buf.count && (buf[i] == UInt8(ascii: "e") || buf[i] == UInt8(ascii: "E")) {
            integer = false
            i += 1
            if i < buf.count && (buf[i] == UInt8(ascii: "+") || buf[i] == UInt8(ascii: "-")) { i += 1 }
            if digits(&i) == 0 { throw error(buf, i, "expected a digit in an exponent, found \(describe(buf, i))") }
        }
        return JSONNode(kind: .number, flag: integer, count: 0, start: UInt32(start), end: UInt32(i))
    }

    private func literal(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        let w = UnsafeBufferPointer(start: word.utf8Start, count: n)
        for k in 0..<n {
            guard i + k < buf.count else { throw error(buf, i + k, "unexpected end of input in '\(word)' (truncated file?)") }
            guard buf[i + k] == w[k] else { throw error(buf, i, "unexpected \(describe(buf, i)) where a value should start") }
        }
        i += n
    }

    /// Length of the well-formed UTF-8 sequence at `i`, or 0 if it is ill-formed.
    private func utf8SequenceLength(_ buf: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
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

    private func error(_ buf: UnsafeBufferPointer<UInt8>, _ at: Int, _ message: String) -> JSONError {
        var line = 1, column = 1
        var k = 0
        let end = min(at, buf.count)
        while k < end {
            if buf[k] == 0x0A { line += 1; column = 1 } else if buf[k] & 0xC0 != 0x80 { column += 1 }
            k += 1
        }
        return .syntax(source: source, line: line, column: column, detail: message)
    }

    private func describe(_ buf: UnsafeBufferPointer<UInt8>, _ i: Int) -> String {
        i < buf.count ? describeByte(buf[i]) : "end of input"
    }

    private func describeByte(_ b: UInt8) -> String {
        (b >= 0x21 && b < 0x7F) ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(hex(b))"
    }

    private func hex(_ b: UInt8) -> String {
        let s = String(b, radix: 16, uppercase: true)
        return b < 16 ? "0" + s : s
    }

    private func hex16(_ v: UInt32) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }
}

/// The value of four hex digits at `at`, or nil.
func hex4(_ buf: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt32? {
    guard at >= 0, at + 4 <= buf.count else { return nil }
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
