import Foundation
import HamCore
import HamJSON
import HamTokenizer
import HTTPTypes
import Hummingbird
import NIOCore

/// `/v1/chat/completions` and `/v1/completions`: a request body becomes a sequence in the engine,
/// and the sequence's tokens become a response — one JSON object, or server-sent events.
///
/// A stream's headers go out with its first token, not before: an error until then (the queue
/// is full, the request times out while queued, the server shuts down) is an ordinary HTTP error,
/// and a load balancer may still retry the request elsewhere. Until then, the client closing its
/// connection cancels the request (Hummingbird's inbound-close watch); once streaming, a write that
/// fails does. Either way the engine drops the sequence at its next tick and frees its memory.
struct Completions: Sendable {
    let model: ServedModel
    let loop: EngineLoop
    let metrics: ServerMetrics
    /// max_tokens for a request that does not say.
    let defaultMaxTokens: Int

    func respond(to request: Request, body: [UInt8], kind: CompletionRequest.Kind) async throws -> Response {
        let arrived = ContinuousClock.now
        let parsed = try CompletionRequest(body: body, kind: kind)
        if let name = parsed.model, name != model.name {
            throw APIError(status: .notFound, message: "the model '\(name)' does not exist; this server serves '\(model.name)'",
                           type: "not_found_error", param: "model", code: "model_not_found")
        }
        let generation = try generationRequest(parsed)
        let job = loop.submit(generation)
        let events = EventReader(job.events)
        let shape = ReplyShape(kind: kind, model: model.name, created: Int(Date().timeIntervalSince1970),
                               includeUsage: parsed.includeUsage)
        var progress = Progress(reply: ReplyText(tokenizer: model.tokenizer, stop: parsed.stop), arrived: arrived,
                                metrics: metrics, loop: loop, job: job.id)

        if !parsed.stream {
            let outcome = try await request.body.consumeWithCancellationOnInboundClose { _ in
                var progress = progress
                while let event = await events.next() {
                    if let end = progress.take(event) { return (progress, end) }
                }
                return (progress, Progress.End.failed(.server("the engine dropped the request")))
            }
            progress = outcome.0
            switch outcome.1 {
            case .failed(let error):
                throw error
            case .finished(let finishReason, let usage):
                return Response(status: .ok, headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(string: shape.full(text: progress.text, finishReason: finishReason, usage: usage).compact())))
            }
        }

        // A stream: wait for the first token (or the end) before answering.
        let first = try await request.body.consumeWithCancellationOnInboundClose { _ in
            var progress = progress
            while let event = await events.next() {
                if let end = progress.take(event) { return (progress, Optional(end)) }
                if progress.tokens > 0 { return (progress, nil) }
            }
            return (progress, Optional(Progress.End.failed(.server("the engine dropped the request"))))
        }
        progress = first.0
        if case .failed(let error)? = first.1 { throw error }
        let started = progress, firstEnd = first.1, loop = self.loop
        let promptTokens = generation.prompt.count, continuous = parsed.continuousUsage
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache",
                                   HTTPField.Name("X-Accel-Buffering")!: "no"]
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            var progress = started
            do {
                func send(_ text: String) async throws {
                    try await writer.write(ByteBuffer(string: text))
                }
                var pending = progress.drain()
                // The chat stream's first chunk carries the role, as OpenAI's does.
                // With continuous_usage_stats every chunk carries the counts so far.
                func counts(_ progress: Progress) -> JSONText? {
                    guard continuous else { return nil }
                    return ["prompt_tokens": .integer(promptTokens), "completion_tokens": .integer(progress.tokens),
                            "total_tokens": .integer(promptTokens + progress.tokens)]
                }
                try await send(SSE.event(shape.chunk(text: pending, role: kind == .chat, usage: counts(progress))))
                var end = firstEnd
                while end == nil, let event = await events.next() {
                    end = progress.take(event)
                    pending = progress.drain()
                    if !pending.isEmpty { try await send(SSE.event(shape.chunk(text: pending, usage: counts(progress)))) }
                }
                switch end ?? .failed(.server("the engine dropped the request")) {
                case .failed(let error):
                    // After the first chunk an error is an event, and the stream ends without [DONE].
                    try await send(SSE.event(error.json))
                case .finished(let finishReason, let usage):
                    let rest = progress.drain()
                    if !rest.isEmpty { try await send(SSE.event(shape.chunk(text: rest, usage: counts(progress)))) }
                    try await send(SSE.event(shape.chunk(text: kind == .chat ? nil : "", finishReason: finishReason,
                                                         usage: continuous ? usage.counts : nil)))
                    if shape.includeUsage { try await send(SSE.event(shape.usageChunk(usage))) }
                    try await send(SSE.done)
                }
                try await writer.finish(nil)
            } catch {
                // The client went away mid-stream.
                loop.cancel(job.id)
                throw error
            }
        })
    }

    /// The engine request: prompt ids (the chat format, or the text with BOS as `hamrun generate`
    /// encodes it), and options with the model's defaults for what the request leaves unsaid.
    private func generationRequest(_ request: CompletionRequest) throws(APIError) -> GenerationRequest {
        var stopTokens = request.ignoreEOS ? [] : model.stopTokens
        let ids: [Int32]
        switch request.prompt {
        case .messages(let messages):
            guard let chat = model.chat else {
                throw APIError.invalid(model.chatProblem ?? "this model has no tokenizer, so it cannot chat; use /v1/completions with token ids",
                                       param: "messages")
            }
            ids = chat.prompt(messages)
            if !request.ignoreEOS { stopTokens.formUnion(chat.endOfTurnTokenIds) }
        case .text(let text):
            guard let tokenizer = model.tokenizer else {
                throw APIError.invalid("this model has no tokenizer, so a text prompt cannot be encoded; give token ids",
                                       param: "prompt")
            }
            ids = tokenizer.encode(text)
        case .ids(let given):
            ids = given
        }
        guard !ids.isEmpty else { throw APIError.invalid("the prompt is empty; expected at least one token", param: "prompt") }
        if let bad = ids.first(where: { Int($0) >= model.vocabularySize }) {
            throw APIError.invalid("prompt token id \(bad) is outside the vocabulary; expected 0..<\(model.vocabularySize)",
                                   param: "prompt")
        }
        guard ids.count < model.contextLength else {
            throw APIError.invalid("the prompt has \(ids.count) tokens; the model's context holds \(model.contextLength)",
                                   param: request.kind == .chat ? "messages" : "prompt", code: "context_length_exceeded")
        }
        let mode = request.mode ?? model.defaultMode
        if mode == .hamburger && !model.isHAMburger {
            throw APIError.invalid("mode is \"hamburger\" but this model has no HAMburger modules; use \"base\"", param: "mode")
        }
        var seed = request.seed ?? 0
        if request.seed == nil {
            var generator = SystemRandomNumberGenerator()
            seed = generator.next()
        }
        let sampling = SamplingOptions(temperature: request.temperature ?? 1, topK: request.topK ?? 0,
                                       topP: request.topP ?? 1, seed: seed)
        let options = GenerationOptions(maxTokens: request.maxTokens ?? defaultMaxTokens,
                                        confidence: request.confidence ?? model.confidence, mode: mode,
                                        sampling: sampling, stopTokens: stopTokens)
        return GenerationRequest(prompt: ids, options: options)
    }
}

