import Foundation
import Testing
@testable import HamTokenizer

/// Tokenizers built from GGUF metadata (`Tokenizer(vocabulary:)`) against llama.cpp's ids,
/// made by Tools/tokenizer/make_llamacpp_expectations.py with llama-cpp-python.
@Suite struct GGUFTokenizerTests {
    struct Case {
        let group: String
        let text: String
        let ids: [Int32]
        let idsSpecialAsText: [Int32]
    }

    nonisolated(unsafe) static let reference: [String: Any] = {
        (try? Fixtures.json("smollm2-tokenizer/llamacpp.json") as? [String: Any]) ?? [:]
    }()

    static func cases(_ list: Any?) throws -> [Case] {
        let items = try #require(list as? [[String: Any]])
        return try items.map { c in
            Case(group: try #require(c["group"] as? String), text: try #require(c["text"] as? String),
                 ids: try #require(c["ids"] as? [Int]).map { Int32($0) },
                 idsSpecialAsText: try #require(c["ids_special_as_text"] as? [Int]).map { Int32($0) })
        }
    }

    /// Encodes every case both ways (special tokens parsed, and as text), recording at most a few
    /// failures in full. Returns the number of texts checked.
    @discardableResult
    static func check(_ tok: Tokenizer, _ cases: [Case], _ label: String) -> Int {
        var failures = 0
        for c in cases where failures < 8 {
            let ids = tok.encode(c.text, addSpecialTokens: true, parseSpecialTokens: true)
            if ids != c.ids {
                failures += 1
                Issue.record("\(label) [\(c.group)] \(String(reflecting: c.text)): got \(ids), llama.cpp \(c.ids)")
            }
            let plain = tok.encode(c.text, addSpecialTokens: true, parseSpecialTokens: false)
            if plain != c.idsSpecialAsText {
                failures += 1
                Issue.record("\(label) [\(c.group)] special as text \(String(reflecting: c.text)): got \(plain), llama.cpp \(c.idsSpecialAsText)")
            }
        }
        return cases.count
    }

    static func variant(_ name: String) throws -> [Case] {
        let variants = try #require(reference["variants"] as? [String: Any])
        return try cases(variants[name])
    }

    @Test func smollm2MatchesLlamaCpp() throws {
        let cases = try Self.variant("smollm")
        #expect(cases.count >= 500)
        for group in ["prose", "source code", "random unicode", "special tokens"] {
            #expect(cases.filter { $0.group == group }.count >= 50, "\(group)")
        }
        Self.check(Fixtures.smollm2, cases, "smollm")
    }

    /// The other pre-tokenizers, on the same vocabulary with `tokenizer.ggml.pre` replaced.
    @Test(arguments: ["gpt-2", "qwen2", "llama-bpe"])
    func otherPreTokenizersMatchLlamaCpp(pre: String) throws {
        var vocabulary = try Fixtures.vocabulary("smollm2-tokenizer/vocabulary.json")
        vocabulary.pre = pre
        let cases = try Self.variant(pre)
        #expect(cases.count >= 200)
        Self.check(try Tokenizer(vocabulary: vocabulary), cases, pre)
    }

    @Test func smollm2SpecialTokensMatchLlamaCpp() throws {
        let tok = Fixtures.smollm2
        let special = try #require(Self.reference["special"] as? [String: Any])
        #expect(tok.specialTokenIds.bos == (special["bos"] as? Int).map { Int32($0) })
        #expect(tok.specialTokenIds.eos == (special["eos"] as? Int).map { Int32($0) })
        // Two tokens here look like an end of turn (<|endoftext|>, <|im_end|>); llama.cpp takes
        // whichever its hash map yields first, hamrun the first of its list. Both end generation.
        let eot = try #require(special["eot"] as? Int)
        #expect(tok.specialTokenIds.eot == 2 && eot == 0)
        #expect(tok.specialTokenIds.endOfGeneration == (special["eog"] as? [Int])?.map { Int32($0) })
        let control = try #require(special["control"] as? [Int]).map { Int32($0) }
        #expect(tok.addedTokens.filter(\.isSpecial).map(\.id) == control)
        // add_bos_token is false in this file: nothing is put before the text.
        #expect(tok.prefixTokenIds == [])
        #expect(tok.suffixTokenIds == [])
        #expect(tok.vocabSize == 49152)
    }

    /// FNV-1a 64 over every token's piece, each after its length, as the fixture script hashes
    /// llama.cpp's `token_to_piece(special = true)`.
    static func piecesDigest(_ tok: Tokenizer) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ b: UInt8) { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        for id in 0..<tok.vocabSize {
            let piece = tok.bytes(forId: Int32(id)) ?? []
            withUnsafeBytes(of: UInt32(piece.count).littleEndian) { $0.forEach(mix) }
            piece.forEach(mix)
        }
        return String(h, radix: 16).leftPadded(to: 16)
    }

