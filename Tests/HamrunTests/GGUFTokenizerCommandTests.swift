import Foundation
import HamChecks
import HamTokenizer
import Testing

/// The tokenizer and chat template of a GGUF file through the binary: `hamrun tokenize` on
/// SmolLM2-135M-Instruct's file (fetched by Tools/fetch-models) gives llama.cpp's ids.
@Suite struct GGUFTokenizerCommandTests {
    static let smollm2: String = {
        let cache = ProcessInfo.processInfo.environment["HAMRUN_CACHE"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/hamrun").path
        return cache + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    }()
    static let haveSmolLM2 = FileManager.default.fileExists(atPath: smollm2)
    static let tiny = HamrunProcess.fixtures.appendingPathComponent("gguf/tiny-llama3.gguf").path

    struct Reference: Decodable {
        struct Case: Decodable { var text: String; var ids: [Int32] }
        var variants: [String: [Case]]
    }

    /// JSON string lines for `--jsonl`, escaped to ASCII like the fixture.
    static func jsonLine(_ s: String) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes]), as: UTF8.self)
            .dropFirst().dropLast().description
    }

    @Test(.enabled(if: haveSmolLM2, "needs Tools/fetch-models"))
    func tokenizeSmolLM2MatchesLlamaCpp() throws {
        let url = HamrunProcess.fixtures.appendingPathComponent("smollm2-tokenizer/llamacpp.json")
        let cases = try #require(try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url)).variants["smollm"])
        #expect(cases.count >= 500)
        let input = try cases.map { try Self.jsonLine($0.text) + "\n" }.joined()
        let run = try HamrunProcess.run(["tokenize", "--model", Self.smollm2, "--jsonl"], stdin: input)
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == cases.count)
        var failures = 0
        for (c, line) in zip(cases, lines) where failures < 5 {
            let ids = try JSONDecoder().decode([Int32].self, from: Data(line.utf8))
            if ids != c.ids {
                failures += 1
                Issue.record("\(String(reflecting: c.text)): hamrun \(ids), llama.cpp \(c.ids)")
            }
        }
    }

    /// `generate --chat` on SmolLM2 writes its ChatML prompt with the template's default system
    /// message.
    @Test(.enabled(if: haveSmolLM2, "needs Tools/fetch-models"))
    func generateChatUsesSmolLM2sTemplate() throws {
        struct Output: Decodable {
            var stats: Stats
            struct Stats: Decodable { var prompt_tokens: Int }
        }
        let run = try HamrunProcess.run(["generate", "--model", Self.smollm2, "--chat", "--prompt", "What is the capital of France?",
                                         "--max-tokens", "1", "--json", "--backend", "cpu"])
        #expect(run.status == 0, "\(run.stderr)")
        let out = try JSONDecoder().decode(Output.self, from: Data(run.stdout.utf8))
        let text = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            + "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
        let ids = try HamrunProcess.run(["tokenize", "--model", Self.smollm2], stdin: text)
        let expected = try JSONDecoder().decode([Int32].self, from: Data(ids.stdout.utf8))
        #expect(out.stats.prompt_tokens == expected.count)
    }

    /// The tiny converted model's vocabulary has add_bos_token = true: BOS first.
    @Test func tokenizeTinyGGUF() throws {
        let run = try HamrunProcess.run(["tokenize", "--model", Self.tiny], stdin: "Hello")
        #expect(run.status == 0, "\(run.stderr)")
        let ids = try JSONDecoder().decode([Int32].self, from: Data(run.stdout.utf8))
        let back = try HamrunProcess.run(["detokenize", "--model", Self.tiny], stdin: run.stdout)
        #expect(back.status == 0, "\(back.stderr)")
        #expect(ids.count >= 2 && back.stdout.hasSuffix("Hello"), "\(ids) \(back.stdout)")
    }

    @Test func aGGUFWithoutTokenizerMetadataSaysSo() throws {
        let path = ScratchDirectory.root + "notok-\(UUID().uuidString).gguf"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.writeGGUFWithoutTokenizer(to: path)
        let run = try HamrunProcess.run(["tokenize", "--model", path], stdin: "x")
        #expect(run.status != 0)
        #expect(run.stderr == "hamrun: error: \(path): no tokenizer metadata (tokenizer.ggml.model)\n")
    }

    /// A version 3 GGUF with one metadata key and no tensors.
    static func writeGGUFWithoutTokenizer(to path: String) throws {
        var b = Data("GGUF".utf8)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); b.append(contentsOf: Array(s.utf8)) }
        u32(3); u64(0); u64(1)
        str("general.architecture"); u32(8); str("llama")
        try b.write(to: URL(fileURLWithPath: path))
    }
}
