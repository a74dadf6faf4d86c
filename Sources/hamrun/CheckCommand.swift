import ArgumentParser
import Foundation
import HamChecks
import HamCore
import HamCPU
import HamConvert
import HamLoad
import HamVulkan

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check every op of a backend against a reference (Vulkan against the CPU backend, the CPU backend against plain loops), or reproduce reference generations.",
        discussion: """
            Prints one line per check and a summary; exits non-zero if any check fails or the Vulkan validation layer reports anything.
            With --reference FILE --model DIR it instead runs every case of FILE (the shared fixtures' expected.json schema) on the \
            chosen backend and compares tokens, step boundaries, logits and stop probabilities.
            """)

    @OptionGroup var backendOptions: BackendOptions

    @Flag(help: "Small shapes only (a software Vulkan device).")
    var quick = false

    @Flag(help: "Run with the Khronos validation layer (and synchronization validation) when installed.")
    var validation = false

    @Option(help: "Random seed (default: the time).")
    var seed: UInt64?

    @Flag(name: .customLong("failures-only"), help: "Print only failed checks and the summary.")
    var failuresOnly = false

    @Option(help: "Reference generations to reproduce (expected.json of the shared fixtures' schema).")
    var reference: String?

    @Option(help: "With --reference: the model directory the reference was made with.")
    var model: String?

    func validate() throws {
        if (reference == nil) != (model == nil) { throw ValidationError("--reference and --model go together") }
    }

    func run() throws {
        if let reference, let model {
            try checkReference(reference, model: model)
            return
        }
        let seed = self.seed ?? UInt64(Date().timeIntervalSince1970 * 1000)
        let start = ContinuousClock.now
        let results: [OpCheckResult]
        let label: String
        var validationMessages: [String]?
        switch try backendOptions.resolve(validation: validation) {
        case .vulkan(let vulkan):
            label = "\(vulkan.name) against \(backendOptions.cpu.name)"
            results = try OpConformance(subject: vulkan, reference: backendOptions.cpu, seed: seed).run(quick: quick)
            if validation {
                validationMessages = vulkan.validationEnabled ? vulkan.validationLog.messages : nil
                if !vulkan.validationEnabled {
                    try StandardStreams.outLine("validation: the Khronos validation layer is not installed (apt-get install vulkan-validationlayers); checked without it")
                }
            }
        case .cpu(let cpu):
            label = "\(cpu.name) against the reference backend"
            results = try OpConformance(subject: cpu, reference: ReferenceBackend(), seed: seed).run(quick: quick)
        }
        let elapsed = (ContinuousClock.now - start).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18
        for result in results where !failuresOnly || !result.passed { try StandardStreams.outLine("\(result)") }
        let failed = results.filter { !$0.passed }.count
        let worst = results.filter(\.passed).map(\.maxError).max() ?? 0
        try StandardStreams.outLine("\(label): \(results.count) checks, \(failed) failed, largest error \(String(format: "%.2e", worst)), "
              + "seed \(seed), \(String(format: "%.1f", seconds)) s")
        if let validationMessages {
            try StandardStreams.outLine("validation: \(validationMessages.count) messages")
            for message in validationMessages.prefix(20) { try StandardStreams.outLine("  \(message)") }
        }
        if failed > 0 || !(validationMessages ?? []).isEmpty { throw ExitCode.failure }
    }

    /// Every case of a reference file on the chosen backend, one line each.
    private func checkReference(_ path: String, model: String) throws {
        let cases = try ReferenceCases.load(path: path).cases
        let directory = try ModelFiles(path: model)
        let slots = cases.map { $0.prompt_ids.count + $0.maxTokens }.max() ?? 1
        let perSlot = EngineOptions.kvBytesPerSlot(directory.config, dtype: .f32)
        // The reference computes in float32: so does the KV cache here.
        let options = EngineOptions(maxSequences: 1, kvBudgetBytes: (slots + 16) * perSlot)
        func engine<B: Backend>(_ backend: B) throws -> InferenceEngine {
            try LoadedModel(config: directory.config, source: directory.weights, backend: backend,
                            hamburger: directory.isHAMburger).engine(options)
        }
        let backend = try backendOptions.resolve(validation: validation)
        let runner: InferenceEngine
        switch backend {
        case .cpu(let cpu): runner = try engine(cpu)
        case .vulkan(let vulkan): runner = try engine(vulkan)
        }
        let backendName = runner.backendName
        var failed = 0
        for (index, c) in cases.enumerated() {
            let differences = try ReferenceCases.differences(c, engine: runner)
            if differences.isEmpty {
                if !failuresOnly { try StandardStreams.outLine("ok   case \(index) \(c.label)") }
            } else {
                failed += 1
                try StandardStreams.outLine("FAIL case \(index) \(c.label): \(differences.count) differences; first: \(differences[0])")
            }
        }
        try StandardStreams.outLine("\(path) on \(backendName): \(cases.count) cases, \(failed) failed")
        if case .vulkan(let vulkan) = backend, validation, !vulkan.validationLog.messages.isEmpty {
            try StandardStreams.outLine("validation: \(vulkan.validationLog.messages.count) messages")
            throw ExitCode.failure
        }
        if failed > 0 { throw ExitCode.failure }
    }
}
