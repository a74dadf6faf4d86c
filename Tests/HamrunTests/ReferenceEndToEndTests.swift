import Foundation
import HamChecks
import HamConvert
import Testing

/// The acceptance path, through the binary: `hamrun convert` on the reference checkpoint,
/// then `hamrun generate --prompt-ids ... --confidence C --max-tokens 48 --json` for every case.
@Suite(.serialized) struct ReferenceEndToEndTests {
    struct Case: Decodable {
        var prompt_ids: [Int32]
        var mode: String?
        var confidence: Double?
        var steps: [[Int32]]?
        var greedy_ids: [Int32]?
    }

    struct Output: Decodable {
        var tokens: [Int32]
        var steps: [[Int32]]
    }

    static let fixture = HamrunProcess.fixtures.appendingPathComponent("tiny-hamburger-ref")

    @Test func convertThenGenerateReproducesEveryCase() throws {
        try convertThenGenerate(backend: "cpu")
    }

    @Test(.enabled(if: VulkanCommandTests.hasDevice, "no Vulkan device on this machine (install mesa-vulkan-drivers for lavapipe)"))
    func convertThenGenerateReproducesEveryCaseOnVulkan() throws {
        try convertThenGenerate(backend: "vulkan")
    }

    /// No flag and no edit of the converted config.json: its micro attention is the causal default.
    func convertThenGenerate(backend: String) throws {
        let model = ScratchDirectory.root + "e2e-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: model) }
        let convert = try HamrunProcess.run(["convert", "--checkpoint", Self.fixture.appendingPathComponent("hamburger.ckpt").path,
                                             "--base", Self.fixture.appendingPathComponent("base").path, "--out", model])
        #expect(convert.status == 0, "\(convert.stderr)")

        struct Expected: Decodable { var cases: [Case] }
        let cases = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Self.fixture.appendingPathComponent("expected.json"))).cases
        #expect(cases.count >= 20)
        for c in cases {
            let ids = c.prompt_ids.map(String.init).joined(separator: ",")
            if c.mode == "base" {
                let expected = c.greedy_ids ?? []
                let run = try HamrunProcess.run(["generate", "--model", model, "--backend", backend, "--mode", "base", "--prompt-ids", ids,
                                                 "--max-tokens", "\(expected.count)", "--json"])
                let output = try JSONDecoder().decode(Output.self, from: Data(run.stdout.utf8))
                #expect(output.tokens == expected, "\(backend)")
            } else {
                let run = try HamrunProcess.run(["generate", "--model", model, "--backend", backend, "--prompt-ids", ids,
                                                 "--confidence", "\(c.confidence ?? 0.9)", "--max-tokens", "48", "--json"])
                #expect(run.status == 0, "\(run.stderr)")
                let output = try JSONDecoder().decode(Output.self, from: Data(run.stdout.utf8))
                var expected: [[Int32]] = [], total = 0
                for step in c.steps ?? [] where total < 48 {
                    expected.append(Array(step.prefix(48 - total)))
                    total += expected[expected.count - 1].count
                }
                #expect(output.steps == expected, "\(backend), confidence \(c.confidence ?? 0)")
                #expect(output.tokens.count == 48)
            }
        }
    }
}

@Suite struct CheckReferenceCommandTests {
    @Test func checkReferenceReproducesTheFixtureOnTheCPU() throws {
        let fixture = ReferenceEndToEndTests.fixture
        let model = ScratchDirectory.root + "checkref-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: model) }
        _ = try HamrunProcess.run(["convert", "--checkpoint", fixture.appendingPathComponent("hamburger.ckpt").path,
                                   "--base", fixture.appendingPathComponent("base").path, "--out", model])
        let r = try HamrunProcess.run(["check", "--reference", fixture.appendingPathComponent("expected.json").path,
                                       "--model", model, "--backend", "cpu"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("24 cases, 0 failed"))
    }
}
