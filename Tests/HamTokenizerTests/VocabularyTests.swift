import Foundation
import Testing
@testable import HamTokenizer

@Suite struct VocabularyTests {
    @Test func llama3Vocabulary() {
        let tok = Fixtures.llama3
        // Llama 3.2's file has 257 added tokens: the last is <|image|>.
        #expect(tok.vocabSize == 128_257)
        #expect(tok.bosTokenId == 128_000)
        #expect(tok.prefixTokenIds == [128_000])
        #expect(tok.suffixTokenIds == [])
        #expect(tok.addedTokens.count == 257)
        #expect(tok.specialTokens.count == 257)
        #expect(tok.id(forToken: "<|image|>") == 128_256)
        #expect(tok.id(forToken: "<|eot_id|>") == 128_009)
        #expect(tok.id(forToken: "Ġhello") == 24748)
        #expect(tok.id(forToken: "hello") == 15339)
        #expect(tok.id(forToken: "no such token") == nil)
        #expect(tok.token(forId: 24748) == "Ġhello")
        #expect(tok.token(forId: 128_009) == "<|eot_id|>")
        #expect(tok.token(forId: 128_257) == nil)
        #expect(tok.token(forId: -3) == nil)
        #expect(tok.isSpecial(128_000))
        #expect(!tok.isSpecial(9906))
        #expect(tok.bytes(forId: 24748).map(Array.init) == Array(" hello".utf8))
        #expect(tok.bytes(forId: 128_001).map(Array.init) == Array("<|end_of_text|>".utf8))
    }

    @Test func tinyVocabulary() {
        let tok = Fixtures.tiny
        #expect(tok.vocabSize == 1024)
        #expect(tok.bosTokenId == nil)
        #expect(tok.id(forToken: "<|eot_id|>") == 1023)
        #expect(tok.specialTokens.map(\.content) == ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                                                     "<|end_header_id|>", "<|eot_id|>"])
    }

    /// Every single byte has a token in both real vocabularies, and they decode to it.
    @Test func byteAlphabetIsComplete() throws {
        for tok in [Fixtures.llama3, Fixtures.tiny] {
            for b in 0..<256 {
                let id = try #require(tok.id(forToken: ByteLevelAlphabet.encode([UInt8(b)])))
                #expect(tok.bytes(forId: id).map(Array.init) == [UInt8(b)])
            }
        }
    }

    @Test func loadsFromBytes() throws {
        let data = try Data(contentsOf: Fixtures.url("tiny-tokenizer/tokenizer.json"))
        let tok = try Tokenizer(data: data)
        #expect(tok.source == "<data>")
        #expect(tok.encode("hello world") == Fixtures.tiny.encode("hello world"))
    }
}
