/// How a conversation becomes a prompt.
public enum ChatFormat: Sendable, Equatable {
    /// Meta's Llama 3 instruct format, as the Llama 3 (8B/70B) Instruct chat template writes
    /// it: `<|begin_of_text|>`, then per message
    /// `<|start_header_id|>{role}<|end_header_id|>\n\n{content, trimmed}<|eot_id|>`, then
    /// `<|start_header_id|>assistant<|end_header_id|>\n\n` to ask for a reply. The system
    /// message is optional and nothing is added to it.
    case llama3
    /// The Llama 3.2 Instruct chat template: the same, but there is always a system turn, and
    /// it starts with "Cutting Knowledge Date: December 2023\nToday Date: {date}\n\n". With
    /// `date: "26 Jul 2024"` (the template's fallback) this reproduces Hugging Face's
    /// `apply_chat_template` for a Llama 3.2 tokenizer exactly.
    case llama32(date: String)
    /// For models without chat tokens: the messages' texts, concatenated as they are, after
    /// whatever the tokenizer puts first (BOS). The model just continues the text.
    case plainText
}

/// Builds prompt token ids from a conversation.
///
/// Message text is tokenized as plain text: "<|eot_id|>" typed by a user stays those
/// characters rather than becoming the special token. Hugging Face's `apply_chat_template`
/// renders a string and parses special tokens out of it, so the two differ only for
/// content that contains special-token text.
public struct ChatFormatter: Sendable {
    public let tokenizer: Tokenizer
    public let format: ChatFormat
    private let tokens: HeaderTokens?

    private struct HeaderTokens: Sendable {
        let begin: Int32, startHeader: Int32, endHeader: Int32, endOfTurn: Int32
    }

    /// Chooses `.llama3` when the tokenizer has the Llama 3 header tokens and `.plainText`
    /// otherwise, unless `format` is given. Asking for a Llama 3 format with a tokenizer that
    /// lacks the tokens is an error.
    public init(tokenizer: Tokenizer, format: ChatFormat? = nil) throws {
        self.tokenizer = tokenizer
        func token(_ name: String) -> Int32? { tokenizer.id(forToken: name) }
        let found = (token("<|begin_of_text|>"), token("<|start_header_id|>"), token("<|end_header_id|>"), token("<|eot_id|>"))
        var header: HeaderTokens?
        if case let (b?, s?, e?, t?) = found {
            header = HeaderTokens(begin: b, startHeader: s, endHeader: e, endOfTurn: t)
        }
        let chosen = format ?? (header != nil ? .llama3 : .plainText)
        if chosen != .plainText && header == nil {
            let names = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
            let missing = names.first { token($0) == nil } ?? names[0]
            throw TokenizerError.missingToken(source: tokenizer.source, token: missing, neededFor: "the Llama 3 chat format")
        }
        self.format = chosen
        self.tokens = chosen == .plainText ? nil : header
    }

    /// Ids that end the assistant's turn: `<|eot_id|>` (and `<|end_of_text|>` if present)
    /// for the Llama 3 formats, none for plain text.
    public var endOfTurnTokenIds: [Int32] {
        guard let tokens else { return [] }
        return [tokens.endOfTurn] + [tokenizer.id(forToken: "<|end_of_text|>")].compactMap { $0 }
    }

