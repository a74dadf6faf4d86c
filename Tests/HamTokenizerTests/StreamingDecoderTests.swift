import Foundation
import Testing
@testable import HamTokenizer

@Suite struct StreamingDecoderTests {
    static func byteToken(_ tok: Tokenizer, _ b: UInt8) throws -> Int32 {
        try #require(tok.id(forToken: ByteLevelAlphabet.encode([b])))
    }

    /// Feeds ids one at a time; returns the pieces and the final flush.
    static func stream(_ tok: Tokenizer, _ ids: [Int32], skip: Bool = false) throws -> ([String], String) {
        var decoder = StreamingDecoder(tokenizer: tok, skipSpecialTokens: skip)
        let parts = try ids.map { try decoder.append($0) }
        return (parts, decoder.finish())
    }

    @Test func emojiSplitAcrossTokensComesOutWhole() throws {
        let tok = Fixtures.llama3
        let ids = try [0xF0, 0x9F, 0x98, 0x80].map { try Self.byteToken(tok, $0) }
        let (parts, rest) = try Self.stream(tok, [9906] + ids + [0])
        #expect(parts == ["Hello", "", "", "", "😀", "!"])
        #expect(rest == "")
    }

    @Test func realEncodingsOfCJKAndEmojiStreamCorrectly() throws {
        let tok = Fixtures.llama3
        for text in ["日本語のテキストです", "emoji 😀👍🏽👨‍👩‍👧 🇯🇵 done", "混合 mixed 文字 😀 end", "ǅ ⱥ 𝔘𝔫𝔦"] {
            let ids = tok.encode(text, addSpecialTokens: false)
            let (parts, rest) = try Self.stream(tok, ids)
            #expect(parts.joined() + rest == text)
            // Nothing returned mid-stream is a replacement character: bytes were held back.
            #expect(!parts.joined().contains("\u{FFFD}"))
        }
    }

    @Test func incompleteTailBecomesReplacementOnFinish() throws {
        let tok = Fixtures.llama3
        let ids = try [0xF0, 0x9F, 0x98].map { try Self.byteToken(tok, $0) }
        let (parts, rest) = try Self.stream(tok, ids)
        #expect(parts == ["", "", ""])
        #expect(rest == "\u{FFFD}")
        #expect(try tok.decode(ids) == "\u{FFFD}")
    }

    /// Whatever the ids, streaming gives exactly what decoding all at once gives.
    @Test func streamingEqualsWholeDecodeOnReferenceCases() throws {
        let tok = Fixtures.llama3
        let root = try #require(try Fixtures.json("llama3-tokenizer/decode.json") as? [String: Any])
        for c in try #require(root["cases"] as? [[String: Any]]) {
            let ids = try #require(c["ids"] as? [Int]).map { Int32($0) }
            let skip = try #require(c["skip_special_tokens"] as? Bool)
            let (parts, rest) = try Self.stream(tok, ids, skip: skip)
            #expect(parts.joined() + rest == (try tok.decode(ids, skipSpecialTokens: skip)), "\(ids)")
        }
    }

    @Test func streamingEqualsWholeDecodeOnRandomIds() throws {
        let tok = Fixtures.llama3
        var rng = SplitMix64(seed: 11)
        let highBytes = try (0x80...0xFF).map { try Self.byteToken(tok, UInt8($0)) }
        for _ in 0..<2000 {
            let ids: [Int32] = (0..<Int.random(in: 1...12, using: &rng)).map { _ in
                Bool.random(using: &rng) ? highBytes.randomElement(using: &rng)! : Int32.random(in: 0..<128256, using: &rng)
            }
            let (parts, rest) = try Self.stream(tok, ids)
            #expect(parts.joined() + rest == (try tok.decode(ids)), "\(ids)")
        }
    }

    @Test func skipsSpecialTokensWhenAsked() throws {
        let (parts, rest) = try Self.stream(Fixtures.llama3, [128000, 9906, 128009], skip: true)
        #expect(parts == ["", "Hello", ""])
        #expect(rest == "")
    }

    @Test func unknownIdIsAnErrorAndLeavesStateAlone() throws {
        var decoder = StreamingDecoder(tokenizer: Fixtures.llama3)
        #expect(try decoder.append(try Self.byteToken(Fixtures.llama3, 0xE6)) == "")
        #expect(throws: TokenizerError.unknownTokenId(999_999)) { try decoder.append(999_999) }
        #expect(try decoder.append(try Self.byteToken(Fixtures.llama3, 0x97)) == "")
        #expect(try decoder.append(try Self.byteToken(Fixtures.llama3, 0xA5)) == "日")
    }

    @Test(arguments: [
        ([UInt8](), 0), ([0x41], 0), ([0xC3], 1), ([0xC3, 0xA9], 0), ([0xE6, 0x97], 2), ([0xF0, 0x9F, 0x98], 3),
        ([0xF0, 0x9F, 0x98, 0x80], 0), ([0xC0], 0), ([0xED, 0xA0], 0), ([0xF4, 0x90], 0), ([0xE0, 0x80], 0),
        ([0x80, 0x80, 0x80], 0), ([0x41, 0xF4, 0x8F, 0xBF], 3), ([0xF5], 0),
    ])
    func heldBackBytes(bytes: [UInt8], held: Int) {
        #expect(StreamingDecoder.incompleteSuffixLength(bytes) == held)
    }
}
