import Foundation
import HamChecks
import HamConvert
import Testing

@Suite struct ChatCommandTests {
    static let fixture = HamrunProcess.fixtures.appendingPathComponent("tiny-hamburger-ref")

    /// The tiny model converted once for these tests (it has a tokenizer with the Llama 3 header tokens).
    static let model: String? = {
        let out = ScratchDirectory.root + "chat-\(UUID().uuidString)"
        let r = try? HamrunProcess.run(["convert", "--checkpoint", fixture.appendingPathComponent("hamburger.ckpt").path,
                                        "--base", fixture.appendingPathComponent("base").path, "--out", out])
        return r?.status == 0 ? out : nil
    }()

    @Test func replKeepsTheConversationAndPrefillsOnlyNewTurns() throws {
        let model = try #require(Self.model)
        let script = "good morrow\n/stats\nand to you\n/stats\n/reset\n/stats\n"
        let r = try HamrunProcess.run(["chat", "--model", model, "--chat-format", "llama3", "--max-tokens", "6"], stdin: script)
        #expect(r.status == 0, "\(r.stderr)")
        let stats = r.stderr.split(separator: "\n").filter { $0.hasPrefix("[") }
        #expect(stats.count == 3)
        #expect(stats[0].contains("turns 1"))
        #expect(stats[1].contains("turns 2"))
        #expect(stats[2] == "[no reply yet]")
        // Turn 2 prefilled only its own tokens: <|eot_id|> (the cut reply is closed), header, text, header.
        #expect(!stats[1].contains("(0 new tokens)"))
        let newTokens = stats[1].split(separator: "(").compactMap { part -> Int? in
            guard part.contains("new tokens") else { return nil }
            return Int(part.split(separator: " ")[0])
        }.first ?? 0
        #expect(newTokens > 0 && newTokens < 20)
        #expect(r.stderr.contains("(conversation forgotten)"))
    }

    @Test func generateChatWrapsThePromptInTheChatFormat() throws {
        let model = try #require(Self.model)
        let r = try HamrunProcess.run(["generate", "--model", model, "--chat", "--chat-format", "llama3", "--system", "Be brief.",
                                       "--prompt", "Hi", "--max-tokens", "4", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        struct Out: Decodable { var stats: Stats; struct Stats: Decodable { var prompt_tokens: Int } }
        let out = try JSONDecoder().decode(Out.self, from: Data(r.stdout.utf8))
        #expect(out.stats.prompt_tokens > 10)
    }

    @Test func chatOnAModelWithoutTheHeaderTokensIsAnError() throws {
        let tokenizerless = ScratchDirectory.root + "notok-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: tokenizerless, withIntermediateDirectories: true)
        for file in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(atPath: Self.fixture.appendingPathComponent("base/\(file)").path, toPath: tokenizerless + "/" + file)
        }
        let r = try HamrunProcess.run(["generate", "--model", tokenizerless, "--prompt", "Hi"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("no tokenizer.json"))
        #expect(r.stderr.split(separator: "\n").count == 1)
    }
}
