import ArgumentParser
import Foundation
import HamCore
import HamFiles
import HamJSON
import HamLoad

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
        let directory = try modelOptions.openModel()
        let text = try TextCodec(directory: directory)
        let config = directory.config
        let engine = try modelOptions.makeEngine(
            directory, hamburger: directory.isHAMburger,
            options: engineFlags.options(config, sequences: parallel, slots: min(config.maxPositionEmbeddings, 2048)))
        let defaults = GenerationDefaults(directory: directory, maxTokens: maxTokens)

        let lines = try Self.lines(input == "-" ? StandardStreams.readInput() : InputFile.read(input))
        let writer = try ResultWriter(path: output)
        var pending: [Int: String] = [:]      // finished lines waiting for the ones before them
        var lineOf: [SequenceID: Int] = [:]
        var nextToWrite = 0, nextToRead = 0

        func flush() throws {
            while let line = pending.removeValue(forKey: nextToWrite) {
                try writer.write(line)
                nextToWrite += 1
            }
        }
        while true {
            // Keep the engine's queue a little ahead of what it runs, never the whole file.
            while nextToRead < lines.count && lineOf.count < 2 * parallel {
                let index = nextToRead
                nextToRead += 1
                do {
                    let request = try BatchRequest(lines[index], line: index + 1).request(defaults: defaults, text: text)
                    lineOf[try engine.submit(request)] = index
                } catch {
                    pending[index] = BatchError(message: errorMessage(error), line: index + 1).json
                }
            }
            try flush()
            if lineOf.isEmpty && nextToRead == lines.count { break }
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

    /// The non-blank lines of a JSONL text.
    static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        bytes.split(separator: 0x0A, omittingEmptySubsequences: true)
            .filter { line in line.contains { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D } }
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

    init(directory: ModelFiles, maxTokens: Int) {
        self.maxTokens = maxTokens
        confidence = directory.config.hamburger?.confidence ?? ModelConfig.defaultConfidence
        isHAMburger = directory.isHAMburger
        mode = directory.isHAMburger ? .hamburger : .base
        stopTokens = Set(directory.eosTokenIds.map(Int32.init))
    }
}

/// One input line, read with the project's JSON reader: a wrong field is named with what it
/// should be (`line 5: max_tokens is "four"; expected an integer in 1...1048576`).
struct BatchRequest {
    var prompt: String?
    var promptIds: [Int32]?
    var maxTokens: Int?
    var confidence: Double?
    var mode: GenerationMode?
    var temperature: Double?
    var topK: Int?
    var topP: Double?
    var seed: UInt64?
    var stop: [Int32]?

    static let fields: Set<String> = ["prompt", "prompt_ids", "max_tokens", "confidence", "mode", "temperature",
                                      "top_k", "top_p", "seed", "stop"]

    init(_ line: ArraySlice<UInt8>, line number: Int) throws {
        let root = try JSONDocument(line, source: "line \(number)").root.object()
        for member in root.members where !Self.fields.contains(member.name) {
            throw CLIError("line \(number): unknown field '\(member.name)'; expected \(Self.fields.sorted().joined(separator: ", "))")
        }
        prompt = try root.optional("prompt")?.string()
        promptIds = try root.optional("prompt_ids")?.integers(in: 0...Int(Int32.max)).map(Int32.init)
        maxTokens = try root.optional("max_tokens")?.integer(in: 1...(1 << 20))
        confidence = try root.optional("confidence")?.double(in: 0...1)
        mode = try root.optional("mode").map { GenerationMode(rawValue: try $0.string(oneOf: GenerationMode.allCases.map(\.rawValue))) } ?? nil
        temperature = try root.optional("temperature")?.double(in: 0...1000)
        topK = try root.optional("top_k")?.integer(in: 0...Int(Int32.max))
        topP = try root.optional("top_p")?.double(in: 0...1)
        seed = try root.optional("seed").map { UInt64(try $0.integer(in: 0...Int.max)) }
        stop = try root.optional("stop")?.integers(in: 0...Int(Int32.max)).map(Int32.init)
    }

    func request(defaults: GenerationDefaults, text: TextCodec) throws -> GenerationRequest {
        let ids: [Int32]
        switch (prompt, promptIds) {
        case (let words?, nil): ids = try text.encode(words)
        case (nil, let given?): ids = given
        case (nil, nil): throw CLIError("neither 'prompt' nor 'prompt_ids' is given")
        case (_?, _?): throw CLIError("give 'prompt' or 'prompt_ids', not both")
        }
        var options = GenerationOptions(
            maxTokens: maxTokens ?? defaults.maxTokens, confidence: confidence ?? defaults.confidence, mode: mode ?? defaults.mode,
            sampling: SamplingOptions(temperature: temperature ?? 0, topK: topK ?? 0, topP: topP ?? 1, seed: seed ?? 0),
            stopTokens: defaults.stopTokens)
        options.stopTokens.formUnion(stop ?? [])
        return GenerationRequest(prompt: ids, options: options)
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

/// Result lines to standard output, or to a file that appears (renamed into place) only when
/// complete; every write is checked and a failure names the file.
final class ResultWriter {
    private let path: String
    private let partial: String?
    private let descriptor: Int32

    init(path: String) throws {
        self.path = path
        if path == "-" {
            partial = nil
            descriptor = -1
            return
        }
        let partial = path + ".partial"
        let fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CLIError("\(path): cannot write: \(String(cString: strerror(errno)))") }
        self.partial = partial
        descriptor = fd
    }

    func write(_ line: String) throws {
        guard partial != nil else { return try StandardStreams.outLine(line) }
        var bytes = Array((line + "\n").utf8), done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(descriptor, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                let reason = errno == ENOSPC ? "no space left on device" : String(cString: strerror(errno))
                abandon()
                throw CLIError("\(reason) while writing \(path)")
            }
            done += n
        }
    }

    func close() throws {
        guard let partial else { return }
        guard fsync(descriptor) == 0, Glibc.close(descriptor) == 0, rename(partial, path) == 0 else {
            let reason = String(cString: strerror(errno))
            abandon()
            throw CLIError("\(path): cannot finish writing: \(reason)")
        }
    }

    private func abandon() {
        guard let partial else { return }
        _ = Glibc.close(descriptor)
        unlink(partial)
    }
}
