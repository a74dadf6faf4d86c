import ArgumentParser

// Temporary root command so that the tokenizer commands can be run and tested; the
// CLI's owner replaces this file with the real root, which lists the same subcommands.
struct HamrunTokenizerRoot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hamrun",
        subcommands: [TokenizeCommand.self, DetokenizeCommand.self])
}

HamrunTokenizerRoot.main()
