/// Problems with a generation request or with the state of a generation.
public enum GenerationError: Error, CustomStringConvertible, Equatable {
    case emptyPrompt
    case tokenOutOfVocabulary(id: Int, vocabularySize: Int)
    case invalidMaxTokens(Int)
    case invalidConfidence(Double)
    case invalidSampling(String)
    case notHAMburger(path: String)
    case invalidStep(count: Int)
    case contextFull(limit: Int)
    case backend(String)

    public var description: String {
        switch self {
        case .emptyPrompt:
            "the prompt is empty; expected at least one token"
        case .tokenOutOfVocabulary(let id, let size):
            "prompt token id \(id) is outside the vocabulary; expected 0..<\(size)"
        case .invalidMaxTokens(let n):
            "--max-tokens is \(n); expected a positive number"
        case .invalidConfidence(let c):
            "--confidence is \(c); expected a value in [0, 1]"
        case .invalidSampling(let detail):
            detail
        case .notHAMburger(let path):
            "\(path): not a HAMburger model (config.json has no 'hamburger' object); use --mode base"
        case .invalidStep(let count):
            "a macro step holds \(count) tokens; expected 1 to max_steps"
        case .contextFull(let limit):
            "the context is full: max_position_embeddings is \(limit) positions"
        case .backend(let detail):
            detail
        }
    }
}
