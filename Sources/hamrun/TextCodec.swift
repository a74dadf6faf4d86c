import ArgumentParser
import Foundation
import HamCore
import HamCPU
import HamConvert
import HamFiles
import HamJSON
import HamLoad
import HamTokenizer

/// Text in and out of token ids for a model directory, and its chat format.
struct TextCodec {
    let tokenizer: Tokenizer?
    let directory: ModelFiles

    init(directory: ModelFiles) throws {
        self.directory = directory
        switch directory.tokenizer {
        case .json(let path):
            tokenizer = try Tokenizer(contentsOf: URL(fileURLWithPath: path))
        case .gguf, nil:
            tokenizer = nil
        }
    }

    func requireTokenizer() throws -> Tokenizer {
        guard let tokenizer else {
            if case .gguf = directory.tokenizer {
                throw CLIError("\(directory.path): hamrun does not yet read a tokenizer from GGUF metadata, so text prompts cannot be encoded; use --prompt-ids")
            }
            throw CLIError("\(directory.path): no tokenizer.json, so text prompts cannot be encoded; use --prompt-ids")
        }
        return tokenizer
    }

    /// Plain text, with BOS as the tokenizer's post-processor adds it.
    func encode(_ text: String) throws -> [Int32] {
        try requireTokenizer().encode(text)
    }

    /// The text of generated ids, special tokens left out.
    func decode(_ ids: [Int32]) -> String {
        guard let tokenizer else { return "" }
        return (try? tokenizer.decode(ids, skipSpecialTokens: true)) ?? ""
    }

    func streamingDecoder() -> Stream { Stream(decoder: tokenizer.map { StreamingDecoder(tokenizer: $0, skipSpecialTokens: true) }) }

    /// Text as it completes; without a tokenizer, the ids themselves.
    struct Stream {
        var decoder: StreamingDecoder?
        mutating func append(_ ids: [Int32]) -> String {
            guard decoder != nil else { return ids.map(String.init).joined(separator: " ") + " " }
            return ids.map { (try? decoder?.append($0)) ?? "" }.joined()
        }
        mutating func finish() -> String { decoder?.finish() ?? "" }
    }

    /// The chat format that fits the model: the Llama 3 instruct formats when its
    /// tokenizer_config.json has a chat template (with the Llama 3.2 date preamble when the
    /// template writes one), plain text continuation otherwise (the embedded model).
    func chatFormatter(_ requested: ChatFormatChoice?) throws -> ChatFormatter {
        let tokenizer = try requireTokenizer()
        switch try requested ?? defaultChatFormat() {
        case .plain: return try ChatFormatter(tokenizer: tokenizer, format: .plainText)
        case .llama3: return try ChatFormatter(tokenizer: tokenizer, format: .llama3)
        case .llama32: return try ChatFormatter(tokenizer: tokenizer, format: .llama32(date: Self.today()))
        }
    }

    /// A tokenizer_config.json that is present but unreadable is an error: falling back to plain
    /// text would chat with an instruct model in the wrong format without a word.
    private func defaultChatFormat() throws -> ChatFormatChoice {
        let path = (directory.path as NSString).appendingPathComponent("tokenizer_config.json")
        guard InputFile.exists(path) else { return .plain }
        let config = try withLoadErrors { try JSONDocument(readFile(path, limit: jsonFileLimit), source: path).root }
        // A template given as a list of named templates (older Hugging Face files) has no
        // single default here; such models get plain text unless --chat-format says otherwise.
        guard let template = try withLoadErrors({ try config.object()["chat_template"]?.stringValue }) else { return .plain }
        if !template.contains("<|start_header_id|>") { return .plain }
        return template.contains("Cutting Knowledge Date") ? .llama32 : .llama3
    }

    /// "27 Nov 2026", the way the Llama 3.2 template writes today's date.
    static func today() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "dd MMM yyyy"
        return formatter.string(from: Date())
    }
}

enum ChatFormatChoice: String, CaseIterable, ExpressibleByArgument {
    case plain, llama3, llama32
}
