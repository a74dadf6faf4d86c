import Foundation
import Testing

@Suite struct GenerateCommandTests {
    let base = HamrunProcess.fixtures.appendingPathComponent("tiny-hamburger-ref/base").path

    struct Report: Decodable {
        var tokens: [Int32]
        var steps: [[Int32]]
        var text: String
        var stats: Stats
        struct Stats: Decodable {
            var prompt_tokens: Int
            var generated_tokens: Int
            var macro_steps: Int
            var kv_slots: Int
            var prefill_seconds: Double
            var decode_seconds: Double
            var tokens_per_second: Double
        }
    }

    @Test func baseModeJSONMatchesTheReference() throws {
        let result = try HamrunProcess.run(["generate", "--model", base, "--mode", "base", "--backend", "cpu",
                                            "--prompt-ids", "1019,418,308,11,535,327,292,308,11,332,328,268,597,401,396,25",
                                            "--max-tokens", "24", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
        #expect(report.tokens == [400, 579, 400, 579, 579, 579, 579, 579, 579, 579, 579, 579, 579, 579, 579, 579, 579, 579, 579, 579, 579, 579, 579, 579])
        #expect(report.steps.count == 24 && report.steps.allSatisfy { $0.count == 1 })
        #expect(report.stats.prompt_tokens == 16)
        #expect(report.stats.generated_tokens == 24)
        #expect(report.stats.macro_steps == 24)
        // The last token is emitted but not fed: 16 prompt slots + 23 fed tokens.
        #expect(report.stats.kv_slots == 39)
    }

    @Test func streamingEndsWithASummaryLine() throws {
        let result = try HamrunProcess.run(["generate", "--model", base, "--prompt-ids", "1019,418,308", "--max-tokens", "5"])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = result.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(summary.contains("5 tokens in 5 macro steps"))
        #expect(summary.contains("tok/s"))
        #expect(summary.contains("KV slots"))
    }

    @Test func traceLogGoesToStderrAndLeavesTheJSONAlone() throws {
        let result = try HamrunProcess.run(["generate", "--model", base, "--prompt-ids", "1019,418", "--max-tokens", "3",
                                            "--log-level", "trace", "--json"])
        #expect(result.status == 0)
        #expect(result.stderr.contains("macro step 0"))
        #expect(result.stderr.contains("model \(base)"))
        let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
        #expect(report.tokens.count == 3)
    }

    /// `bench --chat` prompts with the message in the model's chat format: the prompt `generate
    /// --chat` builds from the same message.
    @Test func benchChatPromptIsTheChatFormattedMessage() throws {
        let generated = try HamrunProcess.run(["generate", "--model", base, "--backend", "cpu", "--chat",
                                               "--prompt", "Why is the sky blue?", "--max-tokens", "1", "--json"])
        #expect(generated.status == 0, "\(generated.stderr)")
        let report = try JSONDecoder().decode(Report.self, from: Data(generated.stdout.utf8))
        let bench = try HamrunProcess.run(["bench", "--model", base, "--backend", "cpu", "--chat", "Why is the sky blue?",
                                           "--gen-tokens", "3", "--runs", "1", "--json"])
        #expect(bench.status == 0, "\(bench.stderr)")
        struct Bench: Decodable { var prompt_tokens: Int; var generated_tokens: Int }
        let measured = try JSONDecoder().decode(Bench.self, from: Data(bench.stdout.utf8))
        #expect(measured.prompt_tokens == report.stats.prompt_tokens && measured.prompt_tokens > 8)
        #expect(measured.generated_tokens == 3)
    }

    /// Every bad input: a non-zero exit and exactly one line on stderr naming the problem.
    @Test(arguments: [
        (["generate", "--model", "/nonexistent/model", "--prompt-ids", "1"], "/nonexistent/model"),
        (["generate", "--prompt-ids", "1,x,3", "--model", "MODEL"], "'x'"),
        (["generate", "--prompt-ids", "1,99999", "--model", "MODEL"], "99999"),
        (["generate", "--prompt-ids", "", "--model", "MODEL"], "''"),
        (["generate", "--prompt-ids", "1", "--max-tokens", "0", "--model", "MODEL"], "--max-tokens"),
        (["generate", "--prompt-ids", "1", "--confidence", "1.5", "--model", "MODEL"], "--confidence"),
        (["generate", "--prompt-ids", "1", "--temperature", "-1", "--model", "MODEL"], "--temperature"),
        (["generate", "--prompt-ids", "1", "--top-p", "0", "--model", "MODEL"], "--top-p"),
        (["generate", "--prompt-ids", "1", "--mode", "hamburger", "--model", "MODEL"], "not a HAMburger model"),
        (["generate", "--prompt-ids", "1", "--mode", "fast", "--model", "MODEL"], "fast"),
        (["generate", "--prompt-ids", "1", "--backend", "tpu", "--model", "MODEL"], "tpu"),
        (["generate", "--model", "MODEL"], "--prompt"),
        (["generate", "--prompt-ids", "1", "--bogus", "--model", "MODEL"], "--bogus"),
        (["bench", "--prompt-tokens", "0", "--model", "MODEL"], "--prompt-tokens"),
        (["generate", "--prompt-ids", "1", "--log-level", "loud", "--model", "MODEL"], "loud"),
    ])
    func badInput(arguments: [String], mentions: String) throws {
        let result = try HamrunProcess.run(arguments.map { $0 == "MODEL" ? base : $0 })
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        #expect(result.stderr.hasPrefix("hamrun: error: "))
        #expect(result.stderr.contains(mentions), "stderr: \(result.stderr)")
    }
}
