import ArgumentParser
import Foundation
import HamCore
import HamCPU
import HamConvert
import HamLoad
import HamTokenizer

/// `--model DIR` or `--tokenizer FILE`, shared by the tokenizer commands.
struct TokenizerLocation: ParsableArguments {
    @Option(name: .customLong("model"), help: ArgumentHelp("Model directory; its tokenizer.json is used.", valueName: "dir"))
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
        case let (dir?, nil):
            url = URL(fileURLWithPath: dir).appendingPathComponent("tokenizer.json")
        case (_?, _?):
            throw CLIError("give --model or --tokenizer, not both")
        case (nil, nil):
            throw CLIError("give --model DIR or --tokenizer FILE")
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
            add_special_tokens=True (so Llama 3 ids start with <|begin_of_text|>). The text is \
            all of standard input, exactly, including any final newline. With --jsonl every \
            input line is a JSON string and every output line the id array of that string.
            """)

    @OptionGroup var location: TokenizerLocation

    @Flag(help: "One JSON string per input line, one id array per output line.")
    var jsonl = false

    func run() throws {
        let tokenizer = try location.load()
        let input = readStandardInput()
        var out = OutputBuffer()
        if !jsonl {
            guard let text = String(validating: input, as: UTF8.self) else {
                throw CLIError("stdin: not valid UTF-8 (first bad byte at offset \(firstInvalidUTF8(input)))")
            }
            out.write(jsonArray(tokenizer.encode(text)))
            out.write("\n")
        } else {
            for (number, line) in jsonLines(input) {
                let text = try parseJSONString(line, where: "stdin line \(number)")
                out.write(jsonArray(tokenizer.encode(text)))
                out.write("\n")
            }
        }
        out.flush()
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
        let input = readStandardInput()
        var out = OutputBuffer()
        if !jsonl {
            let ids = try parseIds(input, where: "stdin")
            out.write(try decode(tokenizer, ids, where: "stdin"))
        } else {
            for (number, line) in jsonLines(input) {
                let ids = try parseIds(line, where: "stdin line \(number)")
                out.write(jsonQuoted(try decode(tokenizer, ids, where: "stdin line \(number)")))
                out.write("\n")
            }
        }
        out.flush()
    }

    private func decode(_ tokenizer: Tokenizer, _ ids: [Int32], where place: String) throws -> String {
        do {
            return try tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
        } catch {
            throw CLIError("\(place): \(error)")
        }
    }

    /// `[1, 2, 3]`: parsed by hand, because JSONSerialization hands numbers back as
    /// NSNumber, where 1 and true cannot be told apart reliably on every platform.
    private func parseIds(_ bytes: ArraySlice<UInt8>, where place: String) throws -> [Int32] {
        var i = bytes.startIndex
        func skipSpace() {
            while i < bytes.endIndex, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
        }
        func fail(_ what: String) -> CLIError {
            let near = String(decoding: bytes[i...].prefix(20), as: UTF8.self)
            return CLIError("\(place): expected a JSON array of token ids: \(what) at byte \(i - bytes.startIndex) (\(String(reflecting: near)))")
        }
        skipSpace()
        guard i < bytes.endIndex, bytes[i] == UInt8(ascii: "[") else { throw fail("no '['") }
        i += 1
        var ids: [Int32] = []
        skipSpace()
        if i < bytes.endIndex && bytes[i] == UInt8(ascii: "]") {
            i += 1
        } else {
            while true {
                skipSpace()
                let start = i
                if i < bytes.endIndex && bytes[i] == UInt8(ascii: "-") { i += 1 }
                while i < bytes.endIndex && bytes[i] >= UInt8(ascii: "0") && bytes[i] <= UInt8(ascii: "9") { i += 1 }
                let digits = String(decoding: bytes[start..<i], as: UTF8.self)
                guard let id = Int32(digits) else {
                    i = start
                    throw fail(digits.isEmpty ? "not a number" : "\(digits) is not a token id")
                }
                if i < bytes.endIndex && [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[i]) {
                    i = start
                    throw fail("not an integer")
                }
                ids.append(id)
                skipSpace()
                guard i < bytes.endIndex else { throw fail("unexpected end") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; break }
                throw fail("expected ',' or ']'")
            }
        }
        skipSpace()
        guard i == bytes.endIndex else { throw fail("trailing data") }
        return ids
    }

    private func parseIds(_ bytes: [UInt8], where place: String) throws -> [Int32] {
        try parseIds(bytes[...], where: place)
    }
}

// MARK: helpers shared by both commands

/// A failure with a one-line message for stderr (ArgumentParser prints "Error: " + it).
private func readStandardInput() -> [UInt8] {
    [UInt8](FileHandle.standardInput.readDataToEndOfFile())
}

/// The non-empty-input lines, numbered from 1; a final newline does not start a line.
private func jsonLines(_ input: [UInt8]) -> [(Int, ArraySlice<UInt8>)] {
    var lines = input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
    if lines.last?.isEmpty == true { lines.removeLast() }
    return lines.enumerated().map { ($0.offset + 1, $0.element) }
}

/// A line holding one JSON string literal (whitespace around it allowed).
///
/// Parsed by hand: Foundation's JSONSerialization on Linux drops a U+FEFF that starts a
/// string, which would change what gets tokenized.
private func parseJSONString(_ line: ArraySlice<UInt8>, where place: String) throws -> String {
    var i = line.startIndex
    let end = line.endIndex
    func fail(_ what: String) -> CLIError {
        let shown = String(decoding: line.prefix(40), as: UTF8.self)
        return CLIError("\(place): expected a JSON string: \(what) at byte \(i - line.startIndex) of \(String(reflecting: shown))")
    }
    func skipSpace() {
        while i < end, [0x20, 0x09, 0x0D, 0x0A].contains(line[i]) { i += 1 }
    }
    func hex4() throws -> UInt32 {
        guard end - i >= 4 else { throw fail("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let d = Character(Unicode.Scalar(line[i])).hexDigitValue else { throw fail("bad \\u escape") }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }
    skipSpace()
    guard i < end, line[i] == UInt8(ascii: "\"") else { throw fail("no opening quote") }
    i += 1
    var bytes: [UInt8] = []
    var closed = false
    while i < end {
        let b = line[i]
        if b == UInt8(ascii: "\"") {
            closed = true
            i += 1
            break
        }
        if b < 0x20 { throw fail("unescaped control character") }
        if b != UInt8(ascii: "\\") {
            bytes.append(b)
            i += 1
            continue
        }
        i += 1
        guard i < end else { throw fail("unfinished escape") }
        let e = line[i]
        i += 1
        switch e {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): bytes.append(e)
        case UInt8(ascii: "b"): bytes.append(0x08)
        case UInt8(ascii: "f"): bytes.append(0x0C)
        case UInt8(ascii: "n"): bytes.append(0x0A)
        case UInt8(ascii: "r"): bytes.append(0x0D)
        case UInt8(ascii: "t"): bytes.append(0x09)
        case UInt8(ascii: "u"):
            var v = try hex4()
            if (0xD800..<0xDC00).contains(v) {
                guard end - i >= 6, line[i] == UInt8(ascii: "\\"), line[i + 1] == UInt8(ascii: "u") else {
                    throw fail("lone surrogate")
                }
                i += 2
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw fail("lone surrogate") }
                v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let scalar = Unicode.Scalar(v) else { throw fail("lone surrogate") }
            bytes.append(contentsOf: String(scalar).utf8)
        default:
            throw fail("bad escape")
        }
    }
    guard closed else { throw fail("no closing quote") }
    skipSpace()
    guard i == end else { throw fail("trailing data") }
    guard let text = String(validating: bytes, as: UTF8.self) else { throw fail("invalid UTF-8") }
    return text
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


/// Collects output and writes it in large blocks; printing line by line is slow for
/// the hundred-thousand-line files the comparison scripts send.
struct OutputBuffer {
    private var bytes: [UInt8] = []

    mutating func write(_ s: String) {
        bytes.append(contentsOf: s.utf8)
        if bytes.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        if bytes.isEmpty { return }
        FileHandle.standardOutput.write(Data(bytes))
        bytes.removeAll(keepingCapacity: true)
    }
}
