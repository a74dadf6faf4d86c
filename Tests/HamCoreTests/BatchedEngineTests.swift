import Foundation
import HamChecks
import Testing
@testable import HamConvert
@testable import HamCore
import HamCPU
@testable import HamLoad

/// Many sequences in one engine: a sequence in a batch gets exactly what it gets alone —
/// greedy or seeded, whatever else runs, in whatever order they join — and the engine's memory,
/// cancellation and context limits behave.
@Suite struct BatchedEngineTests {
    static let cases = Fixtures.cases

    /// Runs `requests` through `engine`, submitting them at the ticks `joins` says (request `i`
    /// joins before tick `joins[i]`), and returns each one's result and micro-step traces.
    static func run(_ engine: InferenceEngine, _ requests: [GenerationRequest], joins: [Int]? = nil,
                    cancel: [Int: Int] = [:]) throws -> [(GenerationResult, [MicroStepTrace], GenerationError?)] {
        var results = [GenerationResult?](repeating: nil, count: requests.count)
        var traces = [[MicroStepTrace]](repeating: [], count: requests.count)
        var errors = [GenerationError?](repeating: nil, count: requests.count)
        var index: [SequenceID: Int] = [:]
        let joinTick = joins ?? [Int](repeating: 0, count: requests.count)
        var tick = 0
        while results.contains(where: { $0 == nil }) {
            for (i, request) in requests.enumerated() where joinTick[i] == tick {
                index[try engine.submit(request)] = i
            }
            for (i, at) in cancel where at == tick {
                if let id = index.first(where: { $0.value == i })?.key { engine.cancel(id) }
            }
            for event in try engine.step() {
                guard let i = index[event.sequence] else { continue }
                switch event {
                case .trace(_, let trace): traces[i].append(trace)
                case .finished(_, let result): results[i] = result
                case .failed(_, let error, let result):
                    results[i] = result
                    errors[i] = error
                default: break
                }
            }
            tick += 1
            if tick > 100_000 { throw GenerationError.backend("the engine made no progress") }
        }
        return results.indices.map { (results[$0]!, traces[$0], errors[$0]) }
    }

    /// A seeded shuffle (the same order on every run).
    static func shuffled<T>(_ items: [T], seed: UInt64) -> [T] {
        var random = RandomModel.Random(seed: seed), out = items
        for i in stride(from: out.count - 1, to: 0, by: -1) { out.swapAt(i, Int(random.next() % UInt64(i + 1))) }
        return out
    }

    static func engine(sequences: Int) throws -> InferenceEngine {
        try ModelFiles(path: try Fixtures.tinyHAMburgerDirectory()).engine(on: CPUBackend(), sequences: sequences, slots: 128)
    }

    /// Every reference case, HAMburger and base mode mixed, in shuffled orders, joining at
    /// staggered ticks, with 1, 3 and 24 sequences at once: each reproduces the authors' PyTorch
    /// output exactly as it does alone, and its stop probabilities are its own alone ones.
    @Test(arguments: [1, 3, 24])
    func everyReferenceCaseInOneBatch(parallel: Int) throws {
        let alone = try Self.run(try Self.engine(sequences: 1), [ReferenceCases.request(Self.cases[0])])
        #expect(alone[0].0.tokens.count > 0)
        var aloneTraces: [[MicroStepTrace]] = []
        for c in Self.cases {
            aloneTraces.append(try Self.run(try Self.engine(sequences: 1), [ReferenceCases.request(c)])[0].1)
        }
        for seed in [1, 2] as [UInt64] {
            let order = Self.shuffled(Array(Self.cases.indices), seed: seed)
            let joins = order.indices.map { $0 < order.count / 2 ? 0 : Int($0 % 7) * 3 }
            let outcomes = try Self.run(try Self.engine(sequences: parallel), order.map { ReferenceCases.request(Self.cases[$0]) }, joins: joins)
            for (k, i) in order.enumerated() {
                let (result, traces, error) = outcomes[k]
                #expect(error == nil)
                for difference in ReferenceCases.differences(Self.cases[i], result: result, traces: traces) {
                    Issue.record("parallel \(parallel), order \(seed), case \(i): \(difference)")
                }
                #expect(traces.map(\.token) == aloneTraces[i].map(\.token))
                for (a, b) in zip(traces, aloneTraces[i]) {
                    #expect(abs(a.stopProbability - b.stopProbability) < 1e-4, "case \(i): stop probability \(a.stopProbability) alone \(b.stopProbability)")
                }
            }
        }
    }

    /// Sampled sequences with seeds draw the same tokens whatever else is in the batch.
    @Test func seededSamplingIgnoresTheRestOfTheBatch() throws {
        let prompt: [Int32] = [1019, 418, 308, 11, 535, 327, 292]
        let sampled = (0..<4).map { i in
            GenerationRequest(prompt: prompt + [Int32(i)], options: GenerationOptions(
                maxTokens: 20, confidence: 0.5, sampling: SamplingOptions(temperature: 0.9, topK: 40, topP: 0.95, seed: UInt64(100 + i))))
        }
        let alone = try sampled.map { try Self.run(try Self.engine(sequences: 1), [$0])[0].0.tokens }
        let others = Self.cases.prefix(10).map(ReferenceCases.request)
        let all = Self.shuffled(others + sampled, seed: 5)
        let mixed = try Self.run(try Self.engine(sequences: 8), all, joins: all.indices.map { $0 % 3 })
        for (i, request) in sampled.enumerated() {
            let k = try #require(all.firstIndex { $0.prompt == request.prompt && $0.options == request.options })
            #expect(mixed[k].0.tokens == alone[i], "sampled sequence \(i)")
        }
        #expect(Set(alone).count == alone.count)
    }

