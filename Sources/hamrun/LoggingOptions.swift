import ArgumentParser
import Foundation
import Logging

/// `--log-level`: what the runtime tells on stderr (model loading, backend, KV cache at info
/// and debug; every macro and micro step at trace).
struct LoggingOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning (default), error or critical.")
    var logLevel: LogLevelChoice = .warning

    /// Sets the level of the loggers made from now on (the runtime makes its logger at first use).
    func bootstrap() {
        LoggingOptions.level = logLevel.level
    }

    nonisolated(unsafe) static var level: Logger.Level = .warning

    /// Every log line goes to stderr, so stdout stays the command's output (JSON, text, ids).
    static func installHandler() {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = LoggingOptions.level
            return handler
        }
    }
}

enum LogLevelChoice: String, ExpressibleByArgument, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
    var level: Logger.Level { Logger.Level(rawValue: rawValue) ?? .warning }
}
