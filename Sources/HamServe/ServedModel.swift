import HamCore
import HamTokenizer

/// What the HTTP side knows of the model it serves: its name, how text becomes ids and back, its
/// chat format and the defaults a request leaves unsaid. The engine itself is owned by the
/// scheduler's thread (`EngineLoop`); this part is shared by every request handler.
public struct ServedModel: Sendable {
    /// The id `/v1/models` lists and requests may name.
    public var name: String
    public var tokenizer: Tokenizer?
    /// The model's chat format (plain text continuation for a model without a chat template).
    public var chat: ChatFormatter?
    /// Why there is no chat format, when there is a tokenizer but its chat template is not one
    /// this runtime writes: chat requests get this as their 400.
    public var chatProblem: String?
    /// `max_position_embeddings`: no prompt may be longer.
    public var contextLength: Int
    public var vocabularySize: Int
    public var isHAMburger: Bool
    /// The model's recommended confidence (`hamburger.confidence`), else the authors' 0.9.
    public var confidence: Double
    /// End-of-sequence ids from the model's config; generation stops at them.
    public var stopTokens: Set<Int32>
    /// Unix time the model was loaded, for `/v1/models`'s `created`.
    public var created: Int

    public init(name: String, tokenizer: Tokenizer?, chat: ChatFormatter?, chatProblem: String?, contextLength: Int,
                vocabularySize: Int, isHAMburger: Bool, confidence: Double, stopTokens: Set<Int32>, created: Int) {
        self.name = name
        self.tokenizer = tokenizer
        self.chat = chat
        self.chatProblem = chatProblem
        self.contextLength = contextLength
        self.vocabularySize = vocabularySize
        self.isHAMburger = isHAMburger
        self.confidence = confidence
        self.stopTokens = stopTokens
        self.created = created
    }

    /// The mode a request that names none runs in.
    public var defaultMode: GenerationMode { isHAMburger ? .hamburger : .base }
}
