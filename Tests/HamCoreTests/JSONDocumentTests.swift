import Foundation
import HamCore
import HamCPU
import HamConvert
import HamLoad
import Testing

@Suite("JSONDocument")
struct JSONDocumentTests {
    @Test("literals survive, keys are sorted, the layout is Hugging Face's")
    func roundTrip() throws {
        let text = #"{"b": 32.0, "a": [1e-05, -0, "x\u00e9\n\"", true, null, {}, []], "\u0063": {"z": 1, "y": 2}}"#
        let document = try JSONDocument.parse(Array(text.utf8), path: "t.json")
        #expect(document["b"] == .number("32.0"))
        #expect(document["c"]?["y"] == .number("2"))
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
        #expect(document.rendered() == expected)
        let added = document.setting("b", to: .integer(4)).setting("d", to: .string("é"))
        #expect(added["b"] == .number("4") && added["d"] == .string("é"))
    }

    @Test("invalid JSON is one error naming the file and the byte")
    func invalid() {
        for text in ["", "{", "{\"a\" 1}", "[1,]", "01", "\"\\q\"", "{\"a\": 1} x", "nul", "\"\u{01}\""] {
            #expect(throws: LoadError.self, "\(text)") { try JSONDocument.parse(Array(text.utf8), path: "t.json") }
        }
        let deep = String(repeating: "[", count: 10_000)
        #expect(throws: LoadError.self) { try JSONDocument.parse(Array(deep.utf8), path: "t.json") }
    }
}
