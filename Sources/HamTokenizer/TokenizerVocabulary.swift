/// A tokenizer as llama.cpp describes it in GGUF metadata (the `tokenizer.ggml.*` keys and
/// `tokenizer.chat_template`), as plain values: what a GGUF reader fills, one field per key,
/// and what `Tokenizer(vocabulary:)` checks and builds a tokenizer from.
///
/// The fields hold what the file says, unchecked: a field is nil where the key is absent, and
/// `Tokenizer` decides what that means (as llama.cpp's `llama_vocab::load` does) and names the
/// key in its error when a value is wrong. The reader only has to get the types right: strings,
/// integers (any GGUF integer type), booleans.
public struct TokenizerVocabulary: Sendable, Equatable {
    /// The GGUF keys, in one place: readers read them, errors name them.
    public enum Key {
        public static let model = "tokenizer.ggml.model"
        public static let pre = "tokenizer.ggml.pre"
        public static let tokens = "tokenizer.ggml.tokens"
        public static let tokenTypes = "tokenizer.ggml.token_type"
        public static let merges = "tokenizer.ggml.merges"
        public static let bosTokenId = "tokenizer.ggml.bos_token_id"
        public static let eosTokenId = "tokenizer.ggml.eos_token_id"
        public static let eotTokenId = "tokenizer.ggml.eot_token_id"
        public static let eomTokenId = "tokenizer.ggml.eom_token_id"
        public static let unknownTokenId = "tokenizer.ggml.unknown_token_id"
        /// Spelled so in llama.cpp and every file it writes.
        public static let separatorTokenId = "tokenizer.ggml.seperator_token_id"
        public static let paddingTokenId = "tokenizer.ggml.padding_token_id"
        public static let fimPreTokenId = "tokenizer.ggml.fim_pre_token_id"
        public static let fimSufTokenId = "tokenizer.ggml.fim_suf_token_id"
        public static let fimMidTokenId = "tokenizer.ggml.fim_mid_token_id"
        public static let fimPadTokenId = "tokenizer.ggml.fim_pad_token_id"
        public static let fimRepTokenId = "tokenizer.ggml.fim_rep_token_id"
        public static let fimSepTokenId = "tokenizer.ggml.fim_sep_token_id"
        public static let addBOS = "tokenizer.ggml.add_bos_token"
        public static let addEOS = "tokenizer.ggml.add_eos_token"
        public static let chatTemplate = "tokenizer.chat_template"

        /// Every key above, for readers that copy them all.
        public static let all = [model, pre, tokens, tokenTypes, merges, bosTokenId, eosTokenId, eotTokenId,
                                 eomTokenId, unknownTokenId, separatorTokenId, paddingTokenId, fimPreTokenId,
                                 fimSufTokenId, fimMidTokenId, fimPadTokenId, fimRepTokenId, fimSepTokenId, addBOS,
                                 addEOS, chatTemplate]
    }

    /// llama.cpp's `llama_token_type`, the values of `tokenizer.ggml.token_type`.
    public enum TokenType: Int, Sendable, CaseIterable {
        case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// The file the metadata came from, for messages.
    public var source: String
    /// `tokenizer.ggml.model`: "gpt2" for byte-level BPE (the only kind hamrun implements).
    public var model: String?
    /// `tokenizer.ggml.pre`: the pre-tokenizer, by llama.cpp's name ("llama-bpe", "smollm", ...).
    public var pre: String?
    /// `tokenizer.ggml.tokens`: token text by id, in GPT-2's byte-level alphabet for normal tokens.
    public var tokens: [String]?
    /// `tokenizer.ggml.token_type`: one `TokenType` raw value per token.
    public var tokenTypes: [Int]?
    /// `tokenizer.ggml.merges`: "left right" in rank order.
    public var merges: [String]?
    public var bosTokenId: Int?
    public var eosTokenId: Int?
    public var eotTokenId: Int?
    public var eomTokenId: Int?
    public var unknownTokenId: Int?
    public var separatorTokenId: Int?
    public var paddingTokenId: Int?
    /// The fill-in-the-middle tokens (llama.cpp finds them by text when these are absent).
    public var fimPreTokenId: Int?
    public var fimSufTokenId: Int?
    public var fimMidTokenId: Int?
    public var fimPadTokenId: Int?
    public var fimRepTokenId: Int?
    public var fimSepTokenId: Int?
    /// `tokenizer.ggml.add_bos_token` / `add_eos_token`.
    public var addBOS: Bool?
    public var addEOS: Bool?
    /// `tokenizer.chat_template`: the Jinja chat template, recognised by `ChatTemplate`.
    public var chatTemplate: String?

    public init(source: String, model: String? = nil, pre: String? = nil, tokens: [String]? = nil,
                tokenTypes: [Int]? = nil, merges: [String]? = nil, bosTokenId: Int? = nil, eosTokenId: Int? = nil,
                eotTokenId: Int? = nil, eomTokenId: Int? = nil, unknownTokenId: Int? = nil,
                separatorTokenId: Int? = nil, paddingTokenId: Int? = nil, fimPreTokenId: Int? = nil,
                fimSufTokenId: Int? = nil, fimMidTokenId: Int? = nil, fimPadTokenId: Int? = nil,
                fimRepTokenId: Int? = nil, fimSepTokenId: Int? = nil, addBOS: Bool? = nil, addEOS: Bool? = nil,
                chatTemplate: String? = nil) {
        self.source = source
        self.model = model
        self.pre = pre
        self.tokens = tokens
        self.tokenTypes = tokenTypes
        self.merges = merges
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.eotTokenId = eotTokenId
        self.eomTokenId = eomTokenId
        self.unknownTokenId = unknownTokenId
        self.separatorTokenId = separatorTokenId
        self.paddingTokenId = paddingTokenId
        self.fimPreTokenId = fimPreTokenId
        self.fimSufTokenId = fimSufTokenId
        self.fimMidTokenId = fimMidTokenId
        self.fimPadTokenId = fimPadTokenId
        self.fimRepTokenId = fimRepTokenId
        self.fimSepTokenId = fimSepTokenId
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.chatTemplate = chatTemplate
    }
}
