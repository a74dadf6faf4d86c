import Foundation
import HamChecks
import HamConvert
import HamTokenizer
import Testing

/// Chat with Meta's Llama 3 tokenizer: a small random model with Llama 3's vocabulary, the real
/// tokenizer.json, and a tokenizer_config.json whose chat template is Llama 3.2's (so hamrun picks
/// the Llama 3.2 format with its date preamble) or Llama 3's.
@Suite(.serialized) struct Llama3ChatTests {
    static let tokenizer = HamrunProcess.fixtures.appendingPathComponent("llama3-tokenizer/tokenizer.json")

    static func model(template: String) throws -> String {
        let path = ScratchDirectory.root + "llama3chat-\(UUID().uuidString)"
        var config = RandomModel.Shape.tiny.config
        config["vocab_size"] = 128_256
        config["hidden_size"] = 64
        config["intermediate_size"] = 128
        config["num_hidden_layers"] = 2
        config["num_attention_heads"] = 4
        config["num_key_value_heads"] = 2
        config["head_dim"] = 16
        config["bos_token_id"] = 128_000
        config["eos_token_id"] = [128_001, 128_009]
        config["hamburger"] = ["max_steps": 4, "feature_layers": [0, 1], "num_micro_layers": 1, "merger_heads": 16]
        try RandomModel.write(config: config, dtype: .bf16, seed: 5, to: path)
        try FileManager.default.copyItem(atPath: tokenizer.path, toPath: path + "/tokenizer.json")
        let tokenizerConfig = try JSONSerialization.data(withJSONObject: ["chat_template": template])
        try tokenizerConfig.write(to: URL(fileURLWithPath: path + "/tokenizer_config.json"))
        return path
    }

    static let llama32Template = "{{- bos_token }}<|start_header_id|>system<|end_header_id|>\\n\\nCutting Knowledge Date: December 2023 ..."
    static let llama3Template = "{% set loop_messages = messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|> ..."

    struct Output: Decodable {
        var tokens: [Int32]
        var stats: Stats
        struct Stats: Decodable { var prompt_tokens: Int }
    }

    @Test(arguments: [(llama32Template, true), (llama3Template, false)])
    func generateChatUsesTheModelsChatFormat(template: String, hasDatePreamble: Bool) throws {
        let model = try Self.model(template: template)
        defer { try? FileManager.default.removeItem(atPath: model) }
        let r = try HamrunProcess.run(["generate", "--model", model, "--chat", "--prompt", "What light through yonder window breaks?",
                                       "--max-tokens", "5", "--json", "--backend", "cpu"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = try JSONDecoder().decode(Output.self, from: Data(r.stdout.utf8))
        let tokenizer = try Tokenizer(contentsOf: Self.tokenizer)
        let format: ChatFormat = hasDatePreamble ? .llama32(date: Self.today()) : .llama3
        let expected = try ChatFormatter(tokenizer: tokenizer, format: format).prompt([.user("What light through yonder window breaks?")])
        #expect(out.stats.prompt_tokens == expected.count)
        #expect(out.tokens.count <= 5)
    }

    @Test func chatREPLTakesTurnsWithTheLlama3Tokenizer() throws {
        let model = try Self.model(template: Self.llama32Template)
        defer { try? FileManager.default.removeItem(atPath: model) }
        let r = try HamrunProcess.run(["chat", "--model", model, "--max-tokens", "4", "--backend", "cpu", "--system", "You are terse."],
                                      stdin: "Hello, ✨ world!\n/stats\nAnd again\n/stats\n")
        #expect(r.status == 0, "\(r.stderr)")
        let stats = r.stderr.split(separator: "\n").filter { $0.hasPrefix("[turns") }
        #expect(stats.count == 2)
    }

    /// A template of a family hamrun does not write is refused by name; `--chat-format` chooses
    /// a format instead.
    @Test func unknownTemplateNeedsChatFormat() throws {
        let model = try Self.model(template: "{{ bos_token }}<start_of_turn>user\n{{ content }}<end_of_turn>")
        defer { try? FileManager.default.removeItem(atPath: model) }
        let args = ["generate", "--model", model, "--chat", "--prompt", "Hi", "--max-tokens", "2", "--backend", "cpu"]
        let r = try HamrunProcess.run(args)
        #expect(r.status != 0)
        #expect(r.stderr == "hamrun: error: \(model)/tokenizer_config.json: chat_template is a \"gemma\" template (as llama.cpp "
            + "names its family), which hamrun does not implement; choose a format with --chat-format plain|chatml|llama3|llama32\n")
        let forced = try HamrunProcess.run(args + ["--chat-format", "llama3"])
        #expect(forced.status == 0, "\(forced.stderr)")
    }

    static func today() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "dd MMM yyyy"
        return formatter.string(from: Date())
    }
}
