import HamLoad
import HamTokenizer

extension TokenizerVocabulary {
    /// The tokenizer metadata of a GGUF file, key by key. A key of the wrong type is an error
    /// here (naming it); what the values mean is checked by `Tokenizer(vocabulary:)`.
    init(gguf file: GGUFFile) throws {
        typealias K = Key
        self.init(
            source: file.path, model: try file.string(K.model), pre: try file.string(K.pre),
            tokens: try file.strings(K.tokens), tokenTypes: try file.integers(K.tokenTypes),
            merges: try file.strings(K.merges), bosTokenId: try file.integer(K.bosTokenId),
            eosTokenId: try file.integer(K.eosTokenId), eotTokenId: try file.integer(K.eotTokenId),
            eomTokenId: try file.integer(K.eomTokenId), unknownTokenId: try file.integer(K.unknownTokenId),
            separatorTokenId: try file.integer(K.separatorTokenId), paddingTokenId: try file.integer(K.paddingTokenId),
            fimPreTokenId: try file.integer(K.fimPreTokenId), fimSufTokenId: try file.integer(K.fimSufTokenId),
            fimMidTokenId: try file.integer(K.fimMidTokenId), fimPadTokenId: try file.integer(K.fimPadTokenId),
            fimRepTokenId: try file.integer(K.fimRepTokenId), fimSepTokenId: try file.integer(K.fimSepTokenId),
            addBOS: try file.bool(K.addBOS), addEOS: try file.bool(K.addEOS),
            chatTemplate: try file.string(K.chatTemplate))
    }
}
