import Foundation
import HamChecks
import Testing

/// Inputs a hostile or unlucky user gives (docs/RELIABILITY.md): each is one line naming the
/// problem and a non-zero status; nothing hangs (every run here has a time limit) or crashes.
@Suite struct HostileInputTests {
    static let base = HamrunProcess.fixtures.appendingPathComponent("tiny-hamburger-ref/base").path
    static let checkpoint = HamrunProcess.fixtures.appendingPathComponent("tiny-hamburger-ref/hamburger.ckpt").path

    private func folder(_ name: String) throws -> String {
        let path = ScratchDirectory.root + "hostile-\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// One line on stderr starting `hamrun: error: ` and containing `expected`, status `status`.
    private func expectError(_ r: HamrunProcess.Result, _ expected: String, status: Int32 = 1,
                             sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == status, "status \(r.status): \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.hasPrefix("hamrun: error: ") && r.stderr.filter { $0 == "\n" }.count == 1, "\(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.contains(expected), "\(r.stderr)", sourceLocation: sourceLocation)
        #expect(!r.stderr.contains("NSCocoaErrorDomain") && !r.stderr.contains("Error Domain"), "\(r.stderr)", sourceLocation: sourceLocation)
    }

    /// A negative value is the option's value, refused with the real constraint.
    @Test(arguments: [
        (["generate", "--max-tokens", "-1", "--prompt-ids", "1"], "--max-tokens is -1; expected a positive number"),
        (["generate", "--confidence", "-0.5", "--prompt-ids", "1"], "--confidence is -0.5; expected a value in [0, 1]"),
        (["bench", "--runs", "-3"], "--runs is -3; expected a positive number"),
        (["bench", "--prompt-tokens", "-8"], "--prompt-tokens is -8; expected a positive number"),
        (["generate", "--threads", "-2", "--prompt-ids", "1"], "--threads is -2; expected at least 1"),
        (["generate", "--device", "-1", "--prompt-ids", "1"], "--device is -1; expected an index"),
        (["batch", "--parallel", "-2", "--input", "-", "--output", "-"], "--parallel is -2; expected a positive number"),
    ])
    func negativeNumbersSayTheConstraint(arguments: [String], message: String) throws {
        expectError(try HamrunProcess.run(arguments), message, status: 64)
    }

    @Test func aNegativeTopKSaysTheConstraint() throws {
        expectError(try HamrunProcess.run(["generate", "--top-k", "-3", "--prompt-ids", "1"]), "--top-k is -3; expected a number >= 0")
    }

    /// Text and ids that start with a dash are values, not options.
    @Test func valuesThatStartWithADash() throws {
        let ids = try HamrunProcess.run(["generate", "--model", Self.base, "--backend", "cpu", "--prompt-ids", "-5"])
        expectError(ids, "prompt token id -5 is outside the vocabulary")
        let text = try HamrunProcess.run(["generate", "--model", Self.base, "--backend", "cpu", "--prompt", "-- a line", "--max-tokens", "2", "--json"])
        #expect(text.status == 0, "\(text.stderr)")
    }

    /// FIFOs given as inputs are refused at once, by what they are, never waited on.
    @Test func fifosAreRefusedNotWaitedOn() throws {
        let dir = try folder("fifo")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fifo = dir + "/fifo"
        #expect(mkfifo(fifo, 0o644) == 0)
        let model = dir + "/model"
        try FileManager.default.copyItem(atPath: Self.base, toPath: model)
        var cases: [(String, String)] = [
            ("$HAMRUN tokenize --tokenizer \(shellQuoted(fifo)) < /dev/null", "\(fifo): cannot read tokenizer file: is a FIFO (named pipe), not a regular file"),
            ("$HAMRUN convert --checkpoint \(shellQuoted(fifo)) --base \(shellQuoted(Self.base)) --out \(shellQuoted(dir + "/out"))", "\(fifo): cannot read: is a FIFO"),
        ]
        for file in ["config.json", "model.safetensors", "tokenizer.json", "generation_config.json", "tokenizer_config.json"] {
            let broken = dir + "/broken-" + file
            try FileManager.default.copyItem(atPath: model, toPath: broken)
            try? FileManager.default.removeItem(atPath: broken + "/" + file)
            #expect(mkfifo(broken + "/" + file, 0o644) == 0)
            cases.append(("$HAMRUN generate --model \(shellQuoted(broken)) --backend cpu --prompt \"x\" --chat --max-tokens 2", "\(broken)/\(file)"))
        }
        for (command, message) in cases {
            // A hang would be killed by timeout (status 124) and fail here.
            let r = try HamrunProcess.shell("timeout 30 \(command)")
            expectError(r, message)
            #expect(r.stderr.contains("FIFO"), "\(command): \(r.stderr)")
        }
    }

    @Test func aDirectoryAsATokenizerFile() throws {
        let r = try HamrunProcess.run(["tokenize", "--tokenizer", Self.base], stdin: "x")
        expectError(r, "\(Self.base): cannot read tokenizer file: is a directory, not a file")
    }

    /// Valid JSON numbers of the wrong kind name the field and the range.
    @Test(arguments: ["128.5", "1e30", "9223372036854775808"])
    func configNumbersOfTheWrongKind(value: String) throws {
        let dir = try folder("config")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = dir + "/model"
        try FileManager.default.copyItem(atPath: Self.base, toPath: model)
        let config = try String(contentsOfFile: model + "/config.json", encoding: .utf8)
        try config.replacingOccurrences(of: "\"hidden_size\": 128", with: "\"hidden_size\": \(value)")
            .write(toFile: model + "/config.json", atomically: true, encoding: .utf8)
        let r = try HamrunProcess.run(["generate", "--model", model, "--prompt-ids", "1"])
        expectError(r, "\(model)/config.json: field 'hidden_size' is \(value); expected an integer in 1...65536")
    }

    /// A tokenizer_config.json that is there but unreadable is an error, not a silent switch to
    /// the plain chat format.
    @Test func aMalformedTokenizerConfig() throws {
        let dir = try folder("tokconfig")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = dir + "/model"
        try FileManager.default.copyItem(atPath: Self.base, toPath: model)
        try Data("{\"chat_template\": \"<|start_header_id|>".utf8).write(to: URL(fileURLWithPath: model + "/tokenizer_config.json"))
        let chat = try HamrunProcess.run(["chat", "--model", model, "--backend", "cpu"], stdin: "hello\n")
        expectError(chat, "\(model)/tokenizer_config.json: not valid JSON at line 1, column 19: string never closed")
        let generate = try HamrunProcess.run(["generate", "--model", model, "--backend", "cpu", "--chat", "--prompt", "hi"])
        expectError(generate, "tokenizer_config.json: not valid JSON")
    }

    @Test func checkReferenceWithNoCases() throws {
        let dir = try folder("nocases")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("{\"cases\": []}".utf8).write(to: URL(fileURLWithPath: dir + "/expected.json"))
        let r = try HamrunProcess.run(["check", "--reference", dir + "/expected.json", "--model", Self.base, "--backend", "cpu"])
        expectError(r, "\(dir)/expected.json: field 'cases' is an array of 0; expected at least one case")
    }

    @Test func devicesWithADeviceThatDoesNotExist() throws {
        let r = try HamrunProcess.run(["devices", "--device", "99"])
        // Where Vulkan has no device at all, that is the error instead.
        expectError(r, r.stderr.contains("no Vulkan device") ? "no Vulkan device" : "--device 99 does not exist")
    }

    /// A broken VK_ICD_FILENAMES names the variable instead of "out of host memory".
    @Test func aBrokenDriverList() throws {
        let dir = try folder("icd")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("{".utf8).write(to: URL(fileURLWithPath: dir + "/bad.json"))
        for value in [dir + "/bad.json", dir + "/absent.json"] {
            for command in [["devices"], ["generate", "--backend", "vulkan", "--model", Self.base, "--prompt-ids", "1"]] {
                let r = try HamrunProcess.run(command, environment: ["VK_ICD_FILENAMES": value])
                expectError(r, "no usable Vulkan driver in VK_ICD_FILENAMES=\(value)")
            }
        }
    }
}
