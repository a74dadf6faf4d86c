import Foundation
import HamCore
import HamVulkan
import Testing

/// Every HAMburger case of the reference fixture on the Vulkan backend, as ReferenceFixtureTests
/// checks the CPU backend: the authors' PyTorch modules' tokens and step boundaries, and the top
/// logit, logsumexp and stop probability of every micro step.
@Suite(.serialized, .enabled(if: VulkanTestDevice.available, VulkanTestDevice.skipReason))
struct ReferenceHAMburgerTests {
    static let cases = ReferenceFixture.cases.indices.filter { ReferenceFixture.cases[$0].mode == nil }

    /// One backend for all cases: a fresh graph per case, as a server would reuse its device.
    static let backend = Result { try VulkanTestDevice.backend() }

    @Test func fixtureHasHAMburgerCases() {
        #expect(Self.cases.count >= 6)
    }

    @Test(arguments: cases)
    func hamburgerCaseMatchesTheReference(index: Int) throws {
        let c = ReferenceFixture.cases[index]
        let vulkan = try Self.backend.get()
        let graph = try HAMburgerGraph(model: try ModelDirectory(path: try ReferenceFixture.hamburger.get()), backend: vulkan, mode: .hamburger)
        let maxTokens = c.max_new_tokens ?? 48
        var traces: [MicroStepTrace] = []
        let result = try Generator(graph: graph).generate(
            prompt: c.prompt_ids,
            options: GenerationOptions(maxTokens: maxTokens, confidence: c.confidence ?? 0.9, mode: .hamburger),
            trace: { traces.append($0) })

        #expect(result.steps == truncated(c.steps ?? [], to: maxTokens), "case \(index) at confidence \(c.confidence ?? 0)")
        let reference = c.micro_trace ?? [], stops = c.stop_probs ?? []
        for (i, trace) in traces.enumerated() where i < reference.count && i < stops.count {
            let top = trace.logits.max() ?? 0
            let logSumExp = top + Float(log(trace.logits.reduce(0.0) { $0 + exp(Double($1 - top)) }))
            #expect(trace.token == reference[i].top2[0], "case \(index), micro step \(i): token")
            #expect(abs(top - reference[i].top2_logits[0]) < 1e-3, "case \(index), micro step \(i): top logit \(top)")
            #expect(abs(logSumExp - reference[i].logsumexp) < 1e-3, "case \(index), micro step \(i): logsumexp \(logSumExp)")
            #expect(abs(trace.stopProbability - stops[i]) < 1e-4, "case \(index), micro step \(i): stop probability")
        }
        #expect(traces.count == min(reference.count, maxTokens))
        #expect(vulkan.validationLog.messages.isEmpty, "\(vulkan.validationLog.messages.first ?? "")")
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
