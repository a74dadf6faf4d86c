import Foundation
import Testing
@testable import HamConvert
@testable import HamCore
import HamCPU
@testable import HamLoad

/// A chat turn that keeps the KV cache must continue exactly as if the whole conversation had
/// been fed from scratch the same way.
@Suite struct KeptCacheTests {
    let prompt: [Int32] = [1019, 418, 308, 11, 535, 327, 292]
    let turn: [Int32] = [332, 328, 268, 597]

    @Test func baseModeAppendingEqualsPrefillingEverything() throws {
        let model = try ModelFiles(path: Fixtures.tinyBase.path)
        let options = GenerationOptions(maxTokens: 9, mode: .base)
        let kept = Generator(graph: try HAMburgerGraph(model: model, backend: CPUBackend(threads: 1), mode: .base))
        let first = try kept.generate(prompt: prompt, options: options)
        let second = try kept.generate(appending: turn, options: options)
        #expect(second.stats.promptTokens == turn.count)

        let fresh = Generator(graph: try HAMburgerGraph(model: model, backend: CPUBackend(threads: 1), mode: .base))
        let whole = try fresh.generate(prompt: prompt + first.tokens + turn, options: options)
        #expect(second.tokens == whole.tokens)
    }

    /// In HAMburger mode the previous reply's last step enters the cache merged, as a macro step.
    @Test func hamburgerAppendingFeedsTheLastStepMerged() throws {
        let model = try ModelFiles(path: try Fixtures.tinyHAMburgerDirectory())
        let options = GenerationOptions(maxTokens: 10, confidence: 0.3, mode: .hamburger)
        let generator = Generator(graph: try HAMburgerGraph(model: model, backend: CPUBackend(threads: 1), mode: .hamburger))
        let first = try generator.generate(prompt: prompt, options: options)
        let slotsAfterFirst = generator.graph.slotsUsed
        let second = try generator.generate(appending: turn, options: options)
        // The unfed last step takes one slot, the new turn one slot per token.
        #expect(second.stats.kvSlots == slotsAfterFirst + 1 + turn.count + second.steps.count - 1)

        // The same sequence by hand on a second graph.
        let graph = try HAMburgerGraph(model: model, backend: CPUBackend(threads: 1), mode: .hamburger)
        try graph.forward(tokens: prompt)
        for step in first.steps.dropLast() { try graph.forward(mergedStep: step) }
        try graph.forward(mergedStep: first.steps[first.steps.count - 1])
        try graph.forward(tokens: turn)
        var firstStep: [Int32] = []
        for i in 0..<4 {
            graph.microStep(i)
            let read = try graph.readMicroSteps(i + 1)
            firstStep.append(read.tokens[i])
            if 1 - Double(read.stopProbabilities[i]) < 0.3 { break }
        }
        #expect(second.steps.first == firstStep)
        #expect(first.tokens.count == 10)
    }
}
