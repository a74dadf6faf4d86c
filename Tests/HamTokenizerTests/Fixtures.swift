import Foundation
import Testing
@testable import HamTokenizer

/// Test fixtures, found from this file's path so no resource bundle is needed.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static func url(_ relative: String) -> URL { directory.appendingPathComponent(relative) }

    /// Loaded once: every test that needs them shares the same instances.
    static let llama3: Tokenizer = load("llama3-tokenizer/tokenizer.json")
    static let tiny: Tokenizer = load("tiny-tokenizer/tokenizer.json")
    /// SmolLM2-135M-Instruct's GGUF vocabulary (llama.cpp's `smollm` pre-tokenizer).
    static let smollm2: Tokenizer = {
        do {
            return try Tokenizer(vocabulary: vocabulary("smollm2-tokenizer/vocabulary.json"))
        } catch {
            preconditionFailure("fixture smollm2-tokenizer/vocabulary.json failed to load: \(error)")
        }
    }()

    /// A `TokenizerVocabulary` from JSON keyed by GGUF keys (Tools/tokenizer/dump_gguf_vocabulary.py).
    static func vocabulary(_ path: String) throws -> TokenizerVocabulary {
        typealias K = TokenizerVocabulary.Key
        let root = try #require(try json(path) as? [String: Any])
        func int(_ key: String) -> Int? { root[key] as? Int }
        return TokenizerVocabulary(
            source: url(path).path, model: root[K.model] as? String, pre: root[K.pre] as? String,
            tokens: root[K.tokens] as? [String], tokenTypes: root[K.tokenTypes] as? [Int],
            merges: root[K.merges] as? [String], bosTokenId: int(K.bosTokenId), eosTokenId: int(K.eosTokenId),
            eotTokenId: int(K.eotTokenId), eomTokenId: int(K.eomTokenId), unknownTokenId: int(K.unknownTokenId),
            separatorTokenId: int(K.separatorTokenId), paddingTokenId: int(K.paddingTokenId),
            fimPreTokenId: int(K.fimPreTokenId), fimSufTokenId: int(K.fimSufTokenId),
            fimMidTokenId: int(K.fimMidTokenId), fimPadTokenId: int(K.fimPadTokenId),
            fimRepTokenId: int(K.fimRepTokenId), fimSepTokenId: int(K.fimSepTokenId),
            addBOS: root[K.addBOS] as? Bool, addEOS: root[K.addEOS] as? Bool,
            chatTemplate: root[K.chatTemplate] as? String)
    }

    private static func load(_ path: String) -> Tokenizer {
        do {
            return try Tokenizer(contentsOf: url(path))
        } catch {
            // A fixture that does not load makes every dependent test meaningless.
            preconditionFailure("fixture \(path) failed to load: \(error)")
        }
    }

    /// Llama 3's tokenizer.json as GGUF metadata says it (Tools/tokenizer/make_llamacpp_expectations.py,
    /// `llama3_metadata`): tokens by id, special added tokens as control tokens (user-defined
    /// otherwise), merges as "a b", BOS <|begin_of_text|> added, EOS <|eot_id|>, `llama-bpe`.
    static func llama3Vocabulary() throws -> TokenizerVocabulary {
        let root = try #require(try json("llama3-tokenizer/tokenizer.json") as? [String: Any])
        let model = try #require(root["model"] as? [String: Any])
        let vocab = try #require(model["vocab"] as? [String: Int])
        let added = try #require(root["added_tokens"] as? [[String: Any]])
        let count = max(vocab.values.max() ?? 0, added.compactMap { $0["id"] as? Int }.max() ?? 0) + 1
        var tokens = [String](repeating: "", count: count)
        var types = [Int](repeating: 1, count: count)
        for (text, id) in vocab { tokens[id] = text }
        for t in added {
            let id = try #require(t["id"] as? Int)
            tokens[id] = try #require(t["content"] as? String)
            types[id] = (t["special"] as? Bool ?? false) ? 3 : 4
        }
        let merges = try #require(model["merges"] as? [Any]).map { m in
            (m as? String) ?? ((m as? [String]) ?? []).joined(separator: " ")
        }
        return TokenizerVocabulary(
            source: url("llama3-tokenizer/tokenizer.json").path, model: "gpt2", pre: "llama-bpe", tokens: tokens,
            tokenTypes: types, merges: merges, bosTokenId: tokens.firstIndex(of: "<|begin_of_text|>"),
            eosTokenId: tokens.firstIndex(of: "<|eot_id|>"), addBOS: true)
    }

    static func json(_ path: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url(path)))
    }
}
