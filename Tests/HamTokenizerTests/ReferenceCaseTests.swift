import Foundation
import Testing
@testable import HamTokenizer

/// Every case of the Llama 3 reference file (made with Hugging Face tokenizers) exactly.
@Suite struct ReferenceCaseTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let text: String
        let ids: [Int32]
        let decoded: String
        var testDescription: String { String(reflecting: String(text.prefix(40))) }
    }

    static func cases(_ path: String) throws -> [Case] {
        let root = try #require(try Fixtures.json(path) as? [String: Any])
        let list = try #require(root["cases"] as? [[String: Any]])
        return try list.map { c in
            Case(text: try #require(c["text"] as? String),
                 ids: try #require(c["ids"] as? [Int]).map { Int32($0) },
                 decoded: try #require(c["decoded"] as? String))
        }
    }

    @Test func llama3CasesEncodeAndDecodeExactly() throws {
        let cases = try Self.cases("llama3-tokenizer/cases.json")
        #expect(cases.count > 300)
        let tok = Fixtures.llama3
        var failures = 0
        for c in cases {
            let ids = tok.encode(c.text)
            if ids != c.ids {
                failures += 1
                Issue.record("encode \(String(reflecting: c.text)): got \(ids), want \(c.ids)")
            }
            let text = try tok.decode(c.ids)
            if text != c.decoded {
                failures += 1
                Issue.record("decode \(c.ids): got \(String(reflecting: text)), want \(String(reflecting: c.decoded))")
            }
            if failures > 10 { break }
        }
    }

    @Test func tinyTokenizerMatchesHuggingFace() throws {
        let cases = try Self.cases("tiny-tokenizer/expected.json")
        #expect(cases.count > 50)
        let tok = Fixtures.tiny
        for c in cases {
            #expect(tok.encode(c.text) == c.ids, "encode \(String(reflecting: c.text))")
            #expect(try tok.decode(c.ids) == c.decoded, "decode \(c.ids)")
        }
    }
}
