import Foundation
import Testing
@testable import HamTokenizer

/// decode(encode(s)) == s for text built to hit the pattern's corners.
@Suite struct RoundTripTests {
    static let pools: [[String]] = [
        [" ", "  ", "\t", "\n", "\n\n", "\r\n", "\r", "\u{A0}", "\u{3000}", "\u{2028}", "\u{0B}", "\u{0C}", "\u{85}", " \n ", "   "],
        ["'s", "'S", "'t", "'re", "'RE", "'rE", "'ve", "'m", "'ll", "'LL", "'lL", "'d", "'D", "'\u{17F}", "'", "''s", "'x"],
        ["hello", "World", "THE", "naïve", "Straße", "αβγ", "Москва", "שלום", "مرحبا", "नमस्ते", "กำลัง", "안녕", "ǅemal", "ﬁne"],
        ["0", "12", "123", "12345", "٣٤٥", "１２", "²", "½", "Ⅻ"],
        ["!", "?", ".", ",", "(", ")", "{", "}", "<", ">", "\"", "…", "—", "€", "->", "...", "\u{301}", "\u{200D}", "\u{FEFF}"],
        ["日本語", "中文", "ひらがな", "カタカナ", "𠀋", "𪚲"],
        ["😀", "👍🏽", "👨\u{200D}👩\u{200D}👧", "🇯🇵", "❤️", "🫠"],
        ["e\u{301}", "a\u{308}\u{323}", "\u{301}", "x\u{20DD}"],
        ["<|begin_of_text|>", "<|eot_id|>", "<|eot", "<|", "|>", "<|start_header_id|>"],
    ]

    static func randomScalar(_ rng: inout SplitMix64) -> String {
        while true {
            let v: UInt32
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<3: v = UInt32.random(in: 0..<0x80, using: &rng)
            case 3..<6: v = UInt32.random(in: 0x80..<0x3000, using: &rng)
            case 6..<8: v = UInt32.random(in: 0x3000..<0x10000, using: &rng)
            default: v = UInt32.random(in: 0x10000..<0x110000, using: &rng)
            }
            if let s = Unicode.Scalar(v) { return String(Character(s)) }
        }
    }

    static func randomText(_ rng: inout SplitMix64) -> String {
        var s = ""
        for _ in 0..<Int.random(in: 0...25, using: &rng) {
            if Int.random(in: 0..<5, using: &rng) == 0 {
                for _ in 0..<Int.random(in: 1...3, using: &rng) { s += randomScalar(&rng) }
            } else {
                s += pools.randomElement(using: &rng)!.randomElement(using: &rng)!
            }
        }
        return s
    }

    @Test(arguments: [("llama3", UInt64(1)), ("tiny", UInt64(2))])
    func randomTextRoundTrips(tokenizer: String, seed: UInt64) throws {
        let tok = tokenizer == "llama3" ? Fixtures.llama3 : Fixtures.tiny
        var rng = SplitMix64(seed: seed)
        for _ in 0..<3000 {
            let text = Self.randomText(&rng)
            for parse in [true, false] {
                let ids = tok.encode(text, addSpecialTokens: false, parseSpecialTokens: parse)
                let back = try tok.decode(ids)
                #expect(back == text, "\(String(reflecting: text)) -> \(ids)")
            }
        }
    }

    @Test func bosIsSkippableOnDecode() throws {
        let tok = Fixtures.llama3
        #expect(try tok.decode(tok.encode("Hi there"), skipSpecialTokens: true) == "Hi there")
        #expect(try tok.decode(tok.encode("Hi there")) == "<|begin_of_text|>Hi there")
    }

    /// Long pieces take the heap merge; its result must not depend on the path taken.
    @Test func heapAndLinearMergesAgree() throws {
        let tok = Fixtures.llama3
        let encoder = tok.definition.encoder
        var rng = SplitMix64(seed: 3)
        let alphabet = Array("abcdefghij  ...,,!!\n\téé".utf8)
        for _ in 0..<300 {
            let n = Int.random(in: 2...BytePairEncoder.linearLimit, using: &rng)
            let bytes = (0..<n).map { _ in alphabet.randomElement(using: &rng)! }
            var a = bytes.map { encoder.byteTokens[Int($0)] }
            var b = a
            let (ca, cb) = encoder.merges.withLookup { lookup in
                (a.withUnsafeMutableBufferPointer { BytePairEncoder.mergeLinear($0.baseAddress!, n, lookup) },
                 b.withUnsafeMutableBufferPointer { BytePairEncoder.mergeWithHeap($0.baseAddress!, n, lookup) })
            }
            #expect(Array(a[..<ca]) == Array(b[..<cb]), "\(bytes)")
        }
    }

    @Test func concurrentEncodesAgree() async throws {
        let tok = Fixtures.llama3
        var rng = SplitMix64(seed: 4)
        let texts = (0..<200).map { _ in Self.randomText(&rng) }
        let expected = texts.map { tok.encode($0) }
        let results = await withTaskGroup(of: (Int, [[Int32]]).self) { group in
            for worker in 0..<4 {
                group.addTask { (worker, texts.map { tok.encode($0) }) }
            }
            var all: [[[Int32]]] = []
            for await (_, r) in group { all.append(r) }
            return all
        }
        for r in results { #expect(r == expected) }
    }
}
