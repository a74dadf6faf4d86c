import ArgumentParser
import Foundation
import HamCore
import HamCPU
import HamConvert
import HamLoad

/// Where the model comes from and what runs it: shared by generate, chat and bench.
struct ModelOptions: ParsableArguments {
    @Option(help: "Model directory (config.json, model.safetensors, tokenizer.json) or GGUF file. Default: the model embedded in the repository.")
    var model: String?

    @OptionGroup var backendOptions: BackendOptions
    @OptionGroup var logging: LoggingOptions

    /// The embedded model: `Models/shakespeare-hamburger` of the repository this binary was
    /// built from, or `$HAMRUN_MODEL`.
    static var embeddedModelPath: String {
        if let path = ProcessInfo.processInfo.environment["HAMRUN_MODEL"], !path.isEmpty { return path }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Models/shakespeare-hamburger").path
    }

    func openModel() throws -> ModelFiles {
        logging.bootstrap()
        guard let path = model else {
            let embedded = Self.embeddedModelPath
            guard FileManager.default.fileExists(atPath: embedded) else {
                throw CLIError("no --model given and the embedded model is missing at \(embedded)")
            }
            return try ModelFiles(path: embedded)
        }
        return try ModelFiles(path: path)
    }

    /// An engine over `directory`'s weights on the chosen backend; the HAMburger modules are
    /// loaded when `hamburger` says so.
    func makeEngine(_ directory: ModelFiles, hamburger: Bool, options: EngineOptions) throws -> InferenceEngine {
        func engine<B: Backend>(_ backend: B) throws -> InferenceEngine {
            try LoadedModel(config: directory.config, source: directory.weights, backend: backend, hamburger: hamburger)
                .engine(options)
        }
        switch try backendOptions.resolve() {
        case .cpu(let cpu): return try engine(cpu)
        case .vulkan(let vulkan): return try engine(vulkan)
        }
    }
}

extension GenerationMode: ExpressibleByArgument {}

/// A one-line error for the command line.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The mode to run: the one asked for, else HAMburger when the model has its modules.
func resolveMode(_ asked: GenerationMode?, _ directory: ModelFiles) throws -> GenerationMode {
    let mode = asked ?? (directory.isHAMburger ? .hamburger : .base)
    if mode == .hamburger && !directory.isHAMburger {
        throw GenerationError.notHAMburger(path: directory.path)
    }
    return mode
}

/// Parses `--prompt-ids 1,2,3`.
func parseIds(_ text: String, flag: String) throws -> [Int32] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    return try parts.map { part in
        guard let value = Int32(part) else {
            throw ValidationError("\(flag): '\(part)' is not a token id; expected comma-separated integers like 1,2,3")
        }
        return value
    }
}