    /// The whole prompt for a conversation, from BOS on.
    public func prompt(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> [Int32] {
        guard let tokens else {
            return tokenizer.encode(messages.map(\.content).joined(), addSpecialTokens: true, parseSpecialTokens: false)
        }
        var ids = [tokens.begin]
        var rest = messages[...]
        if case let .llama32(date) = format {
            var system = ""
            if let first = rest.first, first.role == .system {
                system = ChatFormatter.trimmed(first.content)
                rest = rest.dropFirst()
            }
            appendTurn(role: "system", text: ChatFormatter.llama32Preamble(date: date) + system, tokens, &ids)
        }
        for m in rest { appendTurn(role: m.role.rawValue, text: ChatFormatter.trimmed(m.content), tokens, &ids) }
        if addGenerationPrompt { appendHeader(role: "assistant", tokens, &ids) }
        return ids
    }

    /// The ids that extend a conversation already in the model's cache: everything that
    /// `prompt(history + messages)` has beyond `prompt(history)` followed by the assistant's
    /// reply. `closingAssistantTurn` adds the `<|eot_id|>` that ends the reply, for callers
    /// that stop generating at that token without feeding it to the model.
    /// In the plain-text format the messages are encoded on their own (no BOS), which can
    /// differ from encoding the whole conversation at once where two texts touch.
    public func nextTurn(_ messages: [ChatMessage], closingAssistantTurn: Bool = true,
                         addGenerationPrompt: Bool = true) -> [Int32] {
        guard let tokens else {
            return tokenizer.encode(messages.map(\.content).joined(), addSpecialTokens: false, parseSpecialTokens: false)
        }
        var ids: [Int32] = closingAssistantTurn ? [tokens.endOfTurn] : []
        for m in messages { appendTurn(role: m.role.rawValue, text: ChatFormatter.trimmed(m.content), tokens, &ids) }
        if addGenerationPrompt { appendHeader(role: "assistant", tokens, &ids) }
        return ids
    }

    /// `nextTurn` for the usual REPL step: one user message, then the assistant's header.
    public func nextTurn(user: String, closingAssistantTurn: Bool = true) -> [Int32] {
        nextTurn([.user(user)], closingAssistantTurn: closingAssistantTurn)
    }

    /// The prompt as text, for display and logs (what a chat template would render).
    public func text(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        guard tokens != nil else {
            let bos = tokenizer.bosTokenId.flatMap { tokenizer.token(forId: $0) } ?? ""
            return bos + messages.map(\.content).joined()
        }
        func turn(_ role: String, _ text: String) -> String {
            "<|start_header_id|>\(role)<|end_header_id|>\n\n\(text)<|eot_id|>"
        }
        var out = "<|begin_of_text|>"
        var rest = messages[...]
        if case let .llama32(date) = format {
            var system = ""
            if let first = rest.first, first.role == .system {
                system = ChatFormatter.trimmed(first.content)
                rest = rest.dropFirst()
            }
            out += turn("system", ChatFormatter.llama32Preamble(date: date) + system)
        }
        for m in rest { out += turn(m.role.rawValue, ChatFormatter.trimmed(m.content)) }
        if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        return out
    }

    static func llama32Preamble(date: String) -> String {
        "Cutting Knowledge Date: December 2023\nToday Date: \(date)\n\n"
    }

    /// The text between `<|end_header_id|>` and `<|eot_id|>` is one stretch for the
    /// tokenizer, so "\n\n" and the content are encoded together, as in the rendered template.
    private func appendTurn(role: String, text: String, _ tokens: HeaderTokens, _ ids: inout [Int32]) {
        ids.append(tokens.startHeader)
        ids += tokenizer.encode(role, addSpecialTokens: false, parseSpecialTokens: false)
        ids.append(tokens.endHeader)
        ids += tokenizer.encode("\n\n" + text, addSpecialTokens: false, parseSpecialTokens: false)
        ids.append(tokens.endOfTurn)
    }

    private func appendHeader(role: String, _ tokens: HeaderTokens, _ ids: inout [Int32]) {
        ids.append(tokens.startHeader)
        ids += tokenizer.encode(role, addSpecialTokens: false, parseSpecialTokens: false)
        ids.append(tokens.endHeader)
        ids += tokenizer.encode("\n\n", addSpecialTokens: false, parseSpecialTokens: false)
    }

    /// Jinja's `trim` filter, which the chat templates apply to every message: Python's
    /// `str.strip()`, whose whitespace is Unicode White_Space plus U+001C...U+001F.
    static func trimmed(_ s: String) -> String {
        func isSpace(_ c: Unicode.Scalar) -> Bool {
            c.properties.isWhitespace || (0x1C...0x1F).contains(c.value)
        }
        let scalars = s.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(scalars[first...last])
    }
}
