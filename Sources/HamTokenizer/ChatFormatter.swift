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
    /// ChatML (SmolLM2, Qwen...): per message `<|im_start|>{role}\n{content}<|im_end|>\n`,
    /// then `<|im_start|>assistant\n` to ask for a reply; the content as it is. A conversation
    /// that does not start with a system message gets `defaultSystem` first, as the template
    /// it came from writes it (SmolLM2's does; ChatML itself has none).
    case chatML(defaultSystem: String?)
    /// For models without chat tokens: the messages' texts, concatenated as they are, after
    /// whatever the tokenizer puts first (BOS). The model just continues the text.
    case plainText
}

/// Builds prompt token ids from a conversation.
///
/// Message text is tokenized as plain text: "<|eot_id|>" typed by a user stays those
/// characters rather than becoming the special token. Hugging Face's `apply_chat_template`
/// (and llama.cpp's chat) render a string and parse special tokens out of it, so the two
/// differ only for content that contains special-token text.
public struct ChatFormatter: Sendable {
    public let tokenizer: Tokenizer
    public let format: ChatFormat
    private let markers: Markers

    /// The special tokens a format writes between messages.
    private enum Markers: Sendable {
        case llama3(begin: Int32, startHeader: Int32, endHeader: Int32, endOfTurn: Int32)
        case chatML(start: Int32, end: Int32)
        case none
    }

    /// Chooses `.llama3` when the tokenizer has the Llama 3 header tokens and `.plainText`
    /// otherwise, unless `format` is given. Asking for a format whose tokens the tokenizer
    /// lacks is an error.
    public init(tokenizer: Tokenizer, format: ChatFormat? = nil) throws {
        self.tokenizer = tokenizer
        func token(_ name: String, _ neededFor: String) throws -> Int32 {
            guard let id = tokenizer.id(forToken: name) else {
                throw TokenizerError.missingToken(source: tokenizer.source, token: name, neededFor: neededFor)
            }
            return id
        }
        let llama3Names = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
        let chosen = format ?? (llama3Names.allSatisfy { tokenizer.id(forToken: $0) != nil } ? .llama3 : .plainText)
        switch chosen {
        case .llama3, .llama32:
            let ids = try llama3Names.map { try token($0, "the Llama 3 chat format") }
            markers = .llama3(begin: ids[0], startHeader: ids[1], endHeader: ids[2], endOfTurn: ids[3])
        case .chatML:
            markers = .chatML(start: try token("<|im_start|>", "the ChatML chat format"),
                              end: try token("<|im_end|>", "the ChatML chat format"))
        case .plainText:
            markers = .none
        }
        self.format = chosen
    }

    /// Ids that end the assistant's turn: `<|eot_id|>` (and `<|end_of_text|>` if present)
    /// for the Llama 3 formats; `<|im_end|>` and the tokenizer's end-of-generation tokens for
    /// ChatML; none for plain text.
    public var endOfTurnTokenIds: [Int32] {
        switch markers {
        case let .llama3(_, _, _, endOfTurn):
            return [endOfTurn] + [tokenizer.id(forToken: "<|end_of_text|>")].compactMap { $0 }
        case let .chatML(_, end):
            return [end] + tokenizer.specialTokenIds.endOfGeneration.filter { $0 != end }
        case .none:
            return []
        }
    }

