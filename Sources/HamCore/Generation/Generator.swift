#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What to generate and when to stop.
public struct GenerationOptions: Sendable {
    public var maxTokens: Int
    /// Stop a macro step after a token when `1 - p_stop < confidence`.
    public var confidence: Double
    public var mode: GenerationMode
    public var sampling: SamplingOptions
    /// Generation ends at any of these ids (the id is kept, what follows it is dropped).
    public var stopTokens: Set<Int32>
    /// Benchmarks only: every macro step emits exactly this many tokens, whatever the stop head
    /// says (random weights choose no realistic step sizes).
    public var forcedStepLength: Int?

    public init(maxTokens: Int, confidence: Double = ModelConfig.defaultConfidence, mode: GenerationMode = .hamburger,
                sampling: SamplingOptions = SamplingOptions(), stopTokens: Set<Int32> = []) {
        self.maxTokens = maxTokens
        self.confidence = confidence
        self.mode = mode
        self.sampling = sampling
        self.stopTokens = stopTokens
    }
}

public struct GenerationStats: Sendable, Equatable {
    public var promptTokens = 0
    public var generatedTokens = 0
    public var macroSteps = 0
    /// Base KV-cache slots holding the context at the end (the prompt plus one per fed step).
    public var kvSlots = 0
    public var prefillSeconds = 0.0
    public var decodeSeconds = 0.0

    public var tokensPerSecond: Double { decodeSeconds > 0 ? Double(generatedTokens) / decodeSeconds : 0 }
    public var prefillTokensPerSecond: Double { prefillSeconds > 0 ? Double(promptTokens) / prefillSeconds : 0 }
    public var tokensPerStep: Double { macroSteps > 0 ? Double(generatedTokens) / Double(macroSteps) : 0 }
    /// Macro steps that fed two or more tokens to the compositional embedder.
    public var mergedSteps = 0

    /// Weight bytes read per generated token, given what a base forward, a further micro step
    /// and a merge read.
    public func weightBytesRead(base: Int, micro: Int, merger: Int) -> Double {
        guard generatedTokens > 0 else { return 0 }
        let total = macroSteps * base + (generatedTokens - macroSteps) * micro + mergedSteps * merger
        return Double(total) / Double(generatedTokens)
    }
}

public struct GenerationResult: Sendable {
    public var tokens: [Int32] = []
    /// The tokens of each macro step, in order (base mode: one token each).
    public var steps: [[Int32]] = []
    public var stats = GenerationStats()
}

/// One micro step as the reference fixtures record it (for tests and `--trace`).
public struct MicroStepTrace: Sendable {
    public var token: Int32
    public var stopProbability: Float
    public var logits: [Float]
}

/// The generation loop: macro steps, micro steps, the stop rule, EOS, sampling and stats,
/// over any `InferenceGraph`.
public final class Generator {
    public let graph: InferenceGraph
    /// Tokens of the last macro step of the previous generation, not yet fed to the base model:
    /// a following `generate(appending:)` feeds them first, so a chat keeps its KV cache.
    private var pending: [Int32] = []
    private var pendingMode: GenerationMode = .hamburger

    public init(graph: InferenceGraph) {
        self.graph = graph
    }

    /// Starts over with an empty context.
    public func reset() {
        graph.reset()
        pending = []
    }

    /// Generates after `prompt`, from an empty context.
    public func generate(prompt: [Int32], options: GenerationOptions,
                         onStep: (([Int32]) -> Void)? = nil,
                         trace: ((MicroStepTrace) -> Void)? = nil) throws -> GenerationResult {
        reset()
        return try generate(appending: prompt, options: options, onStep: onStep, trace: trace)
    }

    /// Generates after the current context extended by `tokens` (a new chat turn); only the new
    /// tokens are prefilled.
    public func generate(appending tokens: [Int32], options: GenerationOptions,
                         onStep: (([Int32]) -> Void)? = nil,
                         trace: ((MicroStepTrace) -> Void)? = nil) throws -> GenerationResult {
        try validate(tokens, options)
        var result = GenerationResult()
        var sampler = options.sampling.isGreedy ? nil : Sampler(options: options.sampling)
        result.stats.promptTokens = tokens.count

        // Macro step 0: the prefill (after feeding what the previous turn left unfed).
        var clock = Clock()
        if !pending.isEmpty {
            if pendingMode == .hamburger { try graph.forward(mergedStep: pending) } else { try graph.forward(tokens: pending) }
            pending = []
        }
        try graph.forward(tokens: tokens)
        try graph.synchronize()
        result.stats.prefillSeconds = clock.lap()

        var finished = false
        var firstStep = true
        while !finished {
            if !firstStep {
                let previous = result.steps[result.steps.count - 1]
                if options.mode == .hamburger { try graph.forward(mergedStep: previous) } else { try graph.forward(tokens: previous) }
                if previous.count > 1 { result.stats.mergedSteps += 1 }
            }
            firstStep = false
            let remaining = options.maxTokens - result.tokens.count
            var step = options.mode == .hamburger
                ? try microSteps(options: options, limit: remaining, sampler: &sampler, trace: trace)
                : [try baseToken(sampler: &sampler, trace: trace)]
            if let end = step.firstIndex(where: { options.stopTokens.contains($0) }) {
                step.removeSubrange((end + 1)...)
                finished = true
            }
            if result.tokens.count + step.count >= options.maxTokens {
                step.removeSubrange(min(step.count, remaining)...)
                finished = true
            }
            result.steps.append(step)
            result.tokens += step
            log.trace("macro step \(result.steps.count - 1): \(step), KV slots \(graph.slotsUsed)")
            onStep?(step)
        }
        pending = result.steps.last ?? []
        pendingMode = options.mode
        result.stats.decodeSeconds = clock.lap()
        result.stats.generatedTokens = result.tokens.count
        result.stats.macroSteps = result.steps.count
        result.stats.kvSlots = graph.slotsUsed
        log.debug("generated \(result.stats.generatedTokens) tokens in \(result.stats.macroSteps) macro steps; prefill \(result.stats.prefillSeconds) s, decode \(result.stats.decodeSeconds) s")
        return result
    }

