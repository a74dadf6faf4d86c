import ArgumentParser
import Foundation

/// `hamrun`: run HAMburger and Llama models.
@main
struct Hamrun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hamrun",
        abstract: "Run HAMburger (token-smashing) and Llama models on the CPU or through Vulkan.",
        subcommands: [GenerateCommand.self, BatchCommand.self, ServeCommand.self, BenchCommand.self, ChatCommand.self, ConvertCommand.self, QuantizeCommand.self, TokenizeCommand.self,
                      DetokenizeCommand.self, DevicesCommand.self, CheckCommand.self, RandomModelCommand.self])

    /// Errors print as one line on stderr with a non-zero status; `--help` prints in full.
    /// Every write is checked (`StandardStreams`): output that could not be written is never
    /// an exit status of 0.
    static func main() {
        StandardStreams.guardClosedDescriptors()
        LoggingOptions.installHandler()
        do {
            var command = try parseAsRoot(negativeNumbersAsValues(Array(CommandLine.arguments.dropFirst())))
            try command.run()
        } catch let error as OutputError {
            StandardStreams.exit(after: error)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                do {
                    try StandardStreams.outLine(fullMessage(for: error))
                } catch let error as OutputError {
                    StandardStreams.exit(after: error)
                } catch {}
                Foundation.exit(StandardStreams.standardErrorFailed ? 1 : 0)
            }
            let text = oneLine(message(for: error))
            // A command that already reported (`check`) exits with its code and nothing more.
            if !text.isEmpty { StandardStreams.err("hamrun: error: \(text)\n") }
            Foundation.exit(code.rawValue == 0 ? 1 : code.rawValue)
        }
        if StandardStreams.standardErrorFailed { Foundation.exit(1) }
    }
}

/// ArgumentParser lists allowed values one per line; an error here is one line.
func oneLine(_ message: String) -> String {
    let lines = message.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    guard let first = lines.first else { return message }
    let items = lines.dropFirst().map { $0.hasPrefix("- ") ? String($0.dropFirst(2)) : $0 }
    return items.isEmpty ? first : first + " " + items.joined(separator: ", ")
}

/// `--max-tokens -1` as `--max-tokens=-1`: ArgumentParser reads a word starting with a dash as
/// the next option and says "Missing value for '--max-tokens'"; joined, the value reaches the
/// option and is refused with its real constraint ("--max-tokens is -1; expected a positive
/// number"). hamrun has no arguments without an option name, so a negative number after an
/// option is always that option's value.
func negativeNumbersAsValues(_ arguments: [String]) -> [String] {
    var out: [String] = []
    var i = 0
    while i < arguments.count {
        let word = arguments[i]
        if word.hasPrefix("--"), !word.contains("="), i + 1 < arguments.count, looksNegative(arguments[i + 1]) {
            out.append(word + "=" + arguments[i + 1])
            i += 2
        } else {
            out.append(word)
            i += 1
        }
    }
    return out
}

private func looksNegative(_ word: String) -> Bool {
    let rest = word.utf8.dropFirst()
    guard word.hasPrefix("-"), let first = rest.first else { return false }
    return (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) || first == UInt8(ascii: ".")
}
