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
        case .gguf(let file):
            tokenizer = try Tokenizer(vocabulary: TokenizerVocabulary(gguf: file))
        case nil:
            tokenizer = nil
        }
    }

    func requireTokenizer() throws -> Tokenizer {
        guard let tokenizer else {
            let missing = InputFile.isDirectory(directory.path) ? "no tokenizer.json" : "no tokenizer metadata (tokenizer.ggml.model)"
            throw CLIError("\(directory.path): \(missing), so text prompts cannot be encoded; use --prompt-ids")
        }
        return tokenizer
    }

    /// Plain text, with BOS where the tokenizer adds it (tokenizer.json's post-processor, a
    /// GGUF's `tokenizer.ggml.add_bos_token`).
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

    /// The chat format `--chat-format` names, else the one the model's chat template writes
    /// (HamTokenizer's `ChatTemplate`, which recognises its family as llama.cpp does), else,
    /// with no template, plain text continuation (the embedded model).
    func chatFormatter(_ requested: ChatFormatName?) throws -> ChatFormatter {
        let tokenizer = try requireTokenizer()
        let format: ChatFormat
        switch requested {
        case nil:
            let template = try chatTemplate()
            format = try ChatTemplate.format(template?.text, source: template?.source ?? directory.path,
                                             field: template?.field ?? "chat_template", date: Self.today())
        case .chatml?:
            // The template is read only for its default system message.
            format = ChatTemplate.format(named: .chatml, template: try chatTemplate()?.text, date: Self.today())
        case let name?:
            format = ChatTemplate.format(named: name, template: nil, date: Self.today())
        }
        return try ChatFormatter(tokenizer: tokenizer, format: format)
    }

    /// The chat template: a GGUF's `tokenizer.chat_template`, a directory's tokenizer_config.json
    /// `chat_template`. A tokenizer_config.json that is present but unreadable is an error:
    /// falling back to plain text would chat with an instruct model in the wrong format without
    /// a word.
    private func chatTemplate() throws -> (text: String, source: String, field: String)? {
        if case .gguf(let file) = directory.tokenizer {
            let key = TokenizerVocabulary.Key.chatTemplate
            return try file.string(key).map { ($0, file.path, key) }
        }
        let path = (directory.path as NSString).appendingPathComponent("tokenizer_config.json")
        guard InputFile.exists(path) else { return nil }
        let config = try withLoadErrors { try JSONDocument(readFile(path, limit: jsonFileLimit), source: path).root }
        // A template given as a list of named templates (older Hugging Face files) has no
        // single default here; such models get plain text unless --chat-format says otherwise.
        guard let template = try withLoadErrors({ try config.object()["chat_template"]?.stringValue }) else { return nil }
        return (template, path, "chat_template")
    }

    /// "27 Nov 2026", the way the Llama 3.2 template writes today's date.
    static func today() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "dd MMM yyyy"
        return formatter.string(from: Date())
    }
}

extension ChatFormatName: ExpressibleByArgument {}
