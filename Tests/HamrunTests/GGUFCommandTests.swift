import Foundation
import HamChecks
import Testing

/// `--model FILE.gguf` through the binary: the tiny reference base model converted as llama.cpp
/// converts it gives the reference's greedy tokens; a damaged file is one error line.
@Suite struct GGUFCommandTests {
    static let model = HamrunProcess.fixtures.appendingPathComponent("gguf/tiny-llama3.gguf").path

    struct Case: Decodable {
        var prompt_ids: [Int32]
        var mode: String?
        var greedy_ids: [Int32]?
    }

    struct Output: Decodable { var tokens: [Int32] }

    @Test func generateReproducesTheBaseCases() throws {
        struct Expected: Decodable { var cases: [Case] }
        let url = HamrunProcess.fixtures.appendingPathComponent("tiny-hamburger-ref/expected.json")
        let cases = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: url)).cases.filter { $0.mode == "base" }
        #expect(cases.count >= 6)
        for c in cases {
            let expected = c.greedy_ids ?? []
            // A GGUF model has no HAMburger modules: base mode without asking.
            let run = try HamrunProcess.run(["generate", "--model", Self.model, "--prompt-ids", c.prompt_ids.map(String.init).joined(separator: ","),
                                             "--max-tokens", "\(expected.count)", "--json"])
            #expect(run.status == 0, "\(run.stderr)")
            let output = try JSONDecoder().decode(Output.self, from: Data(run.stdout.utf8))
            #expect(output.tokens == expected)
        }
    }

    @Test func aDamagedFileIsOneLine() throws {
        let path = ScratchDirectory.root + "cut-\(UUID().uuidString).gguf"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.model))
        try bytes.prefix(5000).write(to: URL(fileURLWithPath: path))
        let run = try HamrunProcess.run(["generate", "--model", path, "--prompt-ids", "1,2,3"])
        #expect(run.status != 0)
        #expect(run.stderr.hasPrefix("hamrun: error: \(path): truncated: "), "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")

        let hamburger = try HamrunProcess.run(["generate", "--model", Self.model, "--mode", "hamburger", "--prompt-ids", "1,2,3"])
        #expect(hamburger.status != 0)
        #expect(hamburger.stderr.contains(Self.model), "\(hamburger.stderr)")
    }
}

/// The real model through the binary: `generate --mode base` gives transformers' greedy tokens
/// (Tests/Fixtures/smollm2-ref) up to and including EOS, and `generate --chat` answers.
@Suite struct SmolLM2CommandTests {
    static let model = GGUFTokenizerCommandTests.smollm2
    static let haveModel = GGUFTokenizerCommandTests.haveSmolLM2

    struct Reference: Decodable {
        struct Case: Decodable { var kind: String; var prompt_ids: [Int32]; var greedy_ids: [Int32] }
        var cases: [Case]
    }

    struct Output: Decodable { var tokens: [Int32]; var text: String }

    @Test(.enabled(if: haveModel, "needs Tools/fetch-models"))
    func generateGivesTransformersTokens() throws {
        let url = HamrunProcess.fixtures.appendingPathComponent("smollm2-ref/cases.json")
        let cases = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url)).cases
        // One text prompt and one chat prompt; SmolLM2Tests (HamCoreTests) checks all of them.
        for c in [cases.first { $0.kind == "text" }, cases.first { $0.kind == "chat" }].compactMap({ $0 }) {
            let run = try HamrunProcess.run(["generate", "--model", Self.model, "--mode", "base", "--backend", "cpu",
                                             "--prompt-ids", c.prompt_ids.map(String.init).joined(separator: ","),
                                             "--max-tokens", "\(c.greedy_ids.count)", "--json"])
            #expect(run.status == 0, "\(run.stderr)")
            let output = try JSONDecoder().decode(Output.self, from: Data(run.stdout.utf8))
            // Generation ends at EOS (<|im_end|>, id 2), which it keeps.
            let expected = c.greedy_ids.firstIndex(of: 2).map { Array(c.greedy_ids[...$0]) } ?? c.greedy_ids
            #expect(output.tokens == expected)
        }
    }

    @Test(.enabled(if: haveModel, "needs Tools/fetch-models"))
    func chatAnswersAQuestion() throws {
        let run = try HamrunProcess.run(["generate", "--model", Self.model, "--chat", "--prompt", "What is the capital of France?",
                                         "--max-tokens", "40", "--backend", "cpu"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("Paris"), "\(run.stdout)")
    }

    /// `hamrun chat` holds a conversation: "And of Germany?" means something only after the
    /// first turn.
    @Test(.enabled(if: haveModel, "needs Tools/fetch-models"))
    func chatHoldsAConversation() throws {
        let script = "What is the capital of France?\nAnd of Germany?\n"
        let run = try HamrunProcess.run(["chat", "--model", Self.model, "--max-tokens", "40", "--backend", "cpu"], stdin: script)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("Paris"), "\(run.stdout)")
        #expect(run.stdout.contains("Berlin"), "\(run.stdout)")
    }
}

/// The README's first command: the real HAMburger assistant (`Models/smollm2-hamburger`, its
/// modules over the fetched SmolLM2 GGUF) answers, and its summary line shows more than one
/// token per macro step.
@Suite struct RealHAMburgerCommandTests {
    static let model = HamrunProcess.repository.appendingPathComponent("Models/smollm2-hamburger").path

    @Test(.enabled(if: SmolLM2CommandTests.haveModel, "needs Tools/fetch-models"))
    func readmeFirstCommandMergesTokens() throws {
        let run = try HamrunProcess.run(["generate", "--model", Self.model, "--chat", "--prompt", "Solve for x: 3x + 5 = 20.",
                                         "--backend", "cpu"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("3x + 5"), "\(run.stdout)")
        let summary = run.stderr.split(separator: "\n").last.map(String.init) ?? ""
        let perStep = summary.split(separator: "(").dropFirst().first.flatMap { Double($0.split(separator: " ")[0]) }
        #expect((perStep ?? 0) > 1, "summary: \(summary)")
        #expect(summary.contains("hamburger on cpu"), "summary: \(summary)")
    }
}