    @Test func everyPieceMatchesLlamaCpp() throws {
        let tok = Fixtures.smollm2
        let samples = try #require(Self.reference["pieces"] as? [String: String])
        for (id, hex) in samples {
            let piece = tok.bytes(forId: try #require(Int32(id))).map(Array.init) ?? []
            #expect(piece.map { String(format: "%02x", $0) }.joined() == hex, "token \(id)")
        }
        #expect(Self.piecesDigest(tok) == Self.reference["pieces_fnv1a64"] as? String)
    }

    /// Decoding skips the control tokens, as llama.cpp's `token_to_piece(special = false)` does.
    @Test func decodeSkipsControlTokens() throws {
        let tok = Fixtures.smollm2
        let ids = tok.encode("<|im_start|>user\nHi there<|im_end|>\n")
        #expect(try tok.decode(ids) == "<|im_start|>user\nHi there<|im_end|>\n")
        #expect(try tok.decode(ids, skipSpecialTokens: true) == "user\nHi there\n")
    }

    /// BOS goes first only where `tokenizer.ggml.add_bos_token` says so (or, without the key,
    /// where llama.cpp's pre-tokenizer adds it: the Llama 3 family).
    @Test func bosFollowsAddBOSToken() throws {
        var v = try Fixtures.vocabulary("smollm2-tokenizer/vocabulary.json")
        let hi = try Tokenizer(vocabulary: v).encode("hi", addSpecialTokens: false)
        #expect(hi.count == 1 && hi != [1])
        #expect(try Tokenizer(vocabulary: v).encode("hi") == hi)
        v.addBOS = true
        #expect(try Tokenizer(vocabulary: v).encode("hi") == [1] + hi)
        #expect(try Tokenizer(vocabulary: v).encode("hi", addSpecialTokens: false) == hi)
        v.addEOS = true
        #expect(try Tokenizer(vocabulary: v).encode("hi") == [1] + hi + [2])
        v.addBOS = nil
        v.addEOS = nil
        v.pre = "llama-bpe"
        #expect(try Tokenizer(vocabulary: v).encode("hi") == [1] + hi)
        v.pre = "qwen2"
        #expect(try Tokenizer(vocabulary: v).encode("hi") == hi)
    }

    /// Llama 3's vocabulary as a GGUF holds it (tokenizer.json's tokens by id, special added
    /// tokens as control tokens, its merges) with `llama-bpe`, against llama.cpp.
    @Test func llama3VocabularyMatchesLlamaCpp() throws {
        let root = try #require(try Fixtures.json("llama3-tokenizer/llamacpp.json") as? [String: Any])
        let tok = try Tokenizer(vocabulary: try Fixtures.llama3Vocabulary())
        let cases = try Self.cases(root["cases"])
        #expect(cases.count >= 500)
        Self.check(tok, cases, "llama-bpe")
        #expect(Self.piecesDigest(tok) == root["pieces_fnv1a64"] as? String)
        #expect(tok.prefixTokenIds == [128_000])
    }
}

/// How llama.cpp's pre-tokenizers class each code point (its Unicode 15.1 tables).
@Suite struct LlamaCppScalarClassTests {
    @Test func everyScalarMatchesLlamaCpp() throws {
        let root = try #require(try Fixtures.json("smollm2-tokenizer/scalar-classes.json") as? [String: Any])
        let runs = try #require(root["runs"] as? [[Int]])
        var mismatches: [String] = []
        for (k, run) in runs.enumerated() {
            let end = k + 1 < runs.count ? runs[k + 1][0] : 0x110000
            for v in run[0]..<end where !(0xD800..<0xE000).contains(v) {
                let ours = Int(ScalarClass.llamaCpp.of(UInt32(v)))
                if ours != run[1] && mismatches.count < 20 {
                    mismatches.append("U+\(String(v, radix: 16, uppercase: true)): ours \(ours), llama.cpp \(run[1])")
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches)")
    }
}

/// The corners of llama.cpp's GPT-2 pattern code, and of its `smollm` digit split, spelled out.
@Suite struct GPT2SplitterTests {
    static func pieces(_ text: String, isolatesDigits: Bool) -> [String] {
        var text = text
        return text.withUTF8 { buf in
            guard let p = buf.baseAddress else { return [] }
            let splitter = GPT2Splitter(isolatesDigits: isolatesDigits)
            var out: [String] = []
            var i = 0
            while i < buf.count {
                let e = splitter.pieceEnd(p, buf.count, i)
                out.append(String(decoding: buf[i..<e], as: UTF8.self))
                i = e
            }
            return out
        }
    }

    @Test(arguments: [
        ("I'm", ["I", "'m"]),
        ("I'M", ["I", "'", "M"]),                 // case-sensitive
        ("they'll've", ["they", "'ll", "'ve"]),
        ("hello world", ["hello", " world"]),
        ("x   y", ["x", "  ", " y"]),
        ("x   ", ["x", "   "]),
        ("\tx", ["\t", "x"]),
        ("a 12345 b", ["a", " 12345", " b"]),
        ("!!! ?", ["!!!", " ?"]),
        ("x\n\ny", ["x", "\n", "\n", "y"]),
        ("e\u{301}e", ["e", "\u{301}", "e"]),
    ])
    func gpt2(text: String, want: [String]) {
        #expect(Self.pieces(text, isolatesDigits: false) == want)
    }

    @Test(arguments: [
        ("a 12345 b", ["a", " ", "1", "2", "3", "4", "5", " b"]),
        ("x  1", ["x", "  ", "1"]),               // no lookahead past a digit
        ("x   1y", ["x", "   ", "1", "y"]),
        ("v2.0", ["v", "2", ".", "0"]),
        ("'s1", ["'s", "1"]),
        ("٣٤", ["٣", "٤"]),
    ])
    func smollm(text: String, want: [String]) {
        #expect(Self.pieces(text, isolatesDigits: true) == want)
    }
}

/// Bad GGUF tokenizer metadata fails with one line that names the key.
@Suite struct BadVocabularyTests {
    static func failure(_ edit: (inout TokenizerVocabulary) -> Void) throws -> String {
        var v = try Fixtures.vocabulary("smollm2-tokenizer/vocabulary.json")
        v.source = "bad.gguf"
        edit(&v)
        do {
            _ = try Tokenizer(vocabulary: v)
            Issue.record("loaded without error")
            return ""
        } catch let error as TokenizerError {
            #expect(!error.description.contains("\n"), "one line: \(error)")
            #expect(error.description.hasPrefix("bad.gguf: "), "names the file: \(error)")
            return error.description
        }
    }

    @Test func modelAndPreTokenizer() throws {
        #expect(try Self.failure { $0.model = nil } == "bad.gguf: missing required field tokenizer.ggml.model")
        #expect(try Self.failure { $0.model = "llama" }.contains("tokenizer.ggml.model = \"llama\": hamrun implements only \"gpt2\""))
        #expect(try Self.failure { $0.pre = nil }.contains("tokenizer.ggml.pre = (missing): llama.cpp would fall back to its \"default\""))
        #expect(try Self.failure { $0.pre = "gpt2" }.contains("tokenizer.ggml.pre = \"gpt2\": not a pre-tokenizer hamrun implements"))
        #expect(try Self.failure { $0.pre = "deepseek-llm" }.contains("\"deepseek-llm\""))
    }

    @Test func tokens() throws {
        #expect(try Self.failure { $0.tokens = nil } == "bad.gguf: missing required field tokenizer.ggml.tokens")
        #expect(try Self.failure { $0.tokens = [] }.contains("tokenizer.ggml.tokens = 0 tokens"))
        #expect(try Self.failure { $0.tokens?[5] = "<|im_end|>" }
            == "bad.gguf: tokenizer.ggml.tokens[5] = \"<|im_end|>\": the same text as token 2")
        #expect(try Self.failure { $0.tokenTypes?.removeLast() }
            .contains("tokenizer.ggml.token_type = 49151 values: expected one per token (49152)"))
        #expect(try Self.failure { $0.tokenTypes?[7] = 9 } == "bad.gguf: tokenizer.ggml.token_type[7] = 9: expected a token type 0...6")
        #expect(try Self.failure { $0.tokenTypes?[300] = 6 }.contains("tokenizer.ggml.tokens[300] = "))
    }

