import Foundation
import Testing

/// `hamrun tokenize` / `hamrun detokenize`, run as a user would. `swift test` builds the
/// hamrun executable next to the test bundle.
@Suite struct CommandLineTests {
    static let tokenizerPath = Fixtures.url("llama3-tokenizer/tokenizer.json").path
    /// Loads in milliseconds even in a debug build; used where the ids do not matter.
    static let tinyPath = Fixtures.url("tiny-tokenizer/tokenizer.json").path

    static var hamrun: URL? {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("hamrun")
        let root = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
        let debug = root.appendingPathComponent(".build/debug/hamrun")
        return [beside, debug].first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static func run(_ arguments: [String], input: String) throws -> Result {
        let binary = try #require(hamrun, "the hamrun executable was not built")
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
                      stderr: String(decoding: err, as: UTF8.self))
    }

    @Test func tokenizePrintsIdsWithBOS() throws {
        let r = try Self.run(["tokenize", "--tokenizer", Self.tokenizerPath], input: "Hello, world!")
        #expect(r.status == 0)
        #expect(r.stdout == "[128000, 9906, 11, 1917, 0]\n")
    }

    @Test func tokenizeModelDirectory() throws {
        let dir = Fixtures.url("llama3-tokenizer").path
        let r = try Self.run(["tokenize", "--model", dir], input: "hello world")
        #expect(r.stdout == "[128000, 15339, 1917]\n")
    }

    @Test func tokenizeJSONLines() throws {
        let input = "\"Hello\"\n\"\u{FEFF}x\"\n\"\\ud83d\\ude00 \\u00e9\\n\"\n"
        let r = try Self.run(["tokenize", "--tokenizer", Self.tokenizerPath, "--jsonl"], input: input)
        #expect(r.status == 0)
        #expect(r.stdout == "[128000, 9906]\n[128000, 3305, 87]\n[128000, 76460, 222, 4046, 198]\n")
    }

    @Test func detokenizeBothWays() throws {
        let plain = try Self.run(["detokenize", "--tokenizer", Self.tokenizerPath], input: "[128000, 9906, 11, 1917, 0]")
        #expect(plain.stdout == "<|begin_of_text|>Hello, world!")
        let skip = try Self.run(["detokenize", "--tokenizer", Self.tokenizerPath, "--skip-special-tokens"], input: "[128000, 9906]")
        #expect(skip.stdout == "Hello")
        let lines = try Self.run(["detokenize", "--tokenizer", Self.tokenizerPath, "--jsonl"],
                                 input: "[128000, 9906]\n[40, 2846, 198, 1, 59]\n[]\n")
        #expect(lines.stdout == "\"<|begin_of_text|>Hello\"\n\"I'm\\n\\\"\\\\\"\n\"\"\n")
    }

    @Test(arguments: [
        (["tokenize"], "", "give --model PATH or --tokenizer FILE"),
        (["tokenize", "--tokenizer", "/nonexistent/t.json"], "", "/nonexistent/t.json: no such file"),
        (["tokenize", "--tokenizer", tinyPath, "--jsonl"], "\"ok\"\n42\n", "stdin line 2: expected a JSON string"),
        (["detokenize", "--tokenizer", tinyPath], "[1, 2", "stdin: expected a JSON array of token ids"),
        (["detokenize", "--tokenizer", tinyPath], "[1, 999999]", "stdin: token id 999999 is not in the tokenizer's vocabulary"),
        (["detokenize", "--tokenizer", tinyPath, "--jsonl"], "[1]\n[1.5]\n", "stdin line 2: expected a JSON array of token ids"),
        (["tokenize", "--tokenizer", Fixtures.url("llama3-tokenizer/cases.json").path], "", "missing required field model"),
    ])
    func errorsAreOneLine(arguments: [String], input: String, message: String) throws {
        let r = try Self.run(arguments, input: input)
        #expect(r.status != 0)
        #expect(r.stderr.hasPrefix("hamrun: error: ") && r.stderr.contains(message), "\(r.stderr)")
        #expect(r.stderr.filter { $0 == "\n" }.count == 1, "\(r.stderr)")
    }

    @Test func badUTF8OnStdinIsAnError() throws {
        let binary = try #require(Self.hamrun)
        let process = Process()
        process.executableURL = binary
        process.arguments = ["tokenize", "--tokenizer", Self.tinyPath]
        let stdin = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = Pipe()
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data([0x61, 0x62, 0xFF]))
        try stdin.fileHandleForWriting.close()
        let err = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(err == "hamrun: error: stdin: not valid UTF-8 (first bad byte at offset 2)\n")
    }
}
