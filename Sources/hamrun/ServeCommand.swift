import ArgumentParser
import Dispatch
import Foundation
import HamCore
import HamLoad
import HamServe
import HamTokenizer
import Logging

/// `hamrun serve`: the OpenAI-compatible HTTP server (HamServe) on the batched engine.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the model over HTTP with OpenAI's API (chat and text completions, streaming).",
        discussion: """
            Endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health, GET /metrics \
            (Prometheus), POST /tokenize, POST /detokenize. Up to --parallel requests decode together; --max-queue more \
            wait (for a slot or for KV memory); beyond that requests get 503 with Retry-After. SIGTERM or SIGINT stops \
            accepting, gives in-flight requests --shutdown-grace seconds, then exits 0.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var engineFlags: EngineFlags

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(parsing: .unconditional, help: "Port to listen on (0: any free port; the one chosen is printed).")
    var port = 8080

    @Option(parsing: .unconditional, help: "Requests decoding together (the engine's batch).")
    var parallel = 4

    @Option(name: .customLong("max-queue"), parsing: .unconditional, help: "Requests that may wait beyond --parallel; more get 503.")
    var maxQueue = 64

    @Option(name: .customLong("api-key"), help: "Require this key (Authorization: Bearer KEY, or X-Api-Key) on every route but /health.")
    var apiKey: String?

    @Option(parsing: .unconditional, help: "Seconds a request may take, queueing included (0: no limit).")
    var timeout: Double = 600

    @Option(name: .customLong("max-tokens"), parsing: .unconditional, help: "max_tokens of a request that does not say.")
    var maxTokens = 256

    @Option(name: .customLong("shutdown-grace"), parsing: .unconditional, help: "Seconds in-flight requests get to finish after SIGTERM.")
    var shutdownGrace: Double = 10

    @Option(name: .customLong("chat-format"), help: "plain, chatml, llama3 or llama32 (default: the family of the model's chat template).")
    var chatFormat: ChatFormatName?

    @Option(help: "The model's name in /v1/models and requests (default: the model directory's or file's name).")
    var alias: String?

    @Flag(name: .customLong("prefix-cache"),
          help: "Keep finished prompts' KV in the spare budget for requests that begin the same way (chat histories, shared system prompts). Logits then agree with an uncached run within float rounding, not bit for bit.")
    var prefixCache = false

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port is \(port); expected 0...65535") }
        guard parallel > 0 else { throw ValidationError("--parallel is \(parallel); expected a positive number") }
        guard maxQueue >= 0 else { throw ValidationError("--max-queue is \(maxQueue); expected 0 or more") }
        guard timeout >= 0, timeout.isFinite else { throw ValidationError("--timeout is \(timeout); expected seconds >= 0 (0: no limit)") }
        guard maxTokens > 0 else { throw ValidationError("--max-tokens is \(maxTokens); expected a positive number") }
        guard shutdownGrace >= 0, shutdownGrace.isFinite else {
            throw ValidationError("--shutdown-grace is \(shutdownGrace); expected seconds >= 0")
        }
        if let apiKey, apiKey.isEmpty { throw ValidationError("--api-key is empty; expected a key") }
    }

    func run() throws {
        // Files are opened (and their errors reported) before listening; the weights are loaded
        // on the engine's thread while /health already answers 503.
        let directory = try modelOptions.openModel()
        let text = try TextCodec(directory: directory)
        let config = directory.config
        var chat: ChatFormatter?, chatProblem: String?
        if text.tokenizer != nil {
            do {
                chat = try text.chatFormatter(chatFormat)
            } catch {
                chatProblem = "this model cannot chat: \(errorMessage(error)); use /v1/completions"
            }
        }
        let name = alias ?? URL(fileURLWithPath: directory.path).deletingPathExtension().lastPathComponent
        let model = ServedModel(
            name: name, tokenizer: text.tokenizer, chat: chat, chatProblem: chatProblem,
            contextLength: config.maxPositionEmbeddings, vocabularySize: config.vocabSize, isHAMburger: directory.isHAMburger,
            confidence: config.hamburger?.confidence ?? ModelConfig.defaultConfidence,
            stopTokens: Set(directory.eosTokenIds.map(Int32.init)), created: Int(Date().timeIntervalSince1970))
        let options = {
            var options = engineFlags.options(config, sequences: parallel, slots: min(config.maxPositionEmbeddings, 4096))
            options.prefixCaching = prefixCache
            return options
        }()
        let limits = EngineLoop.Limits(parallel: parallel, maxQueue: maxQueue, timeout: timeout > 0 ? timeout : nil,
                                       shutdownGrace: shutdownGrace)
        let configuration = ServerConfiguration(host: host, port: port, apiKey: apiKey, limits: limits, defaultMaxTokens: maxTokens)
        let modelOptions = self.modelOptions
        if let chatProblem { StandardStreams.err("hamrun serve: \(chatProblem)\n") }
        try runBlocking {
            try await HamServer.run(configuration, model: model, logger: Logger(label: "hamrun.serve"),
                                    onListening: { host, port in
                                        StandardStreams.err("hamrun serve: \(name) listening on http://\(host):\(port)\n")
                                    },
                                    load: { try modelOptions.makeEngine(directory, hamburger: directory.isHAMburger, options: options) })
        }
    }
}

/// Runs async work from a synchronous command and waits for it; its error is rethrown.
private func runBlocking(_ work: @escaping @Sendable () async throws -> Void) throws {
    final class Outcome: @unchecked Sendable { var error: Error? }
    let outcome = Outcome()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        do { try await work() } catch { outcome.error = error }
        done.signal()
    }
    done.wait()
    if let error = outcome.error { throw error }
}