    @Test func specialIds() throws {
        #expect(try Self.failure { $0.bosTokenId = 49152 }
            == "bad.gguf: tokenizer.ggml.bos_token_id = 49152: no token has this id (the vocabulary has 49152)")
        #expect(try Self.failure { $0.eotTokenId = -1 }.contains("tokenizer.ggml.eot_token_id = -1"))
        #expect(try Self.failure { $0.tokens = Array($0.tokens?.prefix(5) ?? []); $0.tokenTypes = nil; $0.merges = []; $0.bosTokenId = nil; $0.eosTokenId = nil; $0.addBOS = true }
            == "bad.gguf: tokenizer.ggml.add_bos_token = true: there is no BOS token")
    }

    @Test func merges() throws {
        #expect(try Self.failure { $0.merges = nil } == "bad.gguf: missing required field tokenizer.ggml.merges")
        #expect(try Self.failure { $0.merges?[3] = "hello" }
            == "bad.gguf: tokenizer.ggml.merges[3] = \"hello\": a merge must be two tokens separated by a space")
        #expect(try Self.failure { $0.merges?[3] = "Ġ zzzqqq" }
            == "bad.gguf: tokenizer.ggml.merges[3] = \"Ġ zzzqqq\": token \"zzzqqq\" is not in tokenizer.ggml.tokens")
        #expect(try Self.failure { $0.merges?[3] = "Ġ Ġt" }
            == "bad.gguf: tokenizer.ggml.merges[3] = \"Ġ Ġt\": token \"ĠĠt\" is not in tokenizer.ggml.tokens")
    }
}

