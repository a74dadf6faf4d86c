import ArgumentParser
import Foundation

/// `hamrun`: run HAMburger and Llama models.
@main
struct Hamrun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hamrun",
        abstract: "Run HAMburger (token-smashing) and Llama models on the CPU or through Vulkan.",
        subcommands: [GenerateCommand.self, BatchCommand.self, BenchCommand.self, ChatCommand.self, ConvertCommand.self, QuantizeCommand.self, TokenizeCommand.self,
                      DetokenizeCommand.self, DevicesCommand.self, CheckCommand.self, RandomModelCommand.self])

    /// Errors print as one line on stderr with a non-zero status; `--help` prints in full.
    static func main() {
        LoggingOptions.installHandler()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            let text = oneLine(message(for: error))
            // A command that already reported (`check`) exits with its code and nothing more.
            if !text.isEmpty { FileHandle.standardError.write(Data("hamrun: error: \(text)\n".utf8)) }
            Foundation.exit(code.rawValue == 0 ? 1 : code.rawValue)
        }
    }
}

/// ArgumentParser lists allowed values one per line; an error here is one line.
func oneLine(_ message: String) -> String {
    let lines = message.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    guard let first = lines.first else { return message }
    let items = lines.dropFirst().map { $0.hasPrefix("- ") ? String($0.dropFirst(2)) : $0 }
    return items.isEmpty ? first : first + " " + items.joined(separator: ", ")
}