    /// A KV budget for two sequences at a time: the other requests wait and all finish; the
    /// blocks of finished ones are reused; a prompt larger than the whole budget is refused.
    @Test func aFullBudgetMakesSequencesWait() throws {
        let model = try ModelFiles(path: try Fixtures.tinyHAMburgerDirectory())
        let perSlot = EngineOptions.kvBytesPerSlot(model.config, dtype: .f32)
        let options = EngineOptions(maxSequences: 6, kvBudgetBytes: 2 * 80 * perSlot)
        let engine = try LoadedModel(config: model.config, source: model.weights, backend: CPUBackend(), hamburger: true).engine(options)
        let requests = Self.cases.filter { !$0.isBase }.prefix(6).map(ReferenceCases.request)
        let outcomes = try Self.run(engine, Array(requests))
        for (i, outcome) in outcomes.enumerated() {
            #expect(outcome.2 == nil, "request \(i): \(String(describing: outcome.2))")
            #expect(outcome.0.finishReason == .length)
        }
        #expect(engine.kvBytesInUse == 0)
        let long = GenerationRequest(prompt: [Int32](repeating: 7, count: 400), options: GenerationOptions(maxTokens: 4))
        #expect(throws: GenerationError.self) { try engine.submit(long) }
    }

    /// Two sequences that could each grow to 64 slots, in a budget of 96: the second waits for
    /// the first instead of joining (then running out of blocks halfway), and gets what it gets
    /// alone.
    @Test func aSequenceThatMightNotFitWaits() throws {
        let model = try ModelFiles(path: Fixtures.tinyBase.path)
        let perSlot = EngineOptions.kvBytesPerSlot(model.config, dtype: .f32)
        let options = EngineOptions(maxSequences: 2, kvBudgetBytes: 96 * perSlot)
        let engine = try LoadedModel(config: model.config, source: model.weights, backend: CPUBackend(), hamburger: false).engine(options)
        let requests = [9, 10].map {
            GenerationRequest(prompt: [Int32](repeating: Int32($0), count: 32), options: GenerationOptions(maxTokens: 32, mode: .base))
        }
        let outcomes = try Self.run(engine, requests)
        let alone = try Self.run(try model.engine(on: CPUBackend()), [requests[1]])[0].0.tokens
        #expect(outcomes.allSatisfy { $0.2 == nil && $0.0.tokens.count == 32 })
        #expect(outcomes[1].0.tokens == alone)
        #expect(outcomes[1].0.stats.queueSeconds > outcomes[0].0.stats.queueSeconds)
        #expect(engine.kvBytesInUse == 0)
    }

    /// A sequence cancelled between ticks ends with what it had and frees its memory; the
    /// others go on unchanged.
    @Test func cancellingOneSequenceLeavesTheOthers() throws {
        let requests = Self.cases.filter { !$0.isBase }.prefix(3).map(ReferenceCases.request)
        let alone = try requests.map { try Self.run(try Self.engine(sequences: 1), [$0])[0].0.tokens }
        let engine = try Self.engine(sequences: 3)
        let outcomes = try Self.run(engine, Array(requests), cancel: [1: 5])
        #expect(outcomes[1].0.finishReason == .cancelled)
        #expect(outcomes[1].0.tokens.count < alone[1].count)
        #expect(Array(alone[1].prefix(outcomes[1].0.tokens.count)) == outcomes[1].0.tokens)
        #expect(outcomes[0].0.tokens == alone[0])
        #expect(outcomes[2].0.tokens == alone[2])
        #expect(engine.kvBytesInUse == 0)
    }

    /// Generation that reaches max_position_embeddings ends there and keeps its tokens.
    @Test func theContextLimitEndsASequenceWithItsTokens() throws {
        let directory = ScratchDirectory.root + "short-context-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: try Fixtures.tinyHAMburgerDirectory(), toPath: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configPath = directory + "/config.json"
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as? [String: Any] ?? [:]
        config["max_position_embeddings"] = 40
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        let engine = try ModelFiles(path: directory).engine(on: CPUBackend(), slots: 64)
        for mode in [GenerationMode.hamburger, .base] {
            let result = try engine.generate(GenerationRequest(prompt: (0..<20).map { Int32(100 + $0) },
                                                               options: GenerationOptions(maxTokens: 100, confidence: 0.3, mode: mode)))
            #expect(result.finishReason == .contextFull)
            // The last step is generated but not fed: base mode 21 tokens, HAMburger up to 24.
            #expect(result.tokens.count >= 21 && result.tokens.count <= 24, "\(mode): \(result.tokens.count) tokens")
        }
    }
}
