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

    @Option(help: "hamburger or base. Default: hamburger when the model has its modules.")
    var mode: GenerationMode?

    @Option(name: .customLong("prompt-tokens"), parsing: .unconditional, help: "Prompt length (random token ids).")
    var promptTokens = 64

    @Option(name: .customLong("gen-tokens"), parsing: .unconditional, help: "Tokens to generate per run.")
    var genTokens = 128

    @Option(name: .customLong("force-steps"), parsing: .unconditional, help: "Make every macro step emit exactly K tokens (the cost at K = 1 … max_steps).")
    var forceSteps: Int?

    @Option(parsing: .unconditional, help: "Stop confidence when steps are not forced.")
    var confidence: Double?

    @Option(parsing: .unconditional, help: "Timed runs; the median is reported.")
    var runs = 3

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard promptTokens > 0 else { throw ValidationError("--prompt-tokens is \(promptTokens); expected a positive number") }
        guard genTokens > 0 else { throw ValidationError("--gen-tokens is \(genTokens); expected a positive number") }
        guard runs > 0 else { throw ValidationError("--runs is \(runs); expected a positive number") }
    }

    func run() throws {
        let directory = try modelOptions.openModel()
        let mode = try resolveMode(mode, directory)
        if forceSteps != nil && mode != .hamburger { throw ValidationError("--force-steps needs --mode hamburger") }
        let graph = try modelOptions.makeGraph(directory, mode: mode)
        let generator = Generator(graph: graph)
        var options = GenerationOptions(
            maxTokens: genTokens,
            confidence: confidence ?? directory.config.hamburger?.confidence ?? ModelConfig.defaultConfidence,
            mode: mode)
        options.forcedStepLength = forceSteps

        // A fixed pseudo-random prompt, the same for every run and every runtime compared.
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        let vocabulary = UInt64(directory.config.vocabSize)
        let prompt = (0..<promptTokens).map { _ -> Int32 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int32(truncatingIfNeeded: (state >> 33) % vocabulary)
        }

        _ = try generator.generate(prompt: prompt, options: options)  // warm-up: page in the weights
        var results: [GenerationResult] = []
        for _ in 0..<runs { results.append(try generator.generate(prompt: prompt, options: options)) }
        let byDecode = results.sorted { $0.stats.tokensPerSecond < $1.stats.tokensPerSecond }
        let median = byDecode[byDecode.count / 2].stats
        let prefill = results.map(\.stats.prefillTokensPerSecond).sorted()[results.count / 2]

        // Weight bytes read per token: a base forward per macro step (its micro step 0 reads the
        // stop head too, and a merged step of two or more tokens the compositional embedder),
        // and a micro step for every further token.
        let bytesPerToken = mode == .base
            ? Double(graph.baseBytesPerForward)
            : median.weightBytesRead(base: graph.baseBytesPerForward + graph.stopHeadBytes,
                                     micro: graph.microBytesPerStep, merger: graph.mergerBytes)
        let report = BenchReport(
            model: directory.path, backend: graph.backendName, mode: mode.rawValue,
            prompt_tokens: promptTokens, generated_tokens: median.generatedTokens,
            forced_steps: forceSteps, runs: runs,
            prefill_tokens_per_second: prefill,
            decode_tokens_per_second: median.tokensPerSecond,
            tokens_per_macro_step: median.tokensPerStep,
            kv_slots: median.kvSlots,
            weight_bytes_per_token: bytesPerToken,
            achieved_gb_per_second: bytesPerToken * median.tokensPerSecond / 1e9,
            peak_rss_mb: peakResidentMegabytes())
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            try StandardStreams.outLine(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            try StandardStreams.outLine(report.text)
        }
    }
}

struct BenchReport: Encodable {
    var model: String
    var backend: String
    var mode: String
    var prompt_tokens: Int
    var generated_tokens: Int
    var forced_steps: Int?
    var runs: Int
    var prefill_tokens_per_second: Double
    var decode_tokens_per_second: Double
    var tokens_per_macro_step: Double
    var kv_slots: Int
    var weight_bytes_per_token: Double
    var achieved_gb_per_second: Double
    var peak_rss_mb: Double

    var text: String {
        func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }
        return """
        model     \(model) (\(mode) on \(backend))
        prefill   \(f(prefill_tokens_per_second)) tok/s (\(prompt_tokens) tokens)
        decode    \(f(decode_tokens_per_second)) tok/s (\(generated_tokens) tokens, median of \(runs))
        steps     \(f(tokens_per_macro_step, 2)) tokens per macro step\(forced_steps.map { " (forced \($0))" } ?? "")
        kv slots  \(kv_slots) for \(prompt_tokens + generated_tokens) tokens
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
