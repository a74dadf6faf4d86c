import ArgumentParser
import Foundation
import HamCore
import HamLoad

/// Offline batch inference on JSONL, as vLLM's offline mode and the OpenAI Batch API do it: every
/// input line is a request, every output line its result, in input order; up to `--parallel`
/// sequences decode together in the engine's batched step.
struct BatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Generate for every line of a JSONL file, many sequences at once.",
        discussion: """
            Each input line is {"prompt": "..."} or {"prompt_ids": [...]}, optionally with max_tokens, confidence, mode \
            (hamburger or base), temperature, top_k, top_p, seed and stop (token ids). Each output line has the fields of \
            generate --json (tokens, steps, text, finish_reason, stats), or {"error": {"message": ..., "line": N}} for a \
            line that cannot run; the other lines still run.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var engineFlags: EngineFlags

    @Option(help: "JSONL requests (- for standard input).")
    var input: String

    @Option(help: "JSONL results (- for standard output).")
    var output: String

    @Option(help: "Most sequences in flight.")
    var parallel = 8

    @Option(name: .customLong("max-tokens"), help: "Default max_tokens of a line that does not say.")
    var maxTokens = 128

    func validate() throws {
        guard parallel > 0 else { throw ValidationError("--parallel is \(parallel); expected a positive number") }
        guard maxTokens > 0 else { throw ValidationError("--max-tokens is \(maxTokens); expected a positive number") }
    }

    func run() throws {
        let directory = try modelOptions.loadDirectory()
        let text = try TextCodec(directory: directory)
        let config = directory.config
        let engine = try modelOptions.makeEngine(
            directory, hamburger: directory.isHAMburger,
            options: engineFlags.options(config, sequences: parallel, slots: min(config.maxPositionEmbeddings, 2048)))
        let defaults = GenerationDefaults(directory: directory, maxTokens: maxTokens)

        let reader = try LineReader(path: input)
        let writer = try LineWriter(path: output)
        var pending: [Int: String] = [:]      // finished lines waiting for the ones before them
        var lineOf: [SequenceID: Int] = [:]
        var nextToWrite = 0, lineCount = 0, exhausted = false

        func flush() throws {
            while let line = pending.removeValue(forKey: nextToWrite) {
                try writer.write(line)
                nextToWrite += 1
            }
        }
        while true {
            // Keep the engine's queue a little ahead of what it runs, never the whole file.
            while !exhausted && lineOf.count < 2 * parallel {
                guard let line = try reader.next() else {
                    exhausted = true
                    break
                }
                let index = lineCount
                lineCount += 1
                do {
                    let request = try BatchRequest.parse(line, line: index + 1).request(defaults: defaults, text: text)
                    lineOf[try engine.submit(request)] = index
                } catch {
                    pending[index] = BatchError(message: errorMessage(error), line: index + 1).json
                }
            }
            try flush()
            if lineOf.isEmpty && exhausted { break }
            for event in try engine.step() {
                switch event {
                case .finished(let id, let result):
                    guard let index = lineOf.removeValue(forKey: id) else { continue }
                    pending[index] = try GenerateReport(result, text: text).jsonString()
                case .failed(let id, let error, _):
                    guard let index = lineOf.removeValue(forKey: id) else { continue }
                    pending[index] = BatchError(message: errorMessage(error), line: index + 1).json
                default:
                    break
                }
            }
        }
        try writer.close()
    }
}

/// What a request line leaves unsaid: the model's recommended confidence, its EOS ids, the mode
/// its modules allow.
struct GenerationDefaults {
    let maxTokens: Int
    let confidence: Double
    let mode: GenerationMode
    let isHAMburger: Bool
    let stopTokens: Set<Int32>

    init(directory: ModelDirectory, maxTokens: Int) {
        self.maxTokens = maxTokens
        confidence = directory.config.hamburger?.confidence ?? ModelConfig.defaultConfidence
        isHAMburger = directory.isHAMburger
        mode = directory.isHAMburger ? .hamburger : .base
        stopTokens = Set(directory.eosTokenIds.map(Int32.init))
    }
}

/// One input line.
struct BatchRequest: Decodable {
    var prompt: String?
    var prompt_ids: [Int32]?
    var max_tokens: Int?
    var confidence: Double?
    var mode: String?
    var temperature: Double?
    var top_k: Int?
    var top_p: Double?
    var seed: UInt64?
    var stop: [Int32]?

    static func parse(_ line: String, line number: Int) throws -> BatchRequest {
        do {
            return try JSONDecoder().decode(BatchRequest.self, from: Data(line.utf8))
        } catch let error as DecodingError {
            switch error {
            case .typeMismatch(_, let context), .valueNotFound(_, let context):
                let field = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
                throw CLIError("line \(number): field '\(field)' has the wrong type")
            default:
                throw CLIError("line \(number): not a JSON object")
            }
        }
    }

    func request(defaults: GenerationDefaults, text: TextCodec) throws -> GenerationRequest {
        let ids: [Int32]
        switch (prompt, prompt_ids) {
        case (let words?, nil): ids = try text.encode(words)
        case (nil, let given?): ids = given
        case (nil, nil): throw CLIError("neither 'prompt' nor 'prompt_ids' is given")
        case (_?, _?): throw CLIError("give 'prompt' or 'prompt_ids', not both")
        }
        return GenerationRequest(prompt: ids, options: try options(defaults))
    }

    func options(_ defaults: GenerationDefaults) throws -> GenerationOptions {
        var resolved: GenerationMode = defaults.mode
        if let mode {
            guard let parsed = GenerationMode(rawValue: mode) else {
                throw CLIError("'mode' is '\(mode)'; expected 'hamburger' or 'base'")
            }
            resolved = parsed
        }
        var options = GenerationOptions(
            maxTokens: max_tokens ?? defaults.maxTokens, confidence: confidence ?? defaults.confidence, mode: resolved,
            sampling: SamplingOptions(temperature: temperature ?? 0, topK: top_k ?? 0, topP: top_p ?? 1, seed: seed ?? 0),
            stopTokens: defaults.stopTokens)
        options.stopTokens.formUnion(stop ?? [])
        return options
    }
}

/// An output line for a request that did not run.
struct BatchError: Encodable {
    struct Detail: Encodable {
        var message: String
        var line: Int
    }
    var error: Detail

    init(message: String, line: Int) { error = Detail(message: message, line: line) }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? #"{"error":{"message":"unprintable error"}}"#
    }
}

/// The one-line message of any error (what `hamrun: error:` would print).
func errorMessage(_ error: Error) -> String {
    oneLine(String(describing: error))
}

/// Lines of a file or of standard input, read as they are needed.
final class LineReader {
    private let handle: FileHandle
    private var buffer = Data()
    private var atEnd = false

    init(path: String) throws {
        if path == "-" {
            handle = .standardInput
        } else {
            guard let opened = FileHandle(forReadingAtPath: path) else { throw CLIError("\(path): cannot open for reading") }
            handle = opened
        }
    }

    /// The next non-empty line, nil at the end.
    func next() throws -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
                return line
            }
            if atEnd {
                guard !buffer.isEmpty else { return nil }
                let line = String(decoding: buffer, as: UTF8.self)
                buffer = Data()
                return line.trimmingCharacters(in: .whitespaces).isEmpty ? nil : line
            }
            let chunk = handle.availableData
            if chunk.isEmpty { atEnd = true } else { buffer.append(chunk) }
        }
    }
}

/// Lines to a file (written beside it and renamed into place when complete) or standard output.
final class LineWriter {
    private let path: String
    private let temporary: String?
    private let handle: FileHandle

    init(path: String) throws {
        self.path = path
        if path == "-" {
            temporary = nil
            handle = .standardOutput
        } else {
            let partial = path + ".partial"
            guard FileManager.default.createFile(atPath: partial, contents: nil),
                  let opened = FileHandle(forWritingAtPath: partial) else { throw CLIError("\(path): cannot write") }
            temporary = partial
            handle = opened
        }
    }

    func write(_ line: String) throws {
        try handle.write(contentsOf: Data((line + "\n").utf8))
    }

    func close() throws {
        guard let temporary else { return }
        try handle.close()
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try FileManager.default.moveItem(atPath: temporary, toPath: path)
    }
}
