import Foundation
import Testing
@testable import HamTokenizer

/// Bad tokenizer.json files fail with one clear line that names the problem.
@Suite struct MalformedFileTests {
    static let tinyBytes: [UInt8] = {
        (try? [UInt8](Data(contentsOf: Fixtures.url("tiny-tokenizer/tokenizer.json")))) ?? []
    }()

    /// Loads bytes and returns the error's message (failing the test if loading succeeds).
    static func failure(_ bytes: [UInt8]) -> String {
        do {
            _ = try Tokenizer(data: bytes, source: "bad.json")
            Issue.record("loaded without error")
            return ""
        } catch let error as TokenizerError {
            let message = error.description
            #expect(!message.contains("\n"), "one line: \(message)")
            #expect(message.hasPrefix("bad.json"), "names the file: \(message)")
            return message
        } catch {
            Issue.record("not a TokenizerError: \(error)")
            return ""
        }
    }

    static func failure(_ text: String) -> String { failure(Array(text.utf8)) }

    /// The tiny tokenizer with one change made through `edit`.
    static func failure(editing edit: (inout [String: Any]) -> Void) throws -> String {
        var root = try #require(try JSONSerialization.jsonObject(with: Data(tinyBytes)) as? [String: Any])
        edit(&root)
        return failure([UInt8](try JSONSerialization.data(withJSONObject: root)))
    }

    static func model(_ root: inout [String: Any], _ edit: (inout [String: Any]) -> Void) {
        var m = root["model"] as? [String: Any] ?? [:]
        edit(&m)
        root["model"] = m
    }

    @Test func theUneditedFileLoads() throws {
        _ = try Tokenizer(data: Self.tinyBytes)
    }

    @Test func syntaxErrorsGiveLineAndColumn() {
        #expect(Self.failure(Array(Self.tinyBytes.prefix(20000))).contains("unexpected end of input"))
        #expect(Self.failure("") .contains("1:1: malformed JSON: empty text"))
        #expect(Self.failure("{\n  \"model\": {,}\n}").contains("bad.json:2:13: malformed JSON: expected a string key"))
        #expect(Self.failure("{\"a\": 1} x").contains("after the top-level value"))
        #expect(Self.failure("{\"a\": \"b\u{01}\"}").contains("control character"))
        #expect(Self.failure([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]).contains("invalid UTF-8 byte 0xFF"))
        #expect(Self.failure("{\"a\": \"\\ud800\"}").contains("lone high surrogate"))
        #expect(Self.failure("{\"a\": \"\\udc00\"}").contains("lone low surrogate"))
        #expect(Self.failure("{\"a\": \"\\q\"}").contains("invalid escape"))
        #expect(Self.failure("{\"a\": 01}").contains("number with a leading zero"))
        #expect(Self.failure("{\"a\": -}").contains("expected a digit"))
        #expect(Self.failure("{\"a\": tru}").contains("where a value should start"))
        #expect(Self.failure(String(repeating: "[", count: 100_000)).contains("nesting deeper than"))
        #expect(Self.failure("[]").contains("the top level = an array of 0: expected an object"))
    }

    @Test func missingParts() throws {
        #expect(try Self.failure { $0["model"] = nil } == "bad.json: missing required field model")
        #expect(try Self.failure { Self.model(&$0) { $0["vocab"] = nil } } == "bad.json: missing required field model.vocab")
        #expect(try Self.failure { Self.model(&$0) { $0["merges"] = nil } } == "bad.json: missing required field model.merges")
        #expect(try Self.failure { Self.model(&$0) { $0["type"] = nil } } == "bad.json: missing required field model.type")
    }

