import Foundation
import Testing

/// `hamrun generate` with no `--model` runs the model shipped in Models/shakespeare-hamburger:
/// the README's first command.
@Suite struct EmbeddedModelCommandTests {
    @Test func generateWithoutAModelUsesTheEmbeddedOne() throws {
        let result = try HamrunProcess.run(["generate", "--backend", "cpu", "--prompt", "ROMEO. But soft, what light",
                                            "--max-tokens", "48"], environment: ["HAMRUN_MODEL": ""])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.split(whereSeparator: \.isWhitespace).count >= 8, "\(result.stdout)")
        // "[48 tokens in N macro steps (T tokens/step), ...]": more than one token per base forward.
        let summary = (result.stderr.split(separator: "\n").last.map(String.init) ?? "")
            .trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let words = summary.split(separator: " ")
        let steps = try #require(words.firstIndex(of: "macro").flatMap { Int(words[$0 - 1]) }, "\(summary)")
        #expect(summary.hasPrefix("48 tokens in"))
        #expect(steps < 48, "\(summary)")
    }

    @Test func theEnvironmentVariableChoosesAnotherModel() throws {
        let result = try HamrunProcess.run(["generate", "--prompt-ids", "1", "--max-tokens", "2"],
                                           environment: ["HAMRUN_MODEL": "/nonexistent/hamrun-model"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("/nonexistent/hamrun-model"))
    }
}