/// Vocabularies the real files leave corners of untested.
@Suite struct SyntheticVocabularyTests {
    /// A byte-level vocabulary of the printable ASCII bytes, "ab" and "abc".
    static func vocabulary(merges: [String], dropping: Set<Character> = []) -> TokenizerVocabulary {
        var tokens = (0x21...0x7E).map { String(UnicodeScalar(UInt8($0))) }.filter { !dropping.contains(Character($0)) }
        tokens += ["ab", "abc", "bc", "<sp>", "<|ctl|>"]
        var types = [Int](repeating: 1, count: tokens.count)
        types[tokens.count - 2] = 4
        types[tokens.count - 1] = 3
        return TokenizerVocabulary(source: "synthetic", model: "gpt2", pre: "gpt-2", tokens: tokens, tokenTypes: types,
                                   merges: merges)
    }

    /// llama.cpp's map keeps the first rank of a merge listed twice (Hugging Face the last).
    @Test func firstOfTwoEqualMergesKeepsItsRank() throws {
        let tok = try Tokenizer(vocabulary: Self.vocabulary(merges: ["b c", "a b", "ab c", "b c"]))
        let bc = try #require(tok.id(forToken: "bc")), a = try #require(tok.id(forToken: "a"))
        #expect(tok.encode("abc") == [a, bc])
    }

    /// A byte without a token is dropped, but stays in place while merging: its neighbours do
    /// not merge across it.
    @Test func missingByteBlocksMerges() throws {
        let tok = try Tokenizer(vocabulary: Self.vocabulary(merges: ["a b"], dropping: ["~"]))
        let a = try #require(tok.id(forToken: "a")), b = try #require(tok.id(forToken: "b"))
        #expect(tok.encode("a~b") == [a, b])
        #expect(tok.encode("ab") == [try #require(tok.id(forToken: "ab"))])
    }

    /// User-defined tokens are found even when special tokens are not parsed; control tokens
    /// only when they are.
    @Test func userDefinedTokensAreAlwaysMatched() throws {
        let tok = try Tokenizer(vocabulary: Self.vocabulary(merges: []))
        let sp = try #require(tok.id(forToken: "<sp>")), ctl = try #require(tok.id(forToken: "<|ctl|>"))
        #expect(tok.encode("<sp><|ctl|>") == [sp, ctl])
        #expect(tok.encode("<sp><|ctl|>", parseSpecialTokens: false).first == sp)
        #expect(!tok.encode("<sp><|ctl|>", parseSpecialTokens: false).contains(ctl))
        #expect(!tok.isSpecial(sp) && tok.isSpecial(ctl))
    }

    /// Longest token first, even where a shorter one starts earlier: "<a" + "bc>" style
    /// overlaps resolve as llama.cpp's partition resolves them.
    @Test func longestSpecialTokenFirst() throws {
        let tokens = ["x", "y", "z", "xy", "yz!"]
        let v = TokenizerVocabulary(source: "synthetic", model: "gpt2", pre: "gpt-2", tokens: tokens + ["!"],
                                    tokenTypes: [1, 1, 1, 3, 3, 1], merges: [])
        let tok = try Tokenizer(vocabulary: v)
        // Leftmost-longest would give xy, z, !; llama.cpp takes yz! first.
        #expect(tok.encode("xyz!") == [0, 4])
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

