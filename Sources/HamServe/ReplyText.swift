import HamTokenizer

/// Generated ids to the text a client receives: whole UTF-8 characters only (a character split
/// across tokens waits for its last byte), special tokens left out, stop strings cut off. The
/// concatenation of everything `append` and `finish` return is the full reply, so a stream and a
/// single response carry the same text.
struct ReplyText {
    private var decoder: StreamingDecoder?
    private var filter: StopStringFilter
    /// Tokens taken until the reply ended (a stop string ends it early).
    private(set) var tokenCount = 0

    init(tokenizer: Tokenizer?, stop: [String]) {
        decoder = tokenizer.map { StreamingDecoder(tokenizer: $0, skipSpecialTokens: true) }
        filter = StopStringFilter(stop)
    }

    /// Whether a stop string ended the reply: later tokens are ignored.
    var stopped: Bool { filter.stopped }

    /// The text this token completes (often "", and "" once a stop string was found).
    mutating func append(_ token: Int32) -> String {
        guard !filter.stopped else { return "" }
        tokenCount += 1
        // Without a tokenizer there is no text: the ids are the output (prompts as ids).
        guard decoder != nil else { return filter.append("") }
        let piece = (try? decoder?.append(token)) ?? ""
        return filter.append(piece)
    }

    /// The rest: held-back bytes (shown as U+FFFD if they never became a character, as a whole
    /// decode would) and a held stop-string prefix that did not complete.
    mutating func finish() -> String {
        guard !filter.stopped else { return "" }
        let rest = decoder?.finish() ?? ""
        return filter.append(rest) + filter.finish()
    }
}
