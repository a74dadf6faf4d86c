import HamChecks
import Testing
@testable import HamCore
import HamCPU
@testable import HamLoad

/// Prefix caching: a sequence whose prompt begins with a finished sequence's tokens takes over
/// that KV instead of prefilling it, and generates what it generates without the cache.
@Suite struct PrefixCacheTests {
    static let cases = Fixtures.cases

    /// One sequence of up to `slots` slots in blocks of `blockSize`.
    static func engine(slots: Int = 128, blockSize: Int = 16, caching: Bool = true) throws -> Engine<CPUBackend> {
        let model = try ModelFiles(path: try Fixtures.tinyHAMburgerDirectory())
        let options = EngineOptions(kvBudgetBytes: (slots + blockSize) * EngineOptions.kvBytesPerSlot(model.config, dtype: .f32),
                                    kvBlockSize: blockSize, prefixCaching: caching)
        return try LoadedModel(config: model.config, source: model.weights, backend: CPUBackend(), hamburger: true).engine(options)
    }

    /// Traces of two runs: the same tokens, and the same stop probabilities and logits — bit for
    /// bit at the AVX2 level, where a prefill's f16/bf16 products are the decode tiles in another
    /// order (gemv_float_avx2.c), within float32 rounding elsewhere (see `PrefixCache`).
    static func expectAgree(_ a: [MicroStepTrace], _ b: [MicroStepTrace]) {
        let exact = CPUBackend().name.contains("avx2,")
        #expect(a.count == b.count)
        for (k, (x, y)) in zip(a, b).enumerated() {
            #expect(x.token == y.token, "micro step \(k)")
            #expect(abs(x.stopProbability - y.stopProbability) <= (exact ? 0 : 1e-5), "micro step \(k)")
            let worst = zip(x.logits, y.logits).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= (exact ? 0 : 1e-4), "micro step \(k): logits differ by up to \(worst)")
        }
    }

    static func request(_ prompt: [Int32], maxTokens: Int = 12, mode: GenerationMode = .hamburger) -> GenerationRequest {
        GenerationRequest(prompt: prompt, options: GenerationOptions(maxTokens: maxTokens, confidence: 0.5, mode: mode),
                          traceLogits: true)
    }

    /// Every reference case whose prompt another case already ran (HAMburger and base mode, each
    /// confidence) reproduces the authors' PyTorch output with all but its last prompt token
    /// from the cache (blocks of 8, so that the fixture's prompts of 14 to 32 tokens are cached),
    /// as it does without the cache.
    @Test func referenceCasesReproduceFromTheCache() throws {
        let engine = try Self.engine(blockSize: 8), plain = try Self.engine(blockSize: 8, caching: false)
        var seen: Set<[Int32]> = []
        var hits = 0
        for c in Self.cases {
            var traces: [MicroStepTrace] = [], plainTraces: [MicroStepTrace] = []
            let result = try engine.generate(ReferenceCases.request(c)) { event in
                if case .trace(_, let trace) = event { traces.append(trace) }
            }
            _ = try plain.generate(ReferenceCases.request(c)) { event in
                if case .trace(_, let trace) = event { plainTraces.append(trace) }
            }
            Self.expectAgree(traces, plainTraces)
            let expected = seen.contains(c.prompt_ids) ? c.prompt_ids.count - 1 : 0
            #expect(result.stats.cachedPromptTokens == expected, "prompt of \(c.prompt_ids.count) tokens")
            hits += result.stats.cachedPromptTokens > 0 ? 1 : 0
            for difference in ReferenceCases.differences(c, result: result, traces: traces) {
                Issue.record("cached \(result.stats.cachedPromptTokens) tokens: \(difference)")
            }
            seen.insert(c.prompt_ids)
        }
        #expect(hits == 18)
        #expect(engine.kvBytesInUse == 0)
        #expect(engine.kvBytesCached > 0)
    }

    /// A prompt that extends a finished one (the next turn of a chat) gets the tokens and
    /// micro-step logits it gets on an engine without the cache. In base mode the generated
    /// tokens that were fed are cached too; in HAMburger mode only the prompt (merged steps are
    /// not one token per slot).
    @Test(arguments: [GenerationMode.hamburger, .base])
    func anExtendedPromptGetsWhatItGetsWithoutTheCache(mode: GenerationMode) throws {
        let first: [Int32] = (0..<40).map { Int32(50 + $0 * 7 % 300) }
        let cached = try Self.engine(), plain = try Self.engine(caching: false)
        let turn = try cached.generate(Self.request(first, maxTokens: 10, mode: mode))
        let next = first + turn.tokens + (0..<20).map { Int32(300 + $0) }
        var traces: ([MicroStepTrace], [MicroStepTrace]) = ([], [])
        let withCache = try cached.generate(Self.request(next, mode: mode)) { if case .trace(_, let t) = $0 { traces.0.append(t) } }
        let without = try plain.generate(Self.request(next, mode: mode)) { if case .trace(_, let t) = $0 { traces.1.append(t) } }
        #expect(withCache.stats.cachedPromptTokens == (mode == .base ? first.count + turn.tokens.count - 1 : first.count))
        #expect(without.stats.cachedPromptTokens == 0)
        #expect(withCache.tokens == without.tokens)
        #expect(withCache.steps == without.steps)
        Self.expectAgree(traces.0, traces.1)
    }

    /// A budget with room for one sequence: finished prompts fill the spare blocks, and a new
    /// prompt evicts them (oldest first) rather than waiting; cancelled sequences give their
    /// memory back instead of caching it; a prompt shorter than a block is never cached.
    @Test func theCacheLivesInTheSpareBudgetOnly() throws {
        let model = try ModelFiles(path: try Fixtures.tinyHAMburgerDirectory())
        let perSlot = EngineOptions.kvBytesPerSlot(model.config, dtype: .f32)
        let options = EngineOptions(maxSequences: 1, kvBudgetBytes: 96 * perSlot, prefixCaching: true)
        let engine = try LoadedModel(config: model.config, source: model.weights, backend: CPUBackend(), hamburger: true).engine(options)
        let prompts: [[Int32]] = (0..<4).map { k in (0..<48).map { Int32(20 + k * 50 + $0) } }
        let plain = try Self.engine(caching: false)
        for prompt in prompts {
            let result = try engine.generate(Self.request(prompt, maxTokens: 24))
            #expect(result.tokens == (try plain.generate(Self.request(prompt, maxTokens: 24))).tokens)
            #expect(result.stats.cachedPromptTokens == 0)
            #expect(engine.kvBytesInUse == 0)
            #expect(engine.kvBytesCached == 3 * engine.pool.bytesPerBlock)
        }
        // The last prompt is still there.
        #expect(try engine.generate(Self.request(prompts[3], maxTokens: 4)).stats.cachedPromptTokens == 47)
        #expect(engine.kvBytesCached == 3 * engine.pool.bytesPerBlock)

        // Cancelled while running: its admission evicted the entry, and it caches nothing.
        let id = try engine.submit(Self.request(prompts[0] + [5, 6], maxTokens: 24))
        _ = try engine.step()
        _ = try engine.step()
        engine.cancel(id)
        _ = try engine.step()
        #expect(!engine.hasWork)
        #expect(engine.kvBytesInUse == 0)
        #expect(engine.kvBytesCached == 0)

        let short = try engine.generate(Self.request(Array(prompts[1].prefix(10)), maxTokens: 3))
        #expect(short.finishReason == .length)
        #expect(try engine.generate(Self.request(Array(prompts[1].prefix(10)), maxTokens: 3)).stats.cachedPromptTokens == 0)
    }

    /// The entry that serves a prompt is the one sharing the longest prefix with it, and an
    /// entry that a newer one extends is dropped.
    @Test func theLongestSharedPrefixWins() {
        var cache = PrefixCache(blockSize: 4)
        let a: [Int32] = [1, 2, 3, 4, 5, 6, 7, 8], b: [Int32] = [1, 2, 3, 4, 9, 9, 9, 9, 9]
        #expect(cache.insert(tokens: a, blocks: [10, 11, 12]) == [12])
        #expect(cache.insert(tokens: b, blocks: [20, 21, 22]) == [])
        #expect(cache.insert(tokens: Array(a.prefix(6)), blocks: [30, 31]) == [30, 31])
        #expect(cache.insert(tokens: [1, 2], blocks: [40]) == [40])
        let hit = cache.take(prefixOf: [1, 2, 3, 4, 9, 9, 1], limit: 6)
        #expect(hit?.tokens == 6)
        #expect(hit?.blocks == [20, 21])
        #expect(hit?.freed == [22])
        #expect(cache.insert(tokens: a + [0, 0], blocks: [50, 51, 52]) == [10, 11])
        #expect(cache.blockCount == 3)
        #expect(cache.take(prefixOf: [1, 2, 3, 5], limit: 3) == nil)
        #expect(cache.evictOldest() == [50, 51, 52])
        #expect(cache.evictOldest() == nil)
    }
}
