import HamCore
import HamJSON
import HamTokenizer

/// A `/v1/chat/completions` or `/v1/completions` body, read with the project's JSON reader so that a
/// wrong field is named with what it should be (`temperature is "hot"; expected a number in
/// 0.0...2.0`). A parameter this server does not implement is refused with a 400 naming it,
/// never ignored; parameters whose value changes nothing (`n: 1`, `presence_penalty: 0`) pass.
struct CompletionRequest {
    enum Kind: Sendable { case chat, text }

    enum Prompt {
        case messages([ChatMessage])
        case text(String)
        case ids([Int32])
    }

    var kind: Kind
    var model: String?
    var prompt: Prompt
    var maxTokens: Int?
    var temperature: Double?
    var topP: Double?
    var topK: Int?
    var seed: UInt64?
    var stop: [String] = []
    var stream = false
    var includeUsage = false
    /// vLLM's `stream_options.continuous_usage_stats`: every chunk carries the counts so far.
    var continuousUsage = false
    /// HAMburger's extensions.
    var confidence: Double?
    var mode: GenerationMode?
    /// llama-server's and vLLM's: generate through end-of-sequence tokens (benchmarks).
    var ignoreEOS = false

    static let maxStopStrings = 16
    static let maxTokensLimit = 1 << 20

    /// Fields read here, per endpoint.
    private static let common: Set<String> = [
        "model", "max_tokens", "temperature", "top_p", "top_k", "seed", "stop", "stream", "stream_options",
        "confidence", "mode", "ignore_eos", "n", "user", "presence_penalty", "frequency_penalty", "logprobs",
        "logit_bias", "response_format",
    ]
    private static let chatOnly: Set<String> = ["messages", "max_completion_tokens", "top_logprobs", "tools", "tool_choice",
                                                "parallel_tool_calls"]
    private static let textOnly: Set<String> = ["prompt", "echo", "best_of", "suffix"]

    init(body: [UInt8], kind: Kind) throws(APIError) {
        do {
            try self.init(parsing: body, kind: kind)
        } catch let error as APIError {
            throw error
        } catch let error as JSONError {
            throw Self.apiError(error)
        } catch {
            throw APIError.invalid(String(describing: error))
        }
    }

    private init(parsing body: [UInt8], kind: Kind) throws {
        self.kind = kind
        let root = try JSONDocument(body, source: "request body").root
        guard case .object = root.kind else {
            throw APIError.invalid("the request body is \(root.shown); expected a JSON object")
        }
        let known = Self.common.union(kind == .chat ? Self.chatOnly : Self.textOnly)
        for member in root.members where !known.contains(member.name) {
            let other = kind == .chat ? Self.textOnly : Self.chatOnly
            let hint = other.contains(member.name) ? " (it belongs to \(kind == .chat ? "/v1/completions" : "/v1/chat/completions"))" : ""
            throw APIError.invalid("unknown parameter '\(member.name)'\(hint)", param: member.name, code: "unknown_parameter")
        }
        try Self.refuseUnsupported(root, kind: kind)

        model = try root.optional("model")?.string()
        switch kind {
        case .chat:
            prompt = .messages(try Self.messages(root.required("messages")))
        case .text:
            prompt = try Self.prompt(root.required("prompt"))
        }
        let maxTokens = try root.optional("max_tokens")?.integer(in: 1...Self.maxTokensLimit)
        let maxCompletion = kind == .chat ? try root.optional("max_completion_tokens")?.integer(in: 1...Self.maxTokensLimit) : nil
        if let maxTokens, let maxCompletion, maxTokens != maxCompletion {
            throw APIError.invalid("max_tokens (\(maxTokens)) and max_completion_tokens (\(maxCompletion)) disagree; give one",
                                   param: "max_completion_tokens")
        }
        self.maxTokens = maxCompletion ?? maxTokens
        temperature = try root.optional("temperature")?.double(in: 0...2)
        topP = try root.optional("top_p")?.double(in: 0...1)
        if topP == 0 { throw APIError.invalid("top_p is 0; expected a number in (0, 1]", param: "top_p") }
        topK = try root.optional("top_k")?.integer(in: 0...Int(Int32.max))
        seed = try root.optional("seed").map { UInt64(bitPattern: Int64(try $0.integer())) }
        stop = try Self.stopStrings(root.optional("stop"))
        stream = try root.optional("stream")?.bool() ?? false
        if let options = try root.optional("stream_options") {
            guard stream else {
                throw APIError.invalid("stream_options is only allowed when stream is true", param: "stream_options")
            }
            for member in try options.object().members where !["include_usage", "continuous_usage_stats"].contains(member.name) {
                throw APIError.invalid("unknown parameter 'stream_options.\(member.name)'; expected include_usage or continuous_usage_stats",
                                       param: "stream_options.\(member.name)")
            }
            includeUsage = try options.optional("include_usage")?.bool() ?? false
            continuousUsage = try options.optional("continuous_usage_stats")?.bool() ?? false
        }
        confidence = try root.optional("confidence")?.double(in: 0...1)
        mode = try root.optional("mode").map { GenerationMode(rawValue: try $0.string(oneOf: GenerationMode.allCases.map(\.rawValue))) } ?? nil
        ignoreEOS = try root.optional("ignore_eos")?.bool() ?? false
        _ = try root.optional("user")?.string()
    }

