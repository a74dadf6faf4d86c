import ArgumentParser
import Foundation
import HamCore
import HamCPU
import HamConvert
import HamLoad

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prefill and decode speed, tokens per macro step, KV slots and peak memory.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var engineFlags: EngineFlags

    @Option(help: "hamburger or base. Default: hamburger when the model has its modules.")
    var mode: GenerationMode?

    @Option(name: .customLong("prompt-tokens"), help: "Prompt length (random token ids).")
    var promptTokens = 64

    @Option(parsing: .unconditional,
            help: "Prompt every sequence with this user message in the model's chat format instead of random ids (a real HAMburger model's tokens per macro step depend on the text). EOS is still ignored.")
    var chat: String?

    @Option(name: .customLong("gen-tokens"), help: "Tokens to generate per run.")
    var genTokens = 128

    @Option(name: .customLong("force-steps"), help: "Make every macro step emit exactly K tokens (the cost at K = 1 … max_steps).")
    var forceSteps: Int?

    @Option(help: "Stop confidence when steps are not forced.")
    var confidence: Double?

    @Option(help: "Timed runs; the median is reported.")
    var runs = 3

    @Option(help: "Sequences decoded together (each with its own prompt).")
    var batch = 1

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard promptTokens > 0 else { throw ValidationError("--prompt-tokens is \(promptTokens); expected a positive number") }
        guard genTokens > 0 else { throw ValidationError("--gen-tokens is \(genTokens); expected a positive number") }
        guard runs > 0 else { throw ValidationError("--runs is \(runs); expected a positive number") }
        guard batch > 0 else { throw ValidationError("--batch is \(batch); expected a positive number") }
    }

    func run() throws {
        let directory = try modelOptions.openModel()
        let mode = try resolveMode(mode, directory)
        if forceSteps != nil && mode != .hamburger { throw ValidationError("--force-steps needs --mode hamburger") }
        let chatPrompt = try chat.map { try TextCodec(directory: directory).chatFormatter(nil).prompt([.user($0)]) }
        let promptLength = chatPrompt?.count ?? promptTokens
        // The whole batch is prefilled in one tick, so the decode that follows is timed alone.
        var engineOptions = engineFlags.options(directory.config, sequences: batch, slots: promptLength + genTokens)
        engineOptions.prefillTokensPerTick = batch * promptLength
        let engine = try modelOptions.makeEngine(directory, hamburger: mode == .hamburger, options: engineOptions)
        var options = GenerationOptions(
            maxTokens: genTokens,
            confidence: confidence ?? directory.config.hamburger?.confidence ?? ModelConfig.defaultConfidence,
            mode: mode)
        if let forceSteps { options.stepRule = .fixedLength(forceSteps) }

        // Fixed pseudo-random prompts, the same for every run and every runtime compared
        // (sequence 0's is the one single-sequence benchmarks have always used).
        let vocabulary = UInt64(directory.config.vocabSize)
        let prompts = (0..<batch).map { index -> [Int32] in
            if let chatPrompt { return chatPrompt }
            var state: UInt64 = 0x2545_F491_4F6C_DD1D &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
            return (0..<promptTokens).map { _ -> Int32 in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Int32(truncatingIfNeeded: (state >> 33) % vocabulary)
            }
        }

        _ = try runBatch(engine, prompts, options)  // warm-up: page in the weights
        var measured: [BatchRun] = []
        for _ in 0..<runs { measured.append(try runBatch(engine, prompts, options)) }
        let median = measured.sorted { $0.decodeTokensPerSecond < $1.decodeTokensPerSecond }[measured.count / 2]
        let stats = median.results[0].stats
        let prefill = measured.map(\.prefillTokensPerSecond).sorted()[measured.count / 2]

        // Weight bytes read per token: a base forward per macro step (its micro step 0 reads the
        // stop head too, and a merged step of two or more tokens the compositional embedder),
        // and a micro step for every further token; for a batch, once per tick for all.
        let bytes = engine.weightBytes
        let bytesPerToken = (mode == .base
            ? Double(bytes.basePerForward)
            : stats.weightBytesRead(base: bytes.basePerForward + bytes.stopHead, micro: bytes.perMicroStep, merger: bytes.merger))
            / Double(batch)
        let perSlot = EngineOptions.kvBytesPerSlot(directory.config, dtype: engineFlags.kvType.dtype)
        let report = BenchReport(
            model: directory.path, backend: engine.backendName, mode: mode.rawValue, batch: batch,
            prompt_tokens: promptLength, generated_tokens: stats.generatedTokens,
            forced_steps: forceSteps, runs: runs, kv_type: engineFlags.kvType.rawValue,
            prefill_tokens_per_second: prefill,
            decode_tokens_per_second: median.decodeTokensPerSecond,
            decode_tokens_per_second_per_sequence: median.decodeTokensPerSecond / Double(batch),
            tokens_per_macro_step: stats.tokensPerStep,
            kv_slots: stats.kvSlots,
            kv_bytes_per_sequence: stats.kvSlots * perSlot,
            weight_bytes_per_token: bytesPerToken,
            achieved_gb_per_second: bytesPerToken * median.decodeTokensPerSecond / 1e9,
            peak_rss_mb: peakResidentMegabytes())
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            try StandardStreams.outLine(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            try StandardStreams.outLine(report.text)
        }
    }

    struct BatchRun {
        var results: [GenerationResult]
        var prefillTokensPerSecond: Double
        var decodeTokensPerSecond: Double
    }

    /// Every prompt at once; the prefill is the first tick, the decode the rest.
    private func runBatch(_ engine: InferenceEngine, _ prompts: [[Int32]], _ options: GenerationOptions) throws -> BatchRun {
        for prompt in prompts { _ = try engine.submit(GenerationRequest(prompt: prompt, options: options)) }
        var results: [GenerationResult] = []
        let start = ContinuousClock.now
        var prefillEnd: ContinuousClock.Instant?
        while engine.hasWork {
            for event in try engine.step() {
                switch event {
                case .finished(_, let result): results.append(result)
                case .failed(_, let error, _): throw error
                default: break
                }
            }
            if prefillEnd == nil { prefillEnd = ContinuousClock.now }
        }
        let end = ContinuousClock.now
        let prefillSeconds = ((prefillEnd ?? end) - start).seconds, decodeSeconds = (end - (prefillEnd ?? end)).seconds
        let decoded = results.reduce(0) { $0 + $1.tokens.count - 1 }
        return BatchRun(results: results,
                        prefillTokensPerSecond: Double(prompts.count * (prompts.first?.count ?? 0)) / prefillSeconds,
                        decodeTokensPerSecond: decodeSeconds > 0 ? Double(decoded) / decodeSeconds : 0)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

struct BenchReport: Encodable {
    var model: String
    var backend: String
    var mode: String
    var batch: Int
    var prompt_tokens: Int
    var generated_tokens: Int
    var forced_steps: Int?
    var runs: Int
    var kv_type: String
    var prefill_tokens_per_second: Double
    /// All sequences together.
    var decode_tokens_per_second: Double
    var decode_tokens_per_second_per_sequence: Double
    var tokens_per_macro_step: Double
    var kv_slots: Int
    var kv_bytes_per_sequence: Int
    var weight_bytes_per_token: Double
    var achieved_gb_per_second: Double
    var peak_rss_mb: Double

    var text: String {
        func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }
        return """
        model     \(model) (\(mode) on \(backend))
        batch     \(batch) sequence\(batch == 1 ? "" : "s")
        prefill   \(f(prefill_tokens_per_second)) tok/s (\(prompt_tokens) tokens\(batch == 1 ? "" : " each"))
        decode    \(f(decode_tokens_per_second)) tok/s\(batch == 1 ? "" : " in all, \(f(decode_tokens_per_second_per_sequence)) per sequence") (\(generated_tokens) tokens, median of \(runs))
        steps     \(f(tokens_per_macro_step, 2)) tokens per macro step\(forced_steps.map { " (forced \($0))" } ?? "")
        kv cache  \(kv_slots) slots for \(prompt_tokens + generated_tokens) tokens, \(f(Double(kv_bytes_per_sequence) / 1e6, 2)) MB per sequence (\(kv_type))
        weights   \(f(weight_bytes_per_token / 1e6)) MB read per token, \(f(achieved_gb_per_second, 2)) GB/s
        memory    \(f(peak_rss_mb)) MB peak RSS
        """
    }
}

/// Peak resident set size of this process (Linux reports kilobytes).
func peakResidentMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}
