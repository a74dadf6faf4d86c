import HamCore
import HamJSON

/// Counts a finished request reports: OpenAI's `usage`, what only HAMburger has, and llama-server's
/// `timings`.
struct ReplyUsage {
    var promptTokens: Int
    var completionTokens: Int
    var macroSteps: Int
    var kvSlots: Int
    var stats: GenerationStats

    init(result: GenerationResult, completionTokens: Int) {
        promptTokens = result.stats.promptTokens
        self.completionTokens = completionTokens
        macroSteps = result.stats.macroSteps
        kvSlots = result.stats.kvSlots
        stats = result.stats
    }

    /// `usage`: the token counts (a stream's usage agrees with a single response's), OpenAI's
    /// `prompt_tokens_details.cached_tokens` (prompt tokens the prefix cache held), and
    /// `macro_steps` (base forwards that produced the reply) and `kv_slots` (base KV-cache slots the
    /// context took: fewer than its tokens when macro steps were merged).
    var json: JSONText {
        ["prompt_tokens": .integer(promptTokens), "completion_tokens": .integer(completionTokens),
         "total_tokens": .integer(promptTokens + completionTokens),
         "prompt_tokens_details": ["cached_tokens": .integer(stats.cachedPromptTokens)],
         "macro_steps": .integer(macroSteps), "kv_slots": .integer(kvSlots)]
    }

    /// The OpenAI counts alone (continuous usage in a stream's chunks).
    var counts: JSONText {
        ["prompt_tokens": .integer(promptTokens), "completion_tokens": .integer(completionTokens),
         "total_tokens": .integer(promptTokens + completionTokens)]
    }

    /// llama-server's `timings`: prompt tokens from the prefix cache (`cache_n`), prompt tokens
    /// prefilled and predicted (decoded) tokens, with milliseconds and rates. Prefill time runs
    /// from the sequence's first tick to its first token; decoding from the first token to the
    /// last (`GenerationStats`).
    var timings: JSONText {
        let promptMs = stats.prefillSeconds * 1000, predictedMs = stats.decodeSeconds * 1000
        let predicted = completionTokens, prefilled = promptTokens - stats.cachedPromptTokens
        return ["cache_n": .integer(stats.cachedPromptTokens),
                "prompt_n": .integer(prefilled), "prompt_ms": number(promptMs),
                "prompt_per_token_ms": number(prefilled > 0 ? promptMs / Double(prefilled) : 0),
                "prompt_per_second": number(promptMs > 0 ? Double(prefilled) * 1000 / promptMs : 0),
                "predicted_n": .integer(predicted), "predicted_ms": number(predictedMs),
                "predicted_per_token_ms": number(predicted > 1 ? predictedMs / Double(predicted - 1) : 0),
                "predicted_per_second": number(predictedMs > 0 ? Double(max(predicted - 1, 0)) * 1000 / predictedMs : 0)]
    }
}

/// A finite number (timings of an instantaneous phase are 0, never infinite).
func number(_ value: Double) -> JSONText { .number(value.isFinite ? value : 0) }

/// The JSON a completion answers with, in OpenAI's shapes: `chat.completion` and
/// `chat.completion.chunk` for chat, `text_completion` for completions.
struct ReplyShape {
    let kind: CompletionRequest.Kind
    let id: String
    let created: Int
    let model: String
    /// Streams with `include_usage` carry `"usage": null` in every chunk but the last, as OpenAI's do.
    let includeUsage: Bool

    init(kind: CompletionRequest.Kind, model: String, created: Int, includeUsage: Bool) {
        self.kind = kind
        self.model = model
        self.created = created
        self.includeUsage = includeUsage
        var generator = SystemRandomNumberGenerator()
        let suffix = (0..<2).map { _ in String(generator.next() as UInt64, radix: 16) }.joined()
        id = (kind == .chat ? "chatcmpl-" : "cmpl-") + suffix
    }

    private var head: [JSONText.Member] {
        [.init("id", .string(id)),
         .init("object", .string(kind == .chat ? "chat.completion" : "text_completion")),
         .init("created", .integer(created)), .init("model", .string(model))]
    }

    /// The whole reply of a request that did not stream.
    func full(text: String, finishReason: String, usage: ReplyUsage) -> JSONText {
        let choice: JSONText = kind == .chat
            ? ["index": 0, "message": ["role": "assistant", "content": .string(text)], "logprobs": .null,
               "finish_reason": .string(finishReason)]
            : ["index": 0, "text": .string(text), "logprobs": .null, "finish_reason": .string(finishReason)]
        return .object(head + [.init("choices", [choice]), .init("usage", usage.json), .init("timings", usage.timings)])
    }

    /// One chunk of a stream: new text (with the role in a chat's first chunk), or the end with
    /// its finish reason.
    func chunk(text: String?, role: Bool = false, finishReason: String? = nil, usage: JSONText? = nil) -> JSONText {
        let choice: JSONText
        if kind == .chat {
            var delta: [JSONText.Member] = []
            if role { delta.append(.init("role", "assistant")) }
            if let text { delta.append(.init("content", .string(text))) }
            choice = ["index": 0, "delta": .object(delta), "logprobs": .null, "finish_reason": finishReason.map { .string($0) } ?? .null]
        } else {
            choice = ["index": 0, "text": .string(text ?? ""), "logprobs": .null, "finish_reason": finishReason.map { .string($0) } ?? .null]
        }
        let usage = usage.map { [JSONText.Member("usage", $0)] } ?? (includeUsage ? [.init("usage", .null)] : [])
        return .object(streamHead + [.init("choices", [choice])] + usage)
    }

    /// The last chunk when the client asked for usage: no choices, the counts and the timings.
    func usageChunk(_ usage: ReplyUsage) -> JSONText {
        .object(streamHead + [.init("choices", []), .init("usage", usage.json), .init("timings", usage.timings)])
    }

    private var streamHead: [JSONText.Member] {
        [.init("id", .string(id)),
         .init("object", .string(kind == .chat ? "chat.completion.chunk" : "text_completion")),
         .init("created", .integer(created)), .init("model", .string(model))]
    }
}

/// Server-sent events as OpenAI frames them.
enum SSE {
    static func event(_ json: JSONText) -> String { "data: " + json.compact() + "\n\n" }
    static let done = "data: [DONE]\n\n"
}
