import Foundation
import HamChecks
import Testing
@testable import HamConvert
@testable import HamCore
import HamCPU
@testable import HamLoad

/// A chat turn that keeps the KV cache continues exactly where the conversation stopped.
@Suite struct KeptCacheTests {
    let prompt: [Int32] = [1019, 418, 308, 11, 535, 327, 292]
    let turn: [Int32] = [332, 328, 268, 597]

    @Test func baseModeAppendingEqualsPrefillingEverything() throws {
        let model = try ModelFiles(path: Fixtures.tinyBase.path)
        let options = GenerationOptions(maxTokens: 9, mode: .base)
        let kept = try model.engine(on: CPUBackend(threads: 1))
        var id: SequenceID?
        let first = try kept.generate(GenerationRequest(prompt: prompt, options: options, keepContext: true)) { id = $0.sequence }
        let second = try kept.generate(GenerationRequest(prompt: turn, options: options, continuing: id))
        #expect(second.stats.promptTokens == turn.count)

        let fresh = try model.engine(on: CPUBackend(threads: 1))
        let whole = try fresh.generate(GenerationRequest(prompt: prompt + first.tokens + turn, options: options))
        #expect(second.tokens == whole.tokens)
    }

    /// In HAMburger mode the previous reply's last step enters the cache merged, as a macro step
    /// (one slot), before the new turn's tokens (one slot each): the same on every run, and the
    /// context matters (a fresh sequence given only the turn continues differently).
    @Test func hamburgerAppendingFeedsTheLastStepMerged() throws {
        let model = try ModelFiles(path: try Fixtures.tinyHAMburgerDirectory())
        let options = GenerationOptions(maxTokens: 10, confidence: 0.3, mode: .hamburger)
        func conversation() throws -> (GenerationResult, GenerationResult) {
            let engine = try model.engine(on: CPUBackend(threads: 1))
            var id: SequenceID?
            let first = try engine.generate(GenerationRequest(prompt: prompt, options: options, keepContext: true)) { id = $0.sequence }
            let second = try engine.generate(GenerationRequest(prompt: turn, options: options, continuing: id))
            return (first, second)
        }
        let (first, second) = try conversation()
        #expect(first.tokens.count == 10)
        #expect(second.stats.kvSlots == first.stats.kvSlots + 1 + turn.count + second.steps.count - 1)
        #expect(try conversation().1.steps == second.steps)
        let alone = try model.engine(on: CPUBackend(threads: 1)).generate(GenerationRequest(prompt: turn, options: options))
        #expect(alone.tokens != second.tokens)
    }

    /// A released context gives its blocks back; an unknown one is an error.
    @Test func releasingAContextFreesItsMemory() throws {
        let model = try ModelFiles(path: Fixtures.tinyBase.path)
        let engine = try model.engine(on: CPUBackend(threads: 1))
        var id: SequenceID?
        _ = try engine.generate(GenerationRequest(prompt: prompt, options: GenerationOptions(maxTokens: 5, mode: .base), keepContext: true)) { id = $0.sequence }
        #expect(engine.kvBytesInUse > 0)
        engine.release(try #require(id))
        #expect(engine.kvBytesInUse == 0)
        #expect(throws: GenerationError.unknownSequence) {
            try engine.submit(GenerationRequest(prompt: turn, options: GenerationOptions(maxTokens: 5, mode: .base), continuing: id))
        }
    }
}
