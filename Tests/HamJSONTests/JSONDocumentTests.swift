import HamJSON
import Testing

@Suite("JSON reading")
struct JSONDocumentTests {
    private func parse(_ text: String) throws -> JSONValue {
        try JSONDocument(Array(text.utf8), source: "t.json").root
    }

    /// The error `body` throws, which must be a `JSONError`.
    private func error(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> JSONError? {
        do {
            try body()
            Issue.record("no error", sourceLocation: sourceLocation)
        } catch let error as JSONError {
            #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
            return error
        } catch {
            Issue.record("not a JSONError: \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }

    @Test("every kind of value reads back")
    func values() throws {
        let root = try parse(#"{"s": "a\u00e9\n\"\ud83d\ude00/", "i": -12, "f": 1.5e3, "t": true, "n": null, "a": [1, [2, 3], {}], "o": {"k": "v"}}"#)
        #expect(try root.required("s").string() == "aé\n\"😀/")
        #expect(try root.required("i").integer() == -12)
        #expect(try root.required("f").double() == 1500)
        #expect(try root.required("t").bool() == true)
        #expect(root["n"]?.isNull == true)
        #expect(try root.optional("n") == nil)
        #expect(try root.optional("absent") == nil)
        let a = try root.required("a").array().map { $0 }
        #expect(a.count == 3 && a[0].integerValue == 1 && a[1].count == 2 && a[1][1]?.integerValue == 3 && a[2].kind == .object)
        #expect(try root.required("o").required("k").string() == "v")
        #expect(root.members.map(\.name) == ["s", "i", "f", "t", "n", "a", "o"])
        #expect(root.count == 7)
    }

    @Test("integers: the whole Int range, nothing beyond, no fractions")
    func integers() throws {
        #expect(try parse("9223372036854775807").integerValue == Int.max)
        #expect(try parse("-9223372036854775808").integerValue == Int.min)
        #expect(try parse("9223372036854775808").integerValue == nil)
        #expect(try parse("128.0").integerValue == nil)
        #expect(try parse("1e3").integerValue == nil)
        #expect(try parse("-0").integerValue == 0)
        #expect(try parse("1e400").doubleValue == .infinity)
    }

    @Test("wrong kinds of valid numbers name the field, the value and the range")
    func rangeMessages() throws {
        for (text, shown) in [("128.5", "128.5"), ("1e30", "1e30"), ("9223372036854775808", "9223372036854775808"), ("0", "0"), ("\"128\"", "\"128\"")] {
            let root = try parse(#"{"model": {"hidden_size": \#(text)}}"#)
            let e = error { _ = try root.required("model").required("hidden_size").integer(in: 1...65536) }
            #expect(e == .invalidValue(source: "t.json", field: "model.hidden_size", value: shown, expected: "an integer in 1...65536"))
            #expect(e?.description == "t.json: model.hidden_size is \(shown); expected an integer in 1...65536")
        }
        let root = try parse(#"{"eps": 1e999, "list": [1, 2, "x"], "odd key": {"a b": false}}"#)
        #expect(error { _ = try root.required("eps").double() } == .invalidValue(source: "t.json", field: "eps", value: "1e999", expected: "a finite number"))
        #expect(error { _ = try root.required("list").integers() }?.description == #"t.json: list[2] is "x"; expected an integer"#)
        #expect(error { _ = try root.required("odd key").required("a b").string() }?.description == #"t.json: ["odd key"]["a b"] is false; expected a string"#)
        #expect(error { _ = try root.required("list").required("x") }?.description == "t.json: list is an array of 3; expected an object")
        #expect(error { _ = try root.required("missing") } == .missingField(source: "t.json", field: "missing"))
        #expect(error { _ = try parse("[]").required("x") }?.description == "t.json: the top-level value is an array of 0; expected an object")
        #expect(error { _ = try parse(#"{"m": "sideways"}"#).required("m").string(oneOf: ["a", "b"]) }?.description == #"t.json: m is "sideways"; expected "a" or "b""#)
    }

    @Test("duplicate keys: the last one, as Python and serde read them")
    func duplicates() throws {
        let root = try parse(#"{"a": 1, "a": 2}"#)
        #expect(root["a"]?.integerValue == 2)
        #expect(root.count == 2)
        #expect(JSONText(root) == .object(["a": .integer(2)]))
    }

    @Test("malformed text: line, column and what was wrong")
    func syntax() throws {
        let cases: [(String, String)] = [
            ("", "empty text; expected a JSON value"),
            ("{", "unexpected end of input inside an object (truncated file?)"),
            ("{\"a\" 1}", "expected ':' after an object key, found '1'"),
            ("[1,]", "unexpected ']' where a value should start"),
            ("01", "number with a leading zero"),
            ("\"\\q\"", "invalid escape \\'q' in a string"),
            ("{\"a\": 1} x", "unexpected 'x' after the top-level value"),
            ("nul", "unexpected end of input in 'null' (truncated file?)"),
            ("\"\u{01}\"", "control character 0x01 inside a string (must be escaped)"),
            ("\"\\ud800\"", "lone high surrogate \\uD800 in a string"),
            ("\"\\udc00\"", "lone low surrogate \\uDC00 in a string"),
            ("[1 2]", "expected ',' or ']' in an array, found '2'"),
            ("{1: 2}", "expected a string key, found '1'"),
            ("1.", "expected a digit after '.', found end of input"),
            ("-", "unexpected end of input in a number (truncated file?)"),
            ("\"abc", "string never closed (truncated file?)"),
        ]
        for (text, detail) in cases {
            let e = error { _ = try parse(text) }
            guard case let .syntax(source, _, _, found) = e else { Issue.record("\(text): \(String(describing: e))"); continue }
            #expect(source == "t.json" && found == detail, "\(text)")
        }
        #expect(error { _ = try JSONDocument([0x22, 0xC3, 0x28, 0x22], source: "t.json") } == .syntax(source: "t.json", line: 1, column: 2, detail: "invalid UTF-8 byte 0xC3 inside a string"))
        #expect(error { _ = try parse("{\n  \"a\": [1,\n  x]}") } == .syntax(source: "t.json", line: 3, column: 3, detail: "unexpected 'x' where a value should start"))
    }

    @Test("nesting: deep documents are refused without recursion, at any depth")
    func depth() throws {
        let ok = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(try parse(ok).count == 1)
        for depth in [513, 100_000, 2_000_000] {
            let deep = String(repeating: "[", count: depth)
            #expect(error { _ = try parse(deep) }?.description.contains("nesting deeper than 512 levels") == true)
        }
        let custom = error { _ = try JSONDocument(Array("[[[1]]]".utf8), source: "t.json", maxDepth: 2) }
        #expect(custom?.description == "t.json:1:3: not valid JSON: nesting deeper than 2 levels")
    }

    @Test("a byte order mark is skipped; whitespace anywhere")
    func byteOrderMark() throws {
        let document = try JSONDocument([0xEF, 0xBB, 0xBF] + Array(" \n\t{ \"a\" :\r [ ] } ".utf8), source: "t.json")
        #expect(document.root["a"]?.count == 0)
    }

    @Test("literals: exactly as written, containers included")
    func literals() throws {
        let root = try parse(#"{"a": [1, {"b": "c\n"} ] , "d": 1e-05, "e": {}}"#)
        #expect(root["a"]?.literal == #"[1, {"b": "c\n"} ]"#)
        #expect(root["d"]?.literal == "1e-05")
        #expect(root["e"]?.literal == "{}")
        #expect(root.literal == #"{"a": [1, {"b": "c\n"} ] , "d": 1e-05, "e": {}}"#)
    }

    @Test("rewriting: literals survive, keys are sorted, the layout is Hugging Face's")
    func rewrite() throws {
        let root = try parse(#"{"b": 32.0, "a": [1e-05, -0, "x\u00e9\n\"", true, null, {}, []], "\u0063": {"z": 1, "y": 2}}"#)
        let text = JSONText(root)
        #expect(text["b"] == .literal("32.0"))
        #expect(text["c"]?["y"] == .literal("2"))
        let expected = """
            {
              "a": [
                1e-05,
                -0,
                "x\\u00e9\\n\\"",
                true,
                null,
                {},
                []
              ],
              "b": 32.0,
              "\\u0063": {
                "y": 2,
                "z": 1
              }
            }

            """
        #expect(text.rendered() == expected)
        let added = text.setting("b", to: .integer(4)).setting("d", to: .string("é")).setting("c", to: nil)
        #expect(added["b"] == .literal("4") && added["d"] == .string("é") && added["c"] == nil)
        #expect(JSONText.object(["x": .number(1e-5), "y": .number(500000), "z": .array([.bool(true), .null])]).compact()
            == #"{"x": 1e-05, "y": 500000.0, "z": [true, null]}"#)
        // What is rendered parses back to the same text.
        #expect(JSONText(try parse(text.rendered())).rendered() == text.rendered())
    }

    @Test("strings compare and decode without copying when they have no escapes")
    func strings() throws {
        let root = try parse(#"["plain", "esc\u0061ped"]"#)
        #expect(root[0]?.stringEquals(Array("plain".utf8)) == true)
        #expect(root[1]?.stringEquals(Array("escaped".utf8)) == true)
        #expect(root[1]?.stringEquals(Array("escape".utf8)) == false)
        var bytes: [UInt8] = []
        root[1]?.appendStringBytes(to: &bytes)
        #expect(bytes == Array("escaped".utf8))
    }

    @Test("quoting for output escapes what JSON requires and nothing else")
    func quoting() throws {
        #expect(JSONText.quoted("a\"b\\c\n\u{01}é😀") == #""a\"b\\c\n\u0001é😀""#)
        #expect(try parse(JSONText.quoted("a\"b\\c\n\u{01}é😀")).string() == "a\"b\\c\n\u{01}é😀")
    }
}
