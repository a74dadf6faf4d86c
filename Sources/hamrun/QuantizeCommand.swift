import ArgumentParser
import Foundation
import HamCore
import HamCPU
import HamConvert
import HamLoad

struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Write a copy of a model with its matrices in fewer bits (llama.cpp's block types, or bf16/f16).",
        discussion: """
            --type q8_0: every matrix as 8-bit blocks (half the bytes of bf16). q4_k: llama.cpp's \
            Q4_K_M mix (4.5 bits a weight; the output matrix and some v_proj/down_proj in q6_k). \
            q4_0, q4_1, q5_0, q5_1, q5_k, q6_k: that type, the output matrix in q6_k. The HAMburger merger \
            and stop head stay q8_0 under the 4- to 6-bit types. bf16, f16: every float tensor \
            narrowed (a float32 model). Norm gains and biases keep their dtype under the block \
            types; tensors already quantized are copied as they are. See docs/MODEL_FORMAT.md.
            """)

    @Option(help: "Model directory to quantize.")
    var model: String

    @Option(help: "Directory to write (must not exist, or be empty, unless --force).")
    var out: String

    @Option(help: ArgumentHelp("The dtype to write: \(QuantizationPlan.targets.map(\.rawValue).joined(separator: ", ")).", valueName: "type"))
    var type: DType = .q8_0

    @Flag(help: "Replace an existing output directory.")
    var force = false

    func run() throws {
        let clock = ContinuousClock.now
        let s = try Quantizer.quantize(model: model, output: out, to: type, force: force)
        let seconds = (ContinuousClock.now - clock).components
        let counts = s.converted.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }
        try StandardStreams.outLine(String(format: "wrote %@: %@ tensors, %d kept, %.1f MiB -> %.1f MiB, in %.1f s",
                     s.output, counts.isEmpty ? "no" : counts.joined(separator: ", "), s.kept,
                     Double(s.bytesBefore) / 1048576, Double(s.bytesAfter) / 1048576,
                     Double(seconds.seconds) + Double(seconds.attoseconds) * 1e-18))
    }
}
