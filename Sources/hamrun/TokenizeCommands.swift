import ArgumentParser
import Foundation
import HamCore
import HamCPU
import HamConvert
import HamFiles
import HamJSON
import HamLoad
import HamTokenizer

/// `--model DIR|FILE.gguf` or `--tokenizer FILE`, shared by the tokenizer commands.
struct TokenizerLocation: ParsableArguments {
    @Option(name: .customLong("model"),
            help: ArgumentHelp("Model directory (its tokenizer.json is used) or GGUF file (its tokenizer metadata).", valueName: "path"))
    var model: String?

    @Option(name: .customLong("tokenizer"), help: ArgumentHelp("A Hugging Face tokenizer.json file.", valueName: "file"))
    var tokenizer: String?

    /// Checked here rather than in `validate()`, whose errors come with a usage block:
    /// errors are one line.
    func load() throws -> Tokenizer {
        let url: URL
        switch (model, tokenizer) {
        case let (nil, file?):
            url = URL(fileURLWithPath: file)
        case let (path?, nil):
            if InputFile.exists(path) && !InputFile.isDirectory(path) {
                let file = try GGUFFile(path: path)
                guard file.contains(key: TokenizerVocabulary.Key.model) else {
                    throw CLIError("\(path): no tokenizer metadata (tokenizer.ggml.model)")
                }
                return try Tokenizer(vocabulary: TokenizerVocabulary(gguf: file))
            }
            url = URL(fileURLWithPath: path).appendingPathComponent("tokenizer.json")
        case (_?, _?):
            throw CLIError("give --model or --tokenizer, not both")
        case (nil, nil):
            throw CLIError("give --model PATH or --tokenizer FILE")
        }
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw CLIError("\(url.path): no such file")
        }
        return try Tokenizer(contentsOf: url)
    }
}

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids of the text on standard input.",
        discussion: """
            Prints a JSON array of ids, as Hugging Face tokenizers gives them with \
            add_special_tokens=True (so Llama 3 ids start with <|begin_of_text|>), or for a GGUF \
            model as llama.cpp's llama_tokenize gives them with add_special and parse_special \
            (BOS only where tokenizer.ggml.add_bos_token says so). The text is \
            all of standard input, exactly, including any final newline. With --jsonl every \
            input line is a JSON string and every output line the id array of that string.
            """)

    @OptionGroup var location: TokenizerLocation

    @Flag(help: "One JSON string per input line, one id array per output line.")
    var jsonl = false

    func run() throws {
        let tokenizer = try location.load()
        let input = try readStandardInput()
        var out = OutputBuffer()
        if !jsonl {
            guard let text = String(validating: input, as: UTF8.self) else {
                throw CLIError("stdin: not valid UTF-8 (first bad byte at offset \(firstInvalidUTF8(input)))")
            }
            try out.write(jsonArray(tokenizer.encode(text)))
            try out.write("\n")
        } else {
            for (number, line) in jsonLines(input) {
                let text = try parseJSONString(line, where: "stdin line \(number)")
                try out.write(jsonArray(tokenizer.encode(text)))
                try out.write("\n")
            }
        }
        try out.flush()
    }
}

struct DetokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detokenize",
        abstract: "Print the text of the token ids on standard input.",
        discussion: """
            Reads a JSON array of ids and writes their text exactly (no newline is added). \
            With --jsonl every input line is an id array and every output line the JSON \
            string of its text.
            """)

    @OptionGroup var location: TokenizerLocation

    @Flag(help: "One id array per input line, one JSON string per output line.")
    var jsonl = false

    @Flag(help: "Leave out special tokens such as <|begin_of_text|>.")
    var skipSpecialTokens = false

    func run() throws {
        let tokenizer = try location.load()
        let input = try readStandardInput()
        var out = OutputBuffer()
        if !jsonl {
            let ids = try parseIds(input, where: "stdin")
            try out.write(try decode(tokenizer, ids, where: "stdin"))
        } else {
            for (number, line) in jsonLines(input) {
                let ids = try parseIds(line, where: "stdin line \(number)")
                try out.write(JSONText.quoted(try decode(tokenizer, ids, where: "stdin line \(number)")))
                try out.write("\n")
            }
        }
        try out.flush()
    }

    private func decode(_ tokenizer: Tokenizer, _ ids: [Int32], where place: String) throws -> String {
        do {
            return try tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
        } catch {
            throw CLIError("\(place): \(error)")
        }
    }

    /// `[1, 2, 3]`.
    private func parseIds(_ bytes: ArraySlice<UInt8>, where place: String) throws -> [Int32] {
        let expected = "expected a JSON array of token ids"
        let value = try readJSON(bytes, where: place, expected: expected)
        guard value.kind == .array else { throw CLIError("\(place): \(expected), found \(value.shown)") }
        return try value.elements.enumerated().map { k, element in
            guard let n = element.integerValue, let id = Int32(exactly: n) else {
                throw CLIError("\(place): \(expected): element \(k) is \(element.shown)")
            }
            return id
        }
    }

    private func parseIds(_ bytes: [UInt8], where place: String) throws -> [Int32] {
        try parseIds(bytes[...], where: place)
    }
}

// MARK: helpers shared by both commands

/// A failure with a one-line message for stderr (ArgumentParser prints "Error: " + it).
private func readStandardInput() throws -> [UInt8] {
    try StandardStreams.readInput()
}

/// The non-empty-input lines, numbered from 1; a final newline does not start a line.
private func jsonLines(_ input: [UInt8]) -> [(Int, ArraySlice<UInt8>)] {
    var lines = input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
    if lines.last?.isEmpty == true { lines.removeLast() }
    return lines.enumerated().map { ($0.offset + 1, $0.element) }
}

/// A line holding one JSON string literal (whitespace around it allowed).
private func parseJSONString(_ line: ArraySlice<UInt8>, where place: String) throws -> String {
    let expected = "expected a JSON string"
    let value = try readJSON(line, where: place, expected: expected)
    guard let text = value.stringValue else { throw CLIError("\(place): \(expected), found \(value.shown)") }
    return text
}

/// One JSON value from standard input; `place` and `expected` open the error message.
private func readJSON(_ bytes: ArraySlice<UInt8>, where place: String, expected: String) throws -> JSONValue {
    do {
        return try JSONDocument(bytes, source: place).root
    } catch let JSONError.syntax(_, _, column, detail) {
        throw CLIError("\(place): \(expected): \(detail) at column \(column)")
    }
}

private func firstInvalidUTF8(_ bytes: [UInt8]) -> Int {
    var it = bytes.makeIterator()
    var parser = Unicode.UTF8.ForwardParser()
    var offset = 0
    while true {
        switch parser.parseScalar(from: &it) {
        case let .valid(encoded): offset += encoded.count
        case .error: return offset
        case .emptyInput: return offset
        }
    }
}

func jsonArray(_ ids: [Int32]) -> String {
    "[" + ids.map(String.init).joined(separator: ", ") + "]"
}
