import Foundation
import HamChecks
import HamConvert
import Testing

/// `hamrun batch`: every reference case in one batch reproduces the authors' output; a bad line
/// gets an error object on its own output line while the others run; standard input and output.
@Suite(.serialized) struct BatchCommandTests {
    static let fixture = HamrunProcess.fixtures.appendingPathComponent("tiny-hamburger-ref")

    struct Case: Decodable {
        var prompt_ids: [Int32]
        var mode: String?
        var confidence: Double?
        var max_new_tokens: Int?
        var steps: [[Int32]]?
        var greedy_ids: [Int32]?

        /// The reference's steps cut at max_new_tokens, as hamrun cuts the last step.
        var expectedSteps: [[Int32]] {
            var out: [[Int32]] = [], total = 0
            let limit = max_new_tokens ?? 48
            for step in steps ?? [] where total < limit {
                out.append(Array(step.prefix(limit - total)))
                total += out[out.count - 1].count
            }
            return out
        }
    }

    struct Line: Decodable {
        struct Failure: Decodable { var message: String; var line: Int }
        var tokens: [Int32]?
        var steps: [[Int32]]?
        var text: String?
        var finish_reason: String?
        var error: Failure?
    }

    static let model: Result<String, Error> = Result {
        let model = ScratchDirectory.root + "batch-\(UUID().uuidString)"
        _ = try CheckpointConverter.convert(checkpoint: fixture.appendingPathComponent("hamburger.ckpt").path,
                                            base: fixture.appendingPathComponent("base").path, output: model)
        return model
    }

    static func cases() throws -> [Case] {
        struct Expected: Decodable { var cases: [Case] }
        return try JSONDecoder().decode(Expected.self, from: Data(contentsOf: fixture.appendingPathComponent("expected.json"))).cases
    }

    static func jsonl(_ cases: [Case]) -> String {
        cases.map { c in
            c.mode == "base"
                ? #"{"prompt_ids": \#(c.prompt_ids), "mode": "base", "max_tokens": \#(c.greedy_ids?.count ?? 0)}"#
                : #"{"prompt_ids": \#(c.prompt_ids), "confidence": \#(c.confidence ?? 0.5), "max_tokens": \#(c.max_new_tokens ?? 48)}"#
        }.joined(separator: "\n") + "\n"
    }

    @Test(arguments: [1, 3, 24])
    func everyReferenceCaseInOneBatch(parallel: Int) throws {
        try reproduce(parallel: parallel, backend: "cpu")
    }

    @Test(.enabled(if: VulkanCommandTests.hasDevice, "no Vulkan device on this machine (install mesa-vulkan-drivers for lavapipe)"))
    func everyReferenceCaseInOneBatchOnVulkan() throws {
        try reproduce(parallel: 24, backend: "vulkan")
    }

    func reproduce(parallel: Int, backend: String) throws {
        let cases = try Self.cases()
        let input = ScratchDirectory.root + "batch-in-\(UUID().uuidString).jsonl", output = input + ".out"
        try Self.jsonl(cases).write(toFile: input, atomically: true, encoding: .utf8)
        defer { for path in [input, output] { try? FileManager.default.removeItem(atPath: path) } }
        let run = try HamrunProcess.run(["batch", "--model", try Self.model.get(), "--input", input, "--output", output,
                                         "--parallel", "\(parallel)", "--backend", backend])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
        #expect(lines.count == cases.count)
        for (i, (c, line)) in zip(cases, lines).enumerated() {
            if c.mode == "base" {
                #expect(line.tokens == c.greedy_ids, "\(backend) line \(i + 1)")
            } else {
                #expect(line.steps == c.expectedSteps, "\(backend) line \(i + 1)")
            }
        }
    }

    @Test func aBadLineGetsAnErrorAndTheOthersRun() throws {
        let input = """
            {"prompt_ids": [1, 2, 3], "max_tokens": 4}
            {"prompt_ids": [1, 99999], "max_tokens": 4}
            this is not json
            {"prompt_ids": [5, 6, 7], "max_tokens": 4, "mode": "fast"}
            {"prompt_ids": [5, 6, 7], "max_tokens": "four"}
            {"max_tokens": 4}
            {"prompt_ids": [7, 8], "max_tokens": 3, "temperature": 0.8, "seed": 7}

            """
        let run = try HamrunProcess.run(["batch", "--model", try Self.model.get(), "--input", "-", "--output", "-",
                                         "--backend", "cpu"], stdin: input)
        #expect(run.status == 0, "\(run.stderr)")
        let lines = try run.stdout.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
        #expect(lines.count == 7)
        guard lines.count == 7 else { return }
        #expect(lines[0].tokens?.count == 4)
        #expect(lines[1].error?.message.contains("99999") == true, "\(String(describing: lines[1].error))")
        #expect(lines[2].error?.line == 3)
        #expect(lines[3].error?.message.contains("fast") == true)
        #expect(lines[4].error?.message.contains("max_tokens") == true)
        #expect(lines[5].error?.message.contains("prompt") == true)
        #expect(lines[6].tokens?.count == 3)
        #expect(lines.filter { $0.error != nil }.map { $0.error?.line } == [2, 3, 4, 5, 6])
    }
}