    /// The micro steps of one macro step: tokens until the stop head says stop
    /// (`1 - p_stop < confidence`), `max_steps` tokens, or `limit` tokens.
    private func microSteps(options: GenerationOptions, limit: Int, sampler: inout Sampler?,
                            trace: ((MicroStepTrace) -> Void)?) throws -> [Int32] {
        guard let hc = graph.hamburger else { return [] }
        let maxSteps = min(hc.maxSteps, max(limit, 1))
        func stops(_ p: Float) -> Bool { 1 - Double(p) < options.confidence }
        if let forced = options.forcedStepLength {
            let count = min(forced, maxSteps)
            for i in 0..<count { graph.microStep(i) }
            return Array(try graph.readMicroSteps(count).tokens)
        }

        if sampler == nil && trace == nil && graph.prefersRunAhead {
            // Enqueue every micro step, read once, keep the tokens up to the first stop.
            for i in 0..<maxSteps { graph.microStep(i) }
            let (tokens, probabilities) = try graph.readMicroSteps(maxSteps)
            let count = (probabilities.firstIndex(where: stops) ?? (maxSteps - 1)) + 1
            return Array(tokens.prefix(count))
        }

        var step: [Int32] = []
        for i in 0..<maxSteps {
            graph.microStep(i)
            var token: Int32
            let probability: Float
            if sampler != nil || trace != nil {
                let logits = try graph.readLogits()
                let read = try graph.readMicroSteps(i + 1)
                token = read.tokens[i]
                probability = read.stopProbabilities[i]
                if let drawn = sampler?.sample(logits) {
                    token = drawn
                    graph.setMicroToken(i, token)
                }
                trace?(MicroStepTrace(token: token, stopProbability: probability, logits: logits))
            } else {
                let read = try graph.readMicroSteps(i + 1)
                token = read.tokens[i]
                probability = read.stopProbabilities[i]
            }
            step.append(token)
            log.trace("micro step \(i): token \(token), p_stop \(probability)")
            if stops(probability) { break }
        }
        return step
    }

    /// Plain autoregressive decoding: the base model's next token.
    private func baseToken(sampler: inout Sampler?, trace: ((MicroStepTrace) -> Void)?) throws -> Int32 {
        graph.baseNextToken()
        if sampler == nil && trace == nil { return try graph.readNextToken() }
        let logits = try graph.readLogits()
        var token = try graph.readNextToken()
        if let drawn = sampler?.sample(logits) { token = drawn }
        trace?(MicroStepTrace(token: token, stopProbability: 1, logits: logits))
        return token
    }

    private func validate(_ tokens: [Int32], _ options: GenerationOptions) throws {
        guard !tokens.isEmpty else { throw GenerationError.emptyPrompt }
        let vocabulary = graph.config.vocabSize
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= vocabulary }) {
            throw GenerationError.tokenOutOfVocabulary(id: Int(bad), vocabularySize: vocabulary)
        }
        guard options.maxTokens > 0 else { throw GenerationError.invalidMaxTokens(options.maxTokens) }
        guard options.confidence >= 0, options.confidence <= 1 else { throw GenerationError.invalidConfidence(options.confidence) }
        if let forced = options.forcedStepLength {
            let limit = graph.hamburger?.maxSteps ?? 1
            guard (1...limit).contains(forced) else {
                throw GenerationError.invalidSampling("--force-steps is \(forced); expected 1 to max_steps (\(limit))")
            }
        }
        try options.sampling.validate()
        if options.mode == .hamburger && graph.hamburger == nil {
            throw GenerationError.notHAMburger(path: "this model")
        }
    }
}

/// Wall-clock laps in seconds.
struct Clock {
    private var last = Clock.now()
    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
    }
    mutating func lap() -> Double {
        let now = Clock.now()
        defer { last = now }
        return now - last
    }
}