/// One request's progress through its events: the text so far, the latency metrics, and how it
/// ended.
struct Progress: Sendable {
    enum End: Sendable {
        case finished(finishReason: String, usage: ReplyUsage)
        case failed(APIError)
    }

    var reply: ReplyText
    let arrived: ContinuousClock.Instant
    let metrics: ServerMetrics
    let loop: EngineLoop
    let job: Int
    /// All text so far, and the part not yet sent.
    private(set) var text = ""
    private var unsent = ""
    private(set) var tokens = 0
    private var lastToken: ContinuousClock.Instant?

    init(reply: ReplyText, arrived: ContinuousClock.Instant, metrics: ServerMetrics, loop: EngineLoop, job: Int) {
        self.reply = reply
        self.arrived = arrived
        self.metrics = metrics
        self.loop = loop
        self.job = job
    }

    /// Text not yet sent.
    mutating func drain() -> String {
        defer { unsent = "" }
        return unsent
    }

    /// Applies an event; returns how the request ended when it did.
    mutating func take(_ event: JobEvent) -> End? {
        switch event {
        case .token(let token):
            guard !reply.stopped else { return nil }
            let now = ContinuousClock.now
            if let lastToken { metrics.interToken(seconds(now - lastToken)) } else { metrics.firstToken(after: seconds(now - arrived)) }
            lastToken = now
            tokens += 1
            let piece = reply.append(token)
            text += piece
            unsent += piece
            // A stop string ended the reply: the engine may stop the sequence now.
            if reply.stopped { loop.cancel(job, clientLeft: false) }
            return nil
        case .finished(let result, let queueSeconds):
            let rest = reply.finish()
            text += rest
            unsent += rest
            let finishReason = reply.stopped || result.finishReason == .stop ? "stop" : "length"
            let usage = ReplyUsage(result: result, completionTokens: reply.stopped ? reply.tokenCount : result.tokens.count)
            metrics.finished(reason: finishReason, promptTokens: usage.promptTokens, cachedTokens: usage.stats.cachedPromptTokens,
                             generatedTokens: usage.completionTokens,
                             macroSteps: usage.macroSteps, queueSeconds: queueSeconds,
                             endToEndSeconds: seconds(ContinuousClock.now - arrived))
            return .finished(finishReason: finishReason, usage: usage)
        case .failed(let error, _):
            return .failed(error)
        }
    }
}

/// The job's events, read by one task at a time: the handler until the first token, then the
/// stream's body writer.
final class EventReader: @unchecked Sendable {
    private var iterator: AsyncStream<JobEvent>.Iterator
    // Keeps the stream alive (and its onTermination unfired) while it is read in turns.
    private let stream: AsyncStream<JobEvent>

    init(_ stream: AsyncStream<JobEvent>) {
        self.stream = stream
        iterator = stream.makeAsyncIterator()
    }

    func next() async -> JobEvent? { await iterator.next() }
}
