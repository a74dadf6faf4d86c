import Foundation
import HamChecks
import Testing

/// Output that cannot be written (docs/RELIABILITY.md): stdout closed, full, or a pipe whose reader
/// has gone while SIGPIPE is ignored. Every command ends with one line on stderr and a non-zero
/// status (nothing on a broken pipe, status 141), never a trap or an exit status of 0.
@Suite struct OutputFailureTests {
    static let base = HamrunProcess.fixtures.appendingPathComponent("tiny-hamburger-ref/base").path
    static let tokenizer = base + "/tokenizer.json"

    /// Each command with its stdin, as a bash fragment.
    static let commands: [(name: String, command: String)] = [
        ("generate", "$HAMRUN generate --model \(shellQuoted(base)) --backend cpu --prompt-ids 1019,418 --max-tokens 4"),
        ("generate --json", "$HAMRUN generate --model \(shellQuoted(base)) --backend cpu --prompt-ids 1019,418 --max-tokens 4 --json"),
        ("chat", "echo hello | $HAMRUN chat --model \(shellQuoted(base)) --backend cpu --max-tokens 4"),
        ("tokenize", "echo hello | $HAMRUN tokenize --tokenizer \(shellQuoted(tokenizer))"),
        ("tokenize --jsonl", "echo '\"hello\"' | $HAMRUN tokenize --tokenizer \(shellQuoted(tokenizer)) --jsonl"),
        ("detokenize", "echo '[400, 579]' | $HAMRUN detokenize --tokenizer \(shellQuoted(tokenizer))"),
        ("bench", "$HAMRUN bench --model \(shellQuoted(base)) --backend cpu --prompt-tokens 2 --gen-tokens 2 --runs 1"),
        ("bench --json", "$HAMRUN bench --model \(shellQuoted(base)) --backend cpu --prompt-tokens 2 --gen-tokens 2 --runs 1 --json"),
        ("--help", "$HAMRUN --help"),
        ("generate --help", "$HAMRUN generate --help"),
        ("check", "$HAMRUN check --backend cpu --quick"),
        ("devices", "$HAMRUN devices"),
    ]

    private func expectNoTrap(_ r: HamrunProcess.Result, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for sign in ["Fatal error", "Backtrace", "Illegal instruction", "Segmentation", "💣"] {
            #expect(!r.stderr.contains(sign), "\(label): \(r.stderr)", sourceLocation: sourceLocation)
        }
        #expect(r.status < 128 || r.status == 141, "\(label): killed by a signal (\(r.status))", sourceLocation: sourceLocation)
    }

    @Test(arguments: commands)
    func closedStandardOutput(name: String, command: String) throws {
        let r = try HamrunProcess.shell("\(command) >&-")
        expectNoTrap(r, name)
        #expect(r.status == 1, "\(name): \(r.status) \(r.stderr)")
        #expect(r.stderr.hasSuffix("hamrun: error: cannot write to standard output: it is closed\n"), "\(name): \(r.stderr)")
    }

    @Test(arguments: commands)
    func fullStandardOutput(name: String, command: String) throws {
        let r = try HamrunProcess.shell("\(command) > /dev/full")
        expectNoTrap(r, name)
        #expect(r.status == 1, "\(name): \(r.status) \(r.stderr)")
        #expect(r.stderr.hasSuffix("hamrun: error: cannot write to standard output: No space left on device\n"), "\(name): \(r.stderr)")
    }

    /// `hamrun ... | head` under a parent that ignores SIGPIPE (Python's subprocess, some CI
    /// runners): the write gets EPIPE. The reader here is gone before hamrun writes.
    @Test(arguments: commands)
    func brokenPipeWithSIGPIPEIgnored(name: String, command: String) throws {
        let r = try HamrunProcess.shell("trap '' PIPE; { \(command); echo \"status $?\" >&2; } | true")
        expectNoTrap(r, name)
        #expect(r.stderr.hasSuffix("status 141\n"), "\(name): \(r.stderr)")
        #expect(!r.stderr.contains("error"), "\(name): \(r.stderr)")
    }

    /// stderr closed or full: the messages are lost, the status says so.
    @Test func standardErrorThatCannotBeWritten() throws {
        let generate = Self.commands[0].command
        for redirect in ["2>&-", "2>/dev/full"] {
            let r = try HamrunProcess.shell("\(generate) \(redirect); echo \"status $?\"")
            #expect(r.stdout.hasSuffix("status 1\n"), "\(redirect): \(r.stdout)")
            // The generated text itself was written.
            #expect(r.stdout.count > "status 1\n".count)
        }
        let bad = try HamrunProcess.shell("$HAMRUN generate --model /nonexistent --prompt-ids 1 2>/dev/full; echo \"status $?\"")
        #expect(bad.stdout == "status 1\n")
    }

    /// With stdout closed, the next file hamrun opens must not become "stdout" (its output
    /// would land in that file).
    @Test func aClosedStandardOutputIsNotReusedForFiles() throws {
        let out = ScratchDirectory.root + "fd-reuse-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try HamrunProcess.shell("$HAMRUN random-model --shape tiny --out \(shellQuoted(out)) >&-")
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.hasSuffix("cannot write to standard output: it is closed\n"), "\(r.stderr)")
        let load = try HamrunProcess.run(["generate", "--model", out, "--backend", "cpu", "--prompt-ids", "1,2", "--max-tokens", "2", "--json"])
        #expect(load.status == 0, "\(load.stderr)")
    }

    @Test func closedStandardInput() throws {
        let r = try HamrunProcess.shell("$HAMRUN tokenize --tokenizer \(shellQuoted(Self.tokenizer)) <&-")
        expectNoTrap(r, "tokenize <&-")
        #expect(r.status == 1 && r.stderr.hasPrefix("hamrun: error: cannot read standard input"), "\(r.stderr)")
    }
}
