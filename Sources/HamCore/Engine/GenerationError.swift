/// Problems with a generation request, or with a sequence while it runs.
public enum GenerationError: Error, CustomStringConvertible, Equatable {
    case emptyPrompt
    case tokenOutOfVocabulary(id: Int, vocabularySize: Int)
    case invalidMaxTokens(Int)
    case invalidConfidence(Double)
    case invalidSampling(String)
    case notHAMburger(path: String)
    /// The prompt alone does not fit in the model's context.
    case promptTooLong(tokens: Int, limit: Int)
    /// The KV-cache budget cannot hold this request even alone (its prompt and max tokens).
    case kvBudgetTooSmall(neededBytes: Int, budgetBytes: Int)
    /// The KV cache had no block left for this sequence (admission reserves them: a bug if seen).
    case kvBudgetExhausted(budgetBytes: Int)
    /// A logit or stop probability came out NaN or infinite.
    case nonFinite(macroStep: Int, microStep: Int)
    case unknownSequence
    case backend(String)

    public var description: String {
        switch self {
        case .emptyPrompt:
            "the prompt is empty; expected at least one token"
        case .tokenOutOfVocabulary(let id, let size):
            "prompt token id \(id) is outside the vocabulary; expected 0..<\(size)"
        case .invalidMaxTokens(let n):
            "max tokens is \(n); expected a positive number"
        case .invalidConfidence(let c):
            "confidence is \(c); expected a value in [0, 1]"
        case .invalidSampling(let detail):
            detail
        case .notHAMburger(let path):
            "\(path): not a HAMburger model (config.json has no 'hamburger' object); use --mode base"
        case .promptTooLong(let tokens, let limit):
            "the prompt has \(tokens) tokens; the model's context holds \(limit) (max_position_embeddings)"
        case .kvBudgetTooSmall(let needed, let budget):
            "the KV-cache budget of \(budget) bytes cannot hold this request's prompt and max tokens (\(needed) bytes); raise --kv-budget or lower max tokens"
        case .kvBudgetExhausted(let budget):
            "the KV-cache budget of \(budget) bytes has no block left for this sequence"
        case .nonFinite(let macro, let micro):
            "the model produced a NaN or infinite value at macro step \(macro), micro step \(micro); the weights or the config are broken"
        case .unknownSequence:
            "no such sequence"
        case .backend(let detail):
            detail
        }
    }
}
