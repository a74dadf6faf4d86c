import Foundation
import HamChecks
import Testing
@testable import HamConvert
@testable import HamCore
import HamCPU
@testable import HamLoad

/// The model shipped in `Models/shakespeare-hamburger` (trained by Tools/train): the runtime
/// generates exactly what the PyTorch training code generates from the same weights, and at
/// the model's recommended confidence it really emits more than one token per base forward.
@Suite struct EmbeddedModelTests {
    static let model = Fixtures.repositoryRoot.appendingPathComponent("Models/shakespeare-hamburger")
    static let fixture = Fixtures.root.appendingPathComponent("shakespeare-ref")
    static let cases: [ReferenceCases.Case] =
        (try? ReferenceCases.load(path: fixture.appendingPathComponent("expected.json").path).cases) ?? []

    static func engine() throws -> InferenceEngine {
        try ModelFiles(path: model.path).engine(on: CPUBackend())
    }

    @Test func fixtureCoversTheRecommendedConfidence() throws {
        let config = try ModelFiles(path: Self.model.path).config
        let recommended = try #require(config.hamburger?.confidence)
        #expect(Self.cases.filter(\.isBase).count >= 6)
        #expect(Self.cases.contains { !$0.isBase && $0.confidence == recommended })
        #expect(Set(Self.cases.compactMap(\.confidence)).count >= 3)
    }

    @Test(arguments: cases.indices.filter { !cases[$0].isBase })
    func hamburgerCase(index: Int) throws {
        let c = Self.cases[index]
        for difference in try ReferenceCases.differences(c, engine: try Self.engine()) {
            Issue.record("case \(index) \(c.label): \(difference)")
        }
    }

    @Test(arguments: cases.indices.filter { cases[$0].isBase })
    func baseCase(index: Int) throws {
        let c = Self.cases[index]
        for difference in try ReferenceCases.differences(c, engine: try Self.engine()) {
            Issue.record("case \(index) \(c.label): \(difference)")
        }
    }

    /// The held-out prompts of the model card's sweep (`heldout.json`), greedy at the confidence
    /// `hamrun generate` uses by default, counted as Tools/train/evaluate.py counts: each prompt
    /// ends with the macro step that reaches `max_new_tokens` (or holds EOS).
    @Test func heldOutPromptsAverageMoreThan1Point2TokensPerStep() throws {
        let heldOut = try JSONDecoder().decode(
            HeldOut.self, from: Data(contentsOf: Self.fixture.appendingPathComponent("heldout.json")))
        let directory = try ModelFiles(path: Self.model.path)
        let confidence = try #require(directory.config.hamburger?.confidence)
        #expect(confidence == heldOut.recommendedConfidence)
        let maxSteps = directory.config.hamburger?.maxSteps ?? 4
        let engine = try Self.engine()
        let eos = Set(directory.eosTokenIds.map(Int32.init))
        var tokens = 0, steps = 0
        for prompt in heldOut.prompts {
            // Room for a whole last step, so every counted step is generated as in an open-ended run.
            let options = GenerationOptions(maxTokens: heldOut.maxNewTokens + maxSteps - 1,
                                            confidence: confidence, stopTokens: eos)
            var count = 0
            for step in try engine.generate(GenerationRequest(prompt: prompt.promptIds, options: options)).steps {
                count += step.count
                steps += 1
                if count >= heldOut.maxNewTokens || step.contains(where: eos.contains) { break }
            }
            tokens += count
        }
        let perStep = Double(tokens) / Double(steps)
        #expect(heldOut.prompts.count >= 40)
        #expect(perStep > 1.2, "held-out tokens per macro step \(perStep) at confidence \(confidence)")
        // The PyTorch sweep counted the same prompts: near-ties aside, the runtime agrees.
        if let reference = heldOut.pytorchSweep["\(confidence)"] {
            let referencePerStep = Double(reference.tokens) / Double(reference.steps)
            #expect(abs(perStep - referencePerStep) < 0.05,
                    "runtime \(perStep) vs PyTorch \(referencePerStep) tokens per step")
        }
    }

    struct HeldOut: Decodable {
        struct Prompt: Decodable {
            var name: String
            var promptIds: [Int32]
            enum CodingKeys: String, CodingKey { case name, promptIds = "prompt_ids" }
        }
        struct Count: Decodable { var tokens: Int; var steps: Int }
        var maxNewTokens: Int
        var recommendedConfidence: Double
        var pytorchSweep: [String: Count]
        var prompts: [Prompt]
        enum CodingKeys: String, CodingKey {
            case maxNewTokens = "max_new_tokens", recommendedConfidence = "recommended_confidence"
            case pytorchSweep = "pytorch_sweep", prompts
        }
    }
}
