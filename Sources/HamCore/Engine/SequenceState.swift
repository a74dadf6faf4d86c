/// Names a sequence in an engine.
public struct SequenceID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let raw: Int
    public init(_ raw: Int) { self.raw = raw }
    public static func < (a: SequenceID, b: SequenceID) -> Bool { a.raw < b.raw }
    public var description: String { "#\(raw)" }
}

/// What a sequence asks of the engine.
public struct GenerationRequest: Sendable {
    /// Tokens to feed after the sequence's context: the whole prompt, or a new chat turn.
    public var prompt: [Int32]
    public var options: GenerationOptions
    /// Continue the context a finished sequence kept (`keepContext`): only `prompt` is prefilled,
    /// after that sequence's last macro step.
    public var continuing: SequenceID?
    /// Keep the KV cache and the last macro step when the sequence finishes, for a next turn.
    public var keepContext: Bool
    /// Report every micro step's logits (`EngineEvent.trace`): reference checks.
    public var traceLogits: Bool

    public init(prompt: [Int32], options: GenerationOptions, continuing: SequenceID? = nil,
                keepContext: Bool = false, traceLogits: Bool = false) {
        self.prompt = prompt
        self.options = options
        self.continuing = continuing
        self.keepContext = keepContext
        self.traceLogits = traceLogits
    }
}

/// What happened to a sequence during a tick.
public enum EngineEvent: Sendable {
    /// A token was chosen (at most one per sequence per tick).
    case token(SequenceID, Int32)
    /// A macro step ended with these tokens (base mode: every token is a step).
    case macroStep(SequenceID, [Int32])
    /// A micro step's token, stop probability and logits (requests with `traceLogits`).
    case trace(SequenceID, MicroStepTrace)
    case finished(SequenceID, GenerationResult)
    /// The sequence stopped with an error; what it had generated is in the result.
    case failed(SequenceID, GenerationError, GenerationResult)

    public var sequence: SequenceID {
        switch self {
        case .token(let id, _), .macroStep(let id, _), .trace(let id, _), .finished(let id, _), .failed(let id, _, _): id
        }
    }
}

/// One sequence inside the engine: its KV cache (blocks of the pool), RoPE position, the inputs
/// not yet fed, where it is in its macro step, and its own options and sampler.
struct SequenceState {
    enum Phase: Equatable {
        /// Feeding `pendingStep` (if any) and then the prompt, in chunks.
        case prefill
        /// The previous macro step's tokens go to the base model as one (merged) input.
        case feedStep
        /// Micro step `i ≥ 1` of the current macro step.
        case micro(Int)
    }

    let id: SequenceID
    var options: GenerationOptions
    var sampler: Sampler?
    let keepContext: Bool
    let traceLogits: Bool
    /// Begun from nothing (not a kept context's next turn): slot `i` holds token `i` of the prompt
    /// at position `i`, so its prompt can go to the prefix cache and come from it.
    let fresh: Bool
    /// Whether admission has looked for its prompt in the prefix cache.
    var prefixLookedUp = false

    // The context.
    var blocks: [Int32] = []
    /// Base KV slots written; slot `s` is in `blocks[s / blockSize]`.
    var slots = 0
    /// RoPE position of the next token.
    var position = 0
    /// The previous macro step, not yet fed (a kept chat context's last reply step, or the step
    /// that just ended).
    var pendingStep: [Int32] = []
    /// Whether `pendingStep` was made in HAMburger mode (merged when fed) or base mode.
    var pendingMerged = false
    var prompt: [Int32] = []
    var promptFed = 0

    // Decoding.
    var phase: Phase = .prefill
    var step: [Int32] = []
    /// Its rows in the micro-step decoder's cache and the feature pool (HAMburger only).
    var microIndex: Int?
    var result = GenerationResult()

    // Times (seconds on the engine's clock).
    var submitted = 0.0
    var started: Double?
    var firstToken: Double?

    init(id: SequenceID, request: GenerationRequest) {
        self.id = id
        options = request.options
        sampler = request.options.sampling.isGreedy ? nil : Sampler(options: request.options.sampling)
        keepContext = request.keepContext
        traceLogits = request.traceLogits
        fresh = request.continuing == nil
        prompt = request.prompt
        result.stats.promptTokens = request.prompt.count
    }

    var isHAMburger: Bool { options.mode == .hamburger }
    var promptLeft: Int { prompt.count - promptFed }
}
