import ArgumentParser
import Foundation
import HamChecks
import HamCore
import HamVulkan

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check every op of a backend against a reference (Vulkan against the CPU backend, the CPU backend against plain loops).",
        discussion: "Prints one line per check and a summary; exits non-zero if any check fails or the Vulkan validation layer reports anything.")

    @OptionGroup var backendOptions: BackendOptions

    @Flag(help: "Small shapes only (a software Vulkan device).")
    var quick = false

    @Flag(help: "Run with the Khronos validation layer (and synchronization validation) when installed.")
    var validation = false

    @Option(help: "Random seed (default: the time).")
    var seed: UInt64?

    @Flag(name: .customLong("failures-only"), help: "Print only failed checks and the summary.")
    var failuresOnly = false

    func run() throws {
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
                    print("validation: the Khronos validation layer is not installed (apt-get install vulkan-validationlayers); checked without it")
                }
            }
        case .cpu(let cpu):
            label = "\(cpu.name) against the reference backend"
            results = try OpConformance(subject: cpu, reference: ReferenceBackend(), seed: seed).run(quick: quick)
        }
        let elapsed = (ContinuousClock.now - start).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18
        for result in results where !failuresOnly || !result.passed { print(result) }
        let failed = results.filter { !$0.passed }.count
        let worst = results.filter(\.passed).map(\.maxError).max() ?? 0
        print("\(label): \(results.count) checks, \(failed) failed, largest error \(String(format: "%.2e", worst)), "
              + "seed \(seed), \(String(format: "%.1f", seconds)) s")
        if let validationMessages {
            print("validation: \(validationMessages.count) messages")
            for message in validationMessages.prefix(20) { print("  \(message)") }
        }
        if failed > 0 || !(validationMessages ?? []).isEmpty { throw ExitCode.failure }
    }
}