    /// The whole prompt for a conversation, from BOS on.
    public func prompt(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> [Int32] {
        switch markers {
        case .none:
            return tokenizer.encode(messages.map(\.content).joined(), addSpecialTokens: true, parseSpecialTokens: false)
        case let .llama3(begin, _, _, _):
            var ids = [begin]
            var rest = messages[...]
            if case let .llama32(date) = format {
                var system = ""
                if let first = rest.first, first.role == .system {
                    system = ChatFormatter.trimmed(first.content)
                    rest = rest.dropFirst()
                }
                appendTurn(role: "system", text: ChatFormatter.llama32Preamble(date: date) + system, &ids)
            }
            for m in rest { appendTurn(role: m.role.rawValue, text: ChatFormatter.trimmed(m.content), &ids) }
            if addGenerationPrompt { appendHeader(role: "assistant", &ids) }
            return ids
        case .chatML:
            // BOS where the tokenizer adds one (llama.cpp tokenizes the rendered prompt with
            // its special tokens added; SmolLM2's adds none).
            var ids = tokenizer.prefixTokenIds
            for m in chatMLMessages(messages) { appendTurn(role: m.role.rawValue, text: m.content, &ids) }
            if addGenerationPrompt { appendHeader(role: "assistant", &ids) }
            return ids
        }
    }

    /// The messages a ChatML prompt writes: the template's default system message first when
    /// the conversation starts with another role.
    private func chatMLMessages(_ messages: [ChatMessage]) -> [ChatMessage] {
        guard case let .chatML(defaultSystem?) = format, let first = messages.first, first.role != .system else {
            return messages
        }
        return [.system(defaultSystem)] + messages
    }

    /// The ids that extend a conversation already in the model's cache: everything that
    /// `prompt(history + messages)` has beyond `prompt(history)` followed by the assistant's
    /// reply. `closingAssistantTurn` adds the token that ends the reply (`<|eot_id|>`,
    /// `<|im_end|>`), for callers that stop generating at that token without feeding it to
    /// the model. In the plain-text format the messages are encoded on their own (no BOS),
    /// which can differ from encoding the whole conversation at once where two texts touch.
    public func nextTurn(_ messages: [ChatMessage], closingAssistantTurn: Bool = true,
                         addGenerationPrompt: Bool = true) -> [Int32] {
        var ids: [Int32] = []
        switch markers {
        case .none:
            return tokenizer.encode(messages.map(\.content).joined(), addSpecialTokens: false, parseSpecialTokens: false)
        case let .llama3(_, _, _, endOfTurn):
            if closingAssistantTurn { ids.append(endOfTurn) }
            for m in messages { appendTurn(role: m.role.rawValue, text: ChatFormatter.trimmed(m.content), &ids) }
        case let .chatML(_, end):
            if closingAssistantTurn { ids.append(end) }
            ids += tokenizer.encode("\n", addSpecialTokens: false, parseSpecialTokens: false)
            for m in messages { appendTurn(role: m.role.rawValue, text: m.content, &ids) }
        }
        if addGenerationPrompt { appendHeader(role: "assistant", &ids) }
        return ids
    }

    /// `nextTurn` for the usual REPL step: one user message, then the assistant's header.
    public func nextTurn(user: String, closingAssistantTurn: Bool = true) -> [Int32] {
        nextTurn([.user(user)], closingAssistantTurn: closingAssistantTurn)
    }

    /// The prompt as text, for display and logs (what a chat template would render).
    public func text(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        switch markers {
        case .none:
            let bos = tokenizer.prefixTokenIds.first.flatMap { tokenizer.token(forId: $0) } ?? ""
            return bos + messages.map(\.content).joined()
        case .llama3:
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
        case .chatML:
            var out = tokenizer.prefixTokenIds.compactMap { tokenizer.token(forId: $0) }.joined()
            for m in chatMLMessages(messages) { out += "<|im_start|>\(m.role.rawValue)\n\(m.content)<|im_end|>\n" }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
            return out
        }
    }

    static func llama32Preamble(date: String) -> String {
        "Cutting Knowledge Date: December 2023\nToday Date: \(date)\n\n"
    }

    /// Llama 3: the text between `<|end_header_id|>` and `<|eot_id|>` is one stretch for the
    /// tokenizer, so "\n\n" and the content are encoded together, as in the rendered template.
    /// ChatML: likewise the role, "\n" and the content; the "\n" after `<|im_end|>` alone.
    private func appendTurn(role: String, text: String, _ ids: inout [Int32]) {
        switch markers {
        case let .llama3(_, startHeader, endHeader, endOfTurn):
            ids.append(startHeader)
            ids += tokenizer.encode(role, addSpecialTokens: false, parseSpecialTokens: false)
            ids.append(endHeader)
            ids += tokenizer.encode("\n\n" + text, addSpecialTokens: false, parseSpecialTokens: false)
            ids.append(endOfTurn)
        case let .chatML(start, end):
            ids.append(start)
            ids += tokenizer.encode(role + "\n" + text, addSpecialTokens: false, parseSpecialTokens: false)
            ids.append(end)
            ids += tokenizer.encode("\n", addSpecialTokens: false, parseSpecialTokens: false)
        case .none:
            break
        }
    }

    private func appendHeader(role: String, _ ids: inout [Int32]) {
        switch markers {
        case let .llama3(_, startHeader, endHeader, _):
            ids.append(startHeader)
            ids += tokenizer.encode(role, addSpecialTokens: false, parseSpecialTokens: false)
            ids.append(endHeader)
            ids += tokenizer.encode("\n\n", addSpecialTokens: false, parseSpecialTokens: false)
        case let .chatML(start, _):
            ids.append(start)
            ids += tokenizer.encode(role + "\n", addSpecialTokens: false, parseSpecialTokens: false)
        case .none:
            break
        }
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
