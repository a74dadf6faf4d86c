import ArgumentParser
import HamChecks
import HamCore
import HamCPU
import HamConvert
import HamLoad

struct RandomModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "random-model",
        abstract: "Write a model directory with random weights of a known shape (HAMburger modules included), for benchmarks.")

    @Option(help: "llama-3.2-1b (1.24 B parameters, 2.5 GB in bf16), small (0.1 B) or tiny.")
    var shape: RandomModel.Shape = .small

    @Option(help: "Directory to create (must not exist, or be empty, unless --force).")
    var out: String

    @Option(help: "Weight dtype: \(RandomModel.dtypes.map(\.rawValue).joined(separator: ", ")).")
    var dtype: DType = .bf16

    @Flag(help: "Replace --out if it exists; the new model is built beside it and swapped in when complete.")
    var force = false

    @Option(help: "Random seed.")
    var seed: UInt64 = 1

    func validate() throws {
        guard RandomModel.dtypes.contains(dtype) else {
            throw ValidationError("--dtype is \(dtype.rawValue); expected \(RandomModel.dtypes.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        try RandomModel.write(config: shape.config, dtype: dtype, seed: seed, to: out, force: force)
        try StandardStreams.outLine("wrote \(out) (\(shape.rawValue), \(dtype))")
    }
}

extension RandomModel.Shape: ExpressibleByArgument {}
extension DType: ExpressibleByArgument {}
