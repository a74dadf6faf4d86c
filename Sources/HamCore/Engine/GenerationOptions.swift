/// Which model a sequence runs.
public enum GenerationMode: String, Sendable, CaseIterable, Codable {
    /// HAMburger: macro steps with merged inputs and micro steps.
    case hamburger
    /// Plain autoregressive decoding of the base model: one token and one KV slot per forward.
    case base
}

/// When a macro step ends.
public enum MacroStepRule: Sendable, Equatable {
    /// After a token whose stop probability has `1 - p_stop < confidence` (the authors' rule), or
    /// after `max_steps` tokens.
    case stopHead(confidence: Double)
    /// After exactly this many tokens, whatever the stop head says: benchmarks only, since random
    /// weights choose no realistic step sizes.
    case fixedLength(Int)
}

/// What one sequence generates and when it stops: every sequence in a batch has its own.
public struct GenerationOptions: Sendable, Equatable {
    public var maxTokens: Int
    public var stepRule: MacroStepRule
    public var mode: GenerationMode
    public var sampling: SamplingOptions
    /// Generation ends at any of these ids (the id is kept, what follows it is not generated).
    public var stopTokens: Set<Int32>

    public init(maxTokens: Int, confidence: Double = ModelConfig.defaultConfidence, mode: GenerationMode = .hamburger,
                sampling: SamplingOptions = SamplingOptions(), stopTokens: Set<Int32> = []) {
        self.maxTokens = maxTokens
        stepRule = .stopHead(confidence: confidence)
        self.mode = mode
        self.sampling = sampling
        self.stopTokens = stopTokens
    }

    /// The stop head's confidence (the default where the rule is a fixed length).
    public var confidence: Double {
        get { if case .stopHead(let c) = stepRule { c } else { ModelConfig.defaultConfidence } }
        set { stepRule = .stopHead(confidence: newValue) }
    }
}

/// Why a sequence ended.
public enum FinishReason: String, Sendable, Equatable, Codable {
    /// It emitted one of its stop tokens (end of sequence, end of turn).
    case stop
    /// It reached its `maxTokens`.
    case length
    /// The next input would not fit in `max_position_embeddings`.
    case contextFull = "context_full"
    case cancelled
}

public struct GenerationStats: Sendable, Equatable {
    public var promptTokens = 0
    /// Prompt tokens whose KV came from the prefix cache rather than a prefill.
    public var cachedPromptTokens = 0
    public var generatedTokens = 0
    public var macroSteps = 0
    /// Macro steps that fed two or more tokens to the compositional embedder.
    public var mergedSteps = 0
    /// Base KV-cache slots holding the context at the end (the prompt plus one per fed step).
    public var kvSlots = 0
    /// From joining the engine to the first tick that ran it.
    public var queueSeconds = 0.0
    /// From its first tick to the end of the tick that produced its first token.
    public var prefillSeconds = 0.0
    /// From the first token to the last.
    public var decodeSeconds = 0.0

    public init() {}

    /// Tokens after the first (which the prefill produced) per second of decoding.
    public var tokensPerSecond: Double { decodeSeconds > 0 ? Double(generatedTokens - 1) / decodeSeconds : 0 }
    public var prefillTokensPerSecond: Double {
        prefillSeconds > 0 ? Double(promptTokens - cachedPromptTokens) / prefillSeconds : 0
    }
    public var tokensPerStep: Double { macroSteps > 0 ? Double(generatedTokens) / Double(macroSteps) : 0 }

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
    public var finishReason: FinishReason = .length

    public init() {}
}

/// One micro step as the reference fixtures record it (tests, `check --reference`).
public struct MicroStepTrace: Sendable {
    public var token: Int32
    public var stopProbability: Float
    public var logits: [Float]
}
