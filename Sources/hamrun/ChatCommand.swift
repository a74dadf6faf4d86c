import ArgumentParser
import Foundation
import HamCore
import HamCPU
import HamConvert
import HamLoad
import HamTokenizer

/// An interactive conversation that keeps its KV cache across turns: each turn prefills only
/// the new text, after feeding the last macro step of the previous reply.
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Talk with a model; the conversation and its KV cache persist across turns.",
        discussion: "Commands: /reset forgets the conversation, /stats shows the last reply's numbers and the context. Ctrl-D quits.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var generation: GenerationFlags
    @OptionGroup var engineFlags: EngineFlags

    @Option(parsing: .unconditional, help: "System message.")
    var system: String?

    @Option(name: .customLong("chat-format"), help: "plain, chatml, llama3 or llama32 (default: the family of the model's chat template).")
    var chatFormat: ChatFormatName?

    func validate() throws { try generation.check() }

    func run() throws {
        let directory = try modelOptions.openModel()
        let mode = try resolveMode(generation.mode, directory)
        let text = try TextCodec(directory: directory)
        let formatter = try text.chatFormatter(chatFormat)
        // The conversation may grow to the whole context.
        let engine = try modelOptions.makeEngine(
            directory, hamburger: mode == .hamburger,
            options: engineFlags.options(directory.config, sequences: 1, slots: min(directory.config.maxPositionEmbeddings, 8192)))
        var options = generation.options(for: directory, mode: mode)
        options.stopTokens.formUnion(formatter.endOfTurnTokenIds)
        let endOfTurn = Set(formatter.endOfTurnTokenIds)

        var session = ChatSession()
        let interactive = isatty(STDIN_FILENO) != 0
        StandardStreams.err("hamrun chat: \(mode.rawValue) on \(engine.backendName); /reset, /stats, Ctrl-D to quit\n")
        while true {
            if interactive { StandardStreams.err("> ") }
            guard let line = readLine(strippingNewline: true) else { break }
            let input = line.trimmingCharacters(in: .whitespaces)
            switch input {
            case "":
                continue
            case "/reset":
                session.conversation.map(engine.release)
                session = ChatSession()
                StandardStreams.err("(conversation forgotten)\n")
                continue
            case "/stats":
                StandardStreams.err(session.statsLine() + "\n")
                continue
            default:
                break
            }

            let ids: [Int32]
            if session.turns == 0 {
                ids = formatter.prompt((system.map { [.system($0)] } ?? []) + [.user(input)])
            } else {
                // The reply that ended at <|eot_id|> was closed by it; one cut by --max-tokens was not.
                let closing = formatter.format != .plainText && !session.lastReplyEnded
                ids = formatter.nextTurn([.user(input)], closingAssistantTurn: closing)
            }
            var stream = text.streamingDecoder()
            let request = GenerationRequest(prompt: ids, options: options, continuing: session.conversation, keepContext: true)
            let result: GenerationResult
            var sequence = session.conversation
            do {
                result = try engine.generate(request) { event in
                    sequence = event.sequence
                    if case .token(_, let token) = event { StandardStreams.stream(stream.append([token])) }
                }
            } catch let error as GenerationError {
                // The turn does not fit: say so and keep the REPL (and what is queued) going.
                if case .promptTooLong = error {
                    StandardStreams.err("hamrun chat: \(error); /reset starts a new conversation\n")
                    continue
                }
                throw error
            }
            try StandardStreams.out(stream.finish() + "\n")
            session.record(result, endedAtEndOfTurn: result.tokens.last.map(endOfTurn.contains) ?? false, id: sequence)
            if result.finishReason == .contextFull {
                StandardStreams.err("hamrun chat: the context is full (\(directory.config.maxPositionEmbeddings) positions); /reset starts a new conversation\n")
            }
        }
        if interactive { StandardStreams.err("\n") }
    }
}

/// What the REPL remembers about the conversation.
struct ChatSession {
    /// The engine's sequence that keeps the conversation's KV cache.
    var conversation: SequenceID?
    var turns = 0
    var lastReplyEnded = true
    var last: GenerationStats?
    var contextTokens = 0

    mutating func record(_ result: GenerationResult, endedAtEndOfTurn: Bool, id: SequenceID?) {
        conversation = id
        turns += 1
        lastReplyEnded = endedAtEndOfTurn
        last = result.stats
        contextTokens += result.stats.promptTokens + result.stats.generatedTokens
    }

    func statsLine() -> String {
        guard let last else { return "[no reply yet]" }
        let perStep = String(format: "%.2f", last.tokensPerStep)
        return "[turns \(turns), context \(contextTokens) tokens in \(last.kvSlots) KV slots; last reply: "
            + "\(last.generatedTokens) tokens in \(last.macroSteps) macro steps (\(perStep) tokens/step), "
            + String(format: "prefill %.1f tok/s (%d new tokens), decode %.1f tok/s]", last.prefillTokensPerSecond, last.promptTokens, last.tokensPerSecond)
    }
}