    @Test func unsupportedComponentsAreNamed() throws {
        #expect(try Self.failure { Self.model(&$0) { $0["type"] = "WordPiece" } }
            == "bad.json: model.type = \"WordPiece\" is not supported by hamrun's tokenizer")
        #expect(try Self.failure { Self.model(&$0) { $0["type"] = "Unigram" } }.contains("model.type = \"Unigram\""))
        #expect(try Self.failure { Self.model(&$0) { $0["byte_fallback"] = true } }.contains("model.byte_fallback = true"))
        #expect(try Self.failure { Self.model(&$0) { $0["dropout"] = 0.1 } }.contains("model.dropout = 0.1"))
        #expect(try Self.failure { Self.model(&$0) { $0["continuing_subword_prefix"] = "##" } }
            .contains("model.continuing_subword_prefix = \"##\""))
        #expect(try Self.failure { $0["normalizer"] = ["type": "NFC"] }.contains("normalizer.type = \"NFC\""))
        #expect(try Self.failure { $0["pre_tokenizer"] = ["type": "Whitespace"] }.contains("pre_tokenizer.type = \"Whitespace\""))
        #expect(try Self.failure { $0["pre_tokenizer"] = NSNull() }.contains("pre_tokenizer = null"))
        #expect(try Self.failure { $0["decoder"] = ["type": "WordPiece"] }.contains("decoder.type = \"WordPiece\""))
        #expect(try Self.failure { $0["decoder"] = NSNull() }.contains("decoder = null"))
        #expect(try Self.failure { $0["post_processor"] = ["type": "BertProcessing"] }
            .contains("post_processor.type = \"BertProcessing\""))
        #expect(try Self.failure { $0["truncation"] = ["max_length": 512] }.contains("truncation = an object"))
        #expect(try Self.failure { $0["version"] = "2.0" }.contains("version = \"2.0\""))
    }

    @Test func otherSplitPatternsAreRefused() throws {
        let message = try Self.failure { root in
            var pre = root["pre_tokenizer"] as? [String: Any] ?? [:]
            var list = pre["pretokenizers"] as? [[String: Any]] ?? []
            list[0]["pattern"] = ["Regex": "\\s+"]
            pre["pretokenizers"] = list
            root["pre_tokenizer"] = pre
        }
        #expect(message == "bad.json: pre_tokenizer.pretokenizers[0].pattern.Regex = \"\\\\s+\" is not supported by hamrun's tokenizer")
        let prefix = try Self.failure { root in
            var pre = root["pre_tokenizer"] as? [String: Any] ?? [:]
            var list = pre["pretokenizers"] as? [[String: Any]] ?? []
            list[1]["add_prefix_space"] = true
            pre["pretokenizers"] = list
            root["pre_tokenizer"] = pre
        }
        #expect(prefix.contains("pre_tokenizer.pretokenizers[1].add_prefix_space = true"))
    }

    @Test func badMerges() throws {
        #expect(try Self.failure { Self.model(&$0) { $0["merges"] = [["Ġ", "nope"]] } }
            == "bad.json: model.merges[0] = an array of 2: token \"nope\" is not in model.vocab")
        #expect(try Self.failure { Self.model(&$0) { $0["merges"] = ["Ġ t", "a b c"] } }
            .contains("model.merges[1] = \"a b c\": a merge must be two tokens separated by one space"))
        #expect(try Self.failure { Self.model(&$0) { $0["merges"] = [7] } }.contains("model.merges[0] = 7"))
        #expect(try Self.failure { Self.model(&$0) { $0["merges"] = [["a"]] } }.contains("a merge must be a pair"))
        // Both tokens exist but their concatenation does not.
        #expect(try Self.failure { Self.model(&$0) { $0["merges"] = [["Ġ", "Ġ"], ["x", "q"]] } }
            .contains("token \"xq\" is not in model.vocab"))
    }

    @Test func badVocabulary() throws {
        #expect(try Self.failure { Self.model(&$0) { $0["vocab"] = ["a": "zero"] } }
            .contains("model.vocab[\"a\"] = \"zero\": expected an integer id"))
        #expect(try Self.failure { Self.model(&$0) { $0["vocab"] = ["a": -1] } }.contains("model.vocab[\"a\"] = -1"))
        #expect(try Self.failure { Self.model(&$0) { $0["vocab"] = ["a": 1.5] } }.contains("expected an integer id"))
        #expect(try Self.failure { Self.model(&$0) { $0["vocab"] = ["a": 1 << 30] } }.contains("ids must be in"))
        #expect(try Self.failure { Self.model(&$0) { $0["vocab"] = ["a": 0, "b": 0]; $0["merges"] = [String]() } }
            .contains("id already used by"))
        #expect(try Self.failure { Self.model(&$0) { $0["vocab"] = [1, 2] } }.contains("model.vocab = an array of 2"))
        #expect(try Self.failure { Self.model(&$0) { $0["unk_token"] = "<unk>" } }
            .contains("model.unk_token = \"<unk>\": not in model.vocab"))
    }

    @Test func badAddedTokens() throws {
        func editAdded(_ edit: @escaping (inout [[String: Any]]) -> Void) throws -> String {
            try Self.failure { root in
                var list = root["added_tokens"] as? [[String: Any]] ?? []
                edit(&list)
                root["added_tokens"] = list
            }
        }
        #expect(try editAdded { $0[0]["id"] = 5 }.contains("added_tokens[0].id = 5: token \"<|begin_of_text|>\" would get id 1019"))
        #expect(try editAdded { $0[1]["content"] = "<|begin_of_text|>" }.contains("added_tokens[1].content"))
        #expect(try editAdded { $0[0]["content"] = nil }.contains("missing required field added_tokens[0].content"))
        #expect(try editAdded { $0[2]["special"] = "yes" }.contains("added_tokens[2].special = \"yes\": expected true or false"))
    }

    @Test func badTemplate() throws {
        let template: [String: Any] = [
            "type": "TemplateProcessing",
            "single": [["SpecialToken": ["id": "<s>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
            "pair": [], "special_tokens": [:],
        ]
        #expect(try Self.failure { $0["post_processor"] = template }
            .contains("post_processor.single[0].SpecialToken.id = \"<s>\": not listed in post_processor.special_tokens"))
        var noSequence = template
        noSequence["single"] = [[String: Any]]()
        #expect(try Self.failure { $0["post_processor"] = noSequence }.contains("the text would be dropped"))
    }

    @Test func unreadableFile() {
        let url = Fixtures.url("no-such-dir/tokenizer.json")
        #expect(throws: TokenizerError.self) { try Tokenizer(contentsOf: url) }
        do {
            _ = try Tokenizer(contentsOf: url)
        } catch {
            #expect("\(error)".hasPrefix(url.path + ": cannot read tokenizer file"))
        }
    }
}

/// Randomly damaged files never crash the loader: each either loads or throws a
/// TokenizerError, and what loads still encodes and decodes.
@Suite struct DamagedFileFuzzTests {
    @Test func randomDamageNeverCrashes() throws {
        let original = MalformedFileTests.tinyBytes
        var rng = SplitMix64(seed: 21)
        let interesting = Array("{}[]\",:0123456789-.eE\\u tfn".utf8) + [0x00, 0x80, 0xC3, 0xFF]
        var loaded = 0
        for _ in 0..<250 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[at] = interesting.randomElement(using: &rng) ?? 0
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(interesting.randomElement(using: &rng) ?? 0, at: at)
                default: bytes.removeSubrange(at...)
                }
                if bytes.isEmpty { break }
            }
            do {
                let tok = try Tokenizer(data: bytes, source: "damaged.json")
                loaded += 1
                let ids = tok.encode("Hello, world! <|eot_id|> 😀")
                _ = try? tok.decode(ids)
            } catch let error as TokenizerError {
                #expect(!error.description.contains("\n"))
            }
        }
        // Some damage is harmless (a changed digit in an id); most is not.
        #expect(loaded < 250)
    }
}
