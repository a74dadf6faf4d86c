import HamTokenizer

extension GGUFFile {
    /// The file's tokenizer metadata (`tokenizer.ggml.*`, `tokenizer.chat_template`) as
    /// HamTokenizer's `TokenizerVocabulary`: each key read with its type checked here (an error
    /// names the key), what the values mean checked by `Tokenizer`.
    public func tokenizerVocabulary() throws -> TokenizerVocabulary {
        typealias Key = TokenizerVocabulary.Key
        return TokenizerVocabulary(
            source: path,
            model: try string(Key.model),
            pre: try string(Key.pre),
            tokens: try strings(Key.tokens),
            tokenTypes: try integers(Key.tokenTypes),
            merges: try strings(Key.merges),
            bosTokenId: try integer(Key.bosTokenId),
            eosTokenId: try integer(Key.eosTokenId),
            eotTokenId: try integer(Key.eotTokenId),
            eomTokenId: try integer(Key.eomTokenId),
            unknownTokenId: try integer(Key.unknownTokenId),
            separatorTokenId: try integer(Key.separatorTokenId),
            paddingTokenId: try integer(Key.paddingTokenId),
            addBOS: try bool(Key.addBOS),
            addEOS: try bool(Key.addEOS),
            chatTemplate: try string(Key.chatTemplate))
    }
}
