import Foundation
import Testing
@testable import HamTokenizer

/// Encoding and decoding against ids made with Hugging Face tokenizers.
@Suite struct ReferenceCaseTests {
    struct Case: Sendable {
        let text: String
        let ids: [Int32]
        let decoded: String?
    }

    static func cases(_ path: String) throws -> [Case] {
        let root = try #require(try Fixtures.json(path) as? [String: Any])
        let list = try #require(root["cases"] as? [[String: Any]])
        return try list.map { c in
            Case(text: try #require(c["text"] as? String),
                 ids: try #require(c["ids"] as? [Int]).map { Int32($0) },
                 decoded: c["decoded"] as? String)
        }
    }

    /// Checks every case, reporting at most a few failures in full.
    static func check(_ tok: Tokenizer, _ cases: [Case], parseSpecialTokens: Bool = true) throws {
        var failures = 0
        for c in cases where failures < 10 {
            let ids = tok.encode(c.text, parseSpecialTokens: parseSpecialTokens)
            if ids != c.ids {
                failures += 1
                Issue.record("encode \(String(reflecting: c.text)): got \(ids), want \(c.ids)")
            }
            if let want = c.decoded {
                let text = try tok.decode(c.ids)
                if text != want {
                    failures += 1
                    Issue.record("decode \(c.ids): got \(String(reflecting: text)), want \(String(reflecting: want))")
                }
            }
        }
    }

    @Test func llama3ReferenceCases() throws {
        let cases = try Self.cases("llama3-tokenizer/cases.json")
        #expect(cases.count == 342)
        try Self.check(Fixtures.llama3, cases)
    }

    @Test func tinyTokenizerCases() throws {
        let cases = try Self.cases("tiny-tokenizer/expected.json")
        #expect(cases.count > 150)
        try Self.check(Fixtures.tiny, cases)
    }

    /// Hand-built tokenizers for the options the real files leave unused: added-token flags,
    /// ignore_merges, merges written as pairs, bytes missing from the vocabulary, unk_token.
    @Test(arguments: ["flags", "ignore-merges", "merge-order", "missing-bytes", "unk-fused", "unk-unfused"])
    func syntheticTokenizer(name: String) throws {
        let tok = try Tokenizer(contentsOf: Fixtures.url("tiny-tokenizer/synthetic/\(name).json"))
        let cases = try Self.cases("tiny-tokenizer/synthetic/\(name).expected.json")
        #expect(cases.count > 30)
        try Self.check(tok, cases)
    }

    /// ignore_merges really changes something in the synthetic pair, so the test above
    /// exercises it.
    @Test func ignoreMergesMatters() throws {
        let whole = try Tokenizer(contentsOf: Fixtures.url("tiny-tokenizer/synthetic/ignore-merges.json"))
        let merged = try Tokenizer(contentsOf: Fixtures.url("tiny-tokenizer/synthetic/merge-order.json"))
        #expect(whole.encode("abc") == [whole.id(forToken: "abc")].compactMap { $0 })
        #expect(merged.encode("abc").count == 2)
    }

    @Test func specialTokenTextCanBeEncodedAsText() throws {
        let cases = try Self.cases("llama3-tokenizer/special-as-text.json")
        try Self.check(Fixtures.llama3, cases, parseSpecialTokens: false)
    }

    @Test func addSpecialTokensFalseLeavesOutBOS() {
        let tok = Fixtures.llama3
        #expect(tok.encode("Hello, world!", addSpecialTokens: false) == [9906, 11, 1917, 0])
        #expect(tok.encode("", addSpecialTokens: false) == [])
        #expect(tok.encode("") == [128000])
        // The tiny tokenizer has no post-processor: nothing is added.
        #expect(Fixtures.tiny.encode("hi") == Fixtures.tiny.encode("hi", addSpecialTokens: false))
    }

    @Test func decodeMatchesReferenceIncludingBrokenUTF8() throws {
        let root = try #require(try Fixtures.json("llama3-tokenizer/decode.json") as? [String: Any])
        let cases = try #require(root["cases"] as? [[String: Any]])
        #expect(cases.count > 800)
        for c in cases {
            let ids = try #require(c["ids"] as? [Int]).map { Int32($0) }
            let skip = try #require(c["skip_special_tokens"] as? Bool)
            let want = try #require(c["text"] as? String)
            #expect(try Fixtures.llama3.decode(ids, skipSpecialTokens: skip) == want, "decode \(ids) skip=\(skip)")
        }
    }

    @Test func unknownIdIsAnError() {
        #expect(throws: TokenizerError.unknownTokenId(128_257)) { try Fixtures.llama3.decode([9906, 128_257]) }
        #expect(throws: TokenizerError.unknownTokenId(-1)) { try Fixtures.llama3.decode([-1]) }
        #expect(TokenizerError.unknownTokenId(5).description == "token id 5 is not in the tokenizer's vocabulary")
    }
}