    /// Parameters that would change the output in ways this server does not implement: accepted
    /// only at the value that changes nothing.
    private static func refuseUnsupported(_ root: JSONValue, kind: Kind) throws {
        func refuse(_ name: String, _ why: String) -> APIError {
            APIError.invalid("'\(name)' \(why)", param: name, code: "unsupported_parameter")
        }
        if let n = try root.optional("n") {
            guard try n.integer(in: 1...Int.max) == 1 else {
                throw refuse("n", "is \(n.shown); this server generates one choice per request (n = 1); send several requests")
            }
        }
        for name in ["presence_penalty", "frequency_penalty"] {
            if let value = try root.optional(name), try value.double(in: -2...2) != 0 {
                throw refuse(name, "is \(value.shown); penalties are not supported (0 only)")
            }
        }
        if let value = try root.optional("best_of"), try value.integer(in: 1...Int.max) != 1 {
            throw refuse("best_of", "is \(value.shown); only 1 is supported")
        }
        if let value = try root.optional("echo"), try value.bool() {
            throw refuse("echo", "is true; echoing the prompt is not supported")
        }
        if let value = try root.optional("suffix"), !(try value.string()).isEmpty {
            throw refuse("suffix", "is not supported (insertion is not implemented)")
        }
        if let value = try root.optional("logprobs") {
            let off = kind == .chat ? value.boolValue == false : value.integerValue == 0
            guard off else { throw refuse("logprobs", "is \(value.shown); log probabilities are not supported") }
        }
        if let value = try root.optional("top_logprobs"), value.integerValue != 0 {
            throw refuse("top_logprobs", "is \(value.shown); log probabilities are not supported")
        }
        if let value = try root.optional("logit_bias"), try value.object().count > 0 {
            throw refuse("logit_bias", "is not supported (an empty object only)")
        }
        if let value = try root.optional("response_format") {
            guard try value.object().optional("type")?.string() == "text", value.count == 1 else {
                throw refuse("response_format", "is not supported: constrained output is not implemented ({\"type\": \"text\"} only)")
            }
        }
        if let value = try root.optional("tools"), try value.array().underestimatedCount > 0 {
            throw refuse("tools", "are not supported (tool calls are not implemented)")
        }
        if let value = try root.optional("tool_choice"), value.stringValue != "none" {
            throw refuse("tool_choice", "is \(value.shown); tool calls are not implemented (\"none\" only)")
        }
        _ = try root.optional("parallel_tool_calls")?.bool()
    }

    private static func messages(_ value: JSONValue) throws -> [ChatMessage] {
        var messages: [ChatMessage] = []
        for item in try value.array() {
            let role = try item.required("role").string(oneOf: ["system", "developer", "user", "assistant"])
            for member in item.members where !["role", "content", "name"].contains(member.name) {
                throw APIError.invalid("unknown field '\(member.name)' in \(item.path); expected role, content and name",
                                       param: JSONPath.appending(member.name, to: item.path))
            }
            _ = try item.optional("name")?.string()
            let content = try item.required("content")
            let text: String
            if let s = content.stringValue {
                text = s
            } else {
                // The content-parts form, text parts only.
                var joined = ""
                for part in try content.array() {
                    let type = try part.required("type").string()
                    guard type == "text" else {
                        throw APIError.invalid("\(part.path).type is \"\(type)\"; only text content is supported",
                                               param: part.path)
                    }
                    joined += try part.required("text").string()
                }
                text = joined
            }
            let kind: ChatMessage.Role = role == "user" ? .user : role == "assistant" ? .assistant : .system
            messages.append(ChatMessage(kind, text))
        }
        guard !messages.isEmpty else { throw APIError.invalid("messages is empty; expected at least one message", param: "messages") }
        return messages
    }

    /// A string, token ids, or a list holding one of them (several prompts are several requests).
    private static func prompt(_ value: JSONValue) throws -> Prompt {
        if let text = value.stringValue { return .text(text) }
        let elements = Array(try value.array())
        if let first = elements.first, first.stringValue != nil || first.kind == .array {
            guard elements.count == 1 else {
                throw APIError.invalid("prompt holds \(elements.count) prompts; this server takes one per request (n = 1)",
                                       param: "prompt", code: "unsupported_parameter")
            }
            return try prompt(first)
        }
        let ids = try value.integers(in: 0...Int(Int32.max)).map(Int32.init)
        guard !ids.isEmpty else { throw APIError.invalid("prompt is an empty list; expected text or token ids", param: "prompt") }
        return .ids(ids)
    }

    private static func stopStrings(_ value: JSONValue?) throws -> [String] {
        guard let value else { return [] }
        let strings = try value.stringValue.map { [$0] } ?? value.array().map { try $0.string() }
        guard strings.count <= maxStopStrings else {
            throw APIError.invalid("stop has \(strings.count) strings; at most \(maxStopStrings) are allowed", param: "stop")
        }
        if strings.contains(where: \.isEmpty) { throw APIError.invalid("stop holds an empty string", param: "stop") }
        return strings
    }

    /// A JSON problem as a 400 naming the field.
    static func apiError(_ error: JSONError) -> APIError {
        switch error {
        case .syntax:
            return .invalid(error.description, code: "invalid_json")
        case .missingField(_, let field):
            return .invalid(error.description, param: field, code: "missing_field")
        case .invalidValue(_, let field, _, _):
            return .invalid(error.description, param: field.isEmpty ? nil : field)
        }
    }
}
