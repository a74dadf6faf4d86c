import Foundation
import Testing
@testable import HamCore

/// The authors' PyTorch modules are the ground truth: same tokens, same step boundaries,
/// logits within float32 tolerance.
@Suite struct ReferenceFixtureTests {
    static let cases = (try? Fixtures.expected().cases) ?? []

    @Test func fixtureIsPresent() {
        #expect(Self.cases.filter { $0.mode == "base" }.count >= 1)
        #expect(Self.cases.filter { $0.mode == nil }.count >= 1)
    }

    @Test(arguments: cases.indices.filter { cases[$0].mode == nil })
    func hamburgerCase(index: Int) throws {
        let c = Self.cases[index]
        let model = try ModelDirectory(path: try Fixtures.tinyHAMburgerDirectory())
        let graph = try HAMburgerGraph(model: model, backend: CPUBackend(), mode: .hamburger)
        let generator = Generator(graph: graph)
        let maxTokens = c.max_new_tokens ?? 48
        var traces: [MicroStepTrace] = []
        let result = try generator.generate(
            prompt: c.prompt_ids,
            options: GenerationOptions(maxTokens: maxTokens, confidence: c.confidence ?? 0.9, mode: .hamburger),
            trace: { traces.append($0) })

        let expectedSteps = truncated(c.steps ?? [], to: maxTokens)
        #expect(result.steps == expectedSteps, "case \(index) '\(c.prompt)' at confidence \(c.confidence ?? 0)")
        let reference = c.micro_trace ?? []
        let stops = c.stop_probs ?? []
        for (i, trace) in traces.enumerated() where i < reference.count {
            let (top, lse) = topAndLogSumExp(trace.logits)
            #expect(trace.token == reference[i].top2[0], "micro step \(i): token")
            #expect(abs(top - reference[i].top2_logits[0]) < 1e-3, "micro step \(i): top-1 logit \(top) vs \(reference[i].top2_logits[0])")
            #expect(abs(lse - reference[i].logsumexp) < 1e-3, "micro step \(i): logsumexp \(lse) vs \(reference[i].logsumexp)")
            #expect(abs(trace.stopProbability - stops[i]) < 1e-4, "micro step \(i): stop probability \(trace.stopProbability) vs \(stops[i])")
        }
        #expect(traces.count == min(reference.count, maxTokens))
    }

    @Test(arguments: cases.indices.filter { cases[$0].mode == "base" })
    func baseCase(index: Int) throws {
        let c = Self.cases[index]
        let model = try ModelDirectory(path: Fixtures.tinyBase.path)
        let graph = try HAMburgerGraph(model: model, backend: CPUBackend(), mode: .base)
        let generator = Generator(graph: graph)
        let expectedIds = c.greedy_ids ?? []
        var firstLogits: [Float]?
        let result = try generator.generate(
            prompt: c.prompt_ids,
            options: GenerationOptions(maxTokens: expectedIds.count, mode: .base),
            trace: { if firstLogits == nil { firstLogits = $0.logits } })
        #expect(result.tokens == expectedIds)
        #expect(result.steps.allSatisfy { $0.count == 1 })
        let reference = c.last_logits ?? []
        let logits = try #require(firstLogits)
        #expect(logits.count == reference.count)
        let worst = zip(logits, reference).map { abs($0 - $1) }.max() ?? 0
        #expect(worst < 1e-3, "largest logit difference \(worst)")
    }

    /// The reference stops after the step that reaches the limit; hamrun cuts that step.
    private func truncated(_ steps: [[Int32]], to limit: Int) -> [[Int32]] {
        var out: [[Int32]] = [], total = 0
        for step in steps where total < limit {
            let kept = Array(step.prefix(limit - total))
            out.append(kept)
            total += kept.count
        }
        return out
    }
}

func topAndLogSumExp(_ logits: [Float]) -> (Float, Float) {
    let top = logits.max() ?? 0
    let sum = logits.reduce(0.0) { $0 + exp(Double($1 - top)) }
    return (top, top + Float(log(sum)))
}
