import ArgumentParser
import Foundation
import HamCore
import HamCPU
import HamConvert
import HamLoad
import HamTokenizer

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate a continuation of a prompt.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var generation: GenerationFlags
    @OptionGroup var engineFlags: EngineFlags

    @Option(parsing: .unconditional, help: "Prompt text (it may start with a dash).")
    var prompt: String?

    @Option(name: .customLong("prompt-ids"), parsing: .unconditional, help: "Prompt as comma-separated token ids, used as given (no BOS added).")
    var promptIds: String?

    @Flag(help: "Print one JSON object (tokens, steps, text, stats) instead of streaming text.")
    var json = false

    @Flag(help: "Wrap --prompt as a user turn of the model's chat format and stop at the end of the reply.")
    var chat = false

    @Option(parsing: .unconditional, help: "System message for --chat.")
    var system: String?

    @Option(name: .customLong("chat-format"), help: "plain, chatml, llama3 or llama32 (default: the family of the model's chat template).")
    var chatFormat: ChatFormatName?

    func validate() throws {
        if prompt == nil && promptIds == nil { throw ValidationError("give --prompt TEXT or --prompt-ids 1,2,3") }
        if prompt != nil && promptIds != nil { throw ValidationError("give either --prompt or --prompt-ids, not both") }
        if chat && prompt == nil { throw ValidationError("--chat needs --prompt TEXT") }
        if system != nil && !chat { throw ValidationError("--system needs --chat") }
        try generation.check()
    }

    func run() throws {
        let directory = try modelOptions.openModel()
        let mode = try resolveMode(generation.mode, directory)
        let text = try TextCodec(directory: directory)
        var options = generation.options(for: directory, mode: mode)
        let ids: [Int32]
        if let promptIds {
            ids = try parseIds(promptIds, flag: "--prompt-ids")
        } else if chat {
            let formatter = try text.chatFormatter(chatFormat)
            ids = formatter.prompt((system.map { [.system($0)] } ?? []) + [.user(prompt ?? "")])
            options.stopTokens.formUnion(formatter.endOfTurnTokenIds)
        } else {
            ids = try text.encode(prompt ?? "")
        }
        let engine = try modelOptions.makeEngine(
            directory, hamburger: mode == .hamburger,
            options: engineFlags.options(directory.config, sequences: 1, slots: ids.count + options.maxTokens))

        var stream = text.streamingDecoder()
        let result = try engine.generate(GenerationRequest(prompt: ids, options: options)) { event in
            guard !json, case .token(_, let token) = event else { return }
            StandardStreams.stream(stream.append([token]))
        }
        if json {
            try StandardStreams.outLine(try GenerateReport(result, text: text).jsonString())
        } else {
            try StandardStreams.out(stream.finish() + "\n")
            if result.finishReason == .contextFull {
                StandardStreams.err("hamrun: the context is full (max_position_embeddings \(directory.config.maxPositionEmbeddings)); generation stopped\n")
            }
            StandardStreams.err(summaryLine(result.stats, backend: engine.backendName, mode: mode) + "\n")
        }
    }
}

/// Flags that shape a generation: shared by generate and chat.
struct GenerationFlags: ParsableArguments {
    @Option(name: .customLong("max-tokens"), help: "Most tokens to generate.")
    var maxTokens = 128

    @Option(help: "Stop a macro step when 1 - p_stop < C. Default: the model's recommended value, else 0.9.")
    var confidence: Double?

    @Option(help: "hamburger (macro and micro steps) or base (one token per forward). Default: hamburger when the model has its modules.")
    var mode: GenerationMode?

    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Double = 0

    @Option(name: .customLong("top-k"), help: "Sample from the k most likely tokens (0: all).")
    var topK = 0

    @Option(name: .customLong("top-p"), help: "Sample from the smallest set of tokens whose probability reaches p.")
    var topP = 1.0

    @Option(help: "Random seed for sampling.")
    var seed: UInt64 = 0

    func check() throws {
        guard maxTokens > 0 else { throw ValidationError("--max-tokens is \(maxTokens); expected a positive number") }
        if let confidence, !(0...1).contains(confidence) {
            throw ValidationError("--confidence is \(confidence); expected a value in [0, 1]")
        }
        try sampling.validate()
    }

    var sampling: SamplingOptions {
        SamplingOptions(temperature: temperature, topK: topK, topP: topP, seed: seed)
    }

    func options(for directory: ModelFiles, mode: GenerationMode) -> GenerationOptions {
        GenerationOptions(
            maxTokens: maxTokens,
            confidence: confidence ?? directory.config.hamburger?.confidence ?? ModelConfig.defaultConfidence,
            mode: mode,
            sampling: sampling,
            stopTokens: Set(directory.eosTokenIds.map { Int32($0) }))
    }
}

/// The one line that ends a streamed generation.
func summaryLine(_ s: GenerationStats, backend: String, mode: GenerationMode) -> String {
    let perStep = String(format: "%.2f", s.tokensPerStep)
    let prefill = String(format: "%.1f", s.prefillTokensPerSecond)
    let decode = String(format: "%.1f", s.tokensPerSecond)
    let context = s.promptTokens + s.generatedTokens
    return "[\(s.generatedTokens) tokens in \(s.macroSteps) macro steps (\(perStep) tokens/step), "
        + "KV slots \(s.kvSlots) for \(context) tokens, prefill \(prefill) tok/s, decode \(decode) tok/s, "
        + "\(mode.rawValue) on \(backend)]"
}

struct GenerateReport: Encodable {
    var tokens: [Int32]
    var steps: [[Int32]]
    var text: String
    /// stop, length, context_full or cancelled.
    var finish_reason: String
    var stats: Stats

    struct Stats: Encodable {
        var prompt_tokens: Int
        var generated_tokens: Int
        var macro_steps: Int
        var kv_slots: Int
        var prefill_seconds: Double
        var decode_seconds: Double
        var tokens_per_second: Double

        init(_ s: GenerationStats) {
            prompt_tokens = s.promptTokens
            generated_tokens = s.generatedTokens
            macro_steps = s.macroSteps
            kv_slots = s.kvSlots
            prefill_seconds = s.prefillSeconds
            decode_seconds = s.decodeSeconds
            tokens_per_second = s.tokensPerSecond
        }
    }

    init(tokens: [Int32], steps: [[Int32]], text: String, finish_reason: String, stats: Stats) {
        self.tokens = tokens
        self.steps = steps
        self.text = text
        self.finish_reason = finish_reason
        self.stats = stats
    }

    init(_ result: GenerationResult, text codec: TextCodec) {
        self.init(tokens: result.tokens, steps: result.steps, text: codec.decode(result.tokens),
                  finish_reason: result.finishReason.rawValue, stats: Stats(result.stats))
    }

    func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
