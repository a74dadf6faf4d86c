import Foundation
import HamChecks
import Testing
@testable import HamCore
import HamCPU
@testable import HamLoad

/// The real HAMburger assistant, `Models/smollm2-hamburger` (Tools/train/smollm2): HAMburger
/// modules trained on SmolLM2-135M-Instruct.Q4_1.gguf, which the directory references and
/// Tools/fetch-models fetches. The runtime reproduces what the PyTorch side generates from the
/// same weights (Tests/Fixtures/smollm2-hamburger-ref, Tools/train/smollm2/make_fixture.py):
/// tokens, step boundaries, each micro step's top-1 logit, logsumexp and stop probability.
@Suite struct SmolLM2HAMburgerTests {
    static let model = Fixtures.repositoryRoot.appendingPathComponent("Models/smollm2-hamburger")
    static let fixture = Fixtures.root.appendingPathComponent("smollm2-hamburger-ref/expected.json")
    static let cases: [ReferenceCases.Case] = (try? ReferenceCases.load(path: fixture.path).cases) ?? []

    @Test func fixtureCoversSeveralConfidences() throws {
        #expect(Self.cases.count >= 12)
        #expect(Self.cases.allSatisfy { !$0.isBase && $0.prompt_ids.count > 20 })
        #expect(Set(Self.cases.compactMap(\.confidence)).count >= 3)
        #expect(Self.cases.contains { ($0.steps ?? []).contains { $0.count > 1 } }, "some macro step holds several tokens")
    }

    @Test(.enabled(if: SmolLM2Tests.haveModel, "needs Tools/fetch-models"))
    func directoryIsTheGGUFWithModules() throws {
        let directory = try ModelFiles(path: Self.model.path)
        let c = directory.config
        #expect(c.numHiddenLayers == 30 && c.hiddenSize == 576 && c.ropePairing == .adjacent)
        let hamburger = try #require(c.hamburger)
        #expect(hamburger.numMicroLayers == 4 && hamburger.featureLayers.last == 29)
        let recommended = try #require(hamburger.confidence)
        #expect(Self.cases.contains { $0.confidence == recommended }, "the fixture covers the recommended confidence")
        #expect(directory.weights.dtype(of: "model.layers.0.self_attn.q_proj.weight") == .q4_1)
        #expect(directory.weights.dtype(of: "micro_step_decoder.decoders.0.self_attn.q_proj.weight") == .bf16)
    }

    @Test(.enabled(if: SmolLM2Tests.haveModel, "needs Tools/fetch-models"), arguments: cases.indices)
    func reproducesPyTorch(index: Int) throws {
        let c = Self.cases[index]
        let engine = try ModelFiles(path: Self.model.path).engine(on: CPUBackend())
        for difference in try ReferenceCases.differences(c, engine: engine) {
            Issue.record("case \(index) \(c.label): \(difference)")
        }
    }
}
