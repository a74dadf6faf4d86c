import ArgumentParser
import Foundation
import HamCore
import HamCPU
import HamConvert
import HamLoad

struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Write a copy of a model with its matrices as 8-bit blocks (q8_0: half the bytes of bf16).")

    @Option(help: "Model directory to quantize.")
    var model: String

    @Option(help: "Directory to write (must not exist, or be empty, unless --force).")
    var out: String

    @Option(help: "q8_0 (llama.cpp's Q8_0 blocks: 32 signed bytes and one f16 scale).")
    var type: DType = .q8_0

    @Flag(help: "Replace an existing output directory.")
    var force = false

    func run() throws {
        let clock = ContinuousClock.now
        let s = try Quantizer.quantize(model: model, output: out, to: type, force: force)
        let seconds = (ContinuousClock.now - clock).components
        try StandardStreams.outLine(String(format: "wrote %@: %d matrices as %@, %d tensors kept, %.1f MiB -> %.1f MiB, in %.1f s",
                     s.output, s.quantized, type.rawValue, s.kept, Double(s.bytesBefore) / 1048576, Double(s.bytesAfter) / 1048576,
                     Double(seconds.seconds) + Double(seconds.attoseconds) * 1e-18))
    }
}
