import ArgumentParser
import Foundation
import HamCore
import HamCPU
import HamConvert
import HamLoad

/// `hamrun convert`: the HAMburger authors' Lightning checkpoint plus its base model directory
/// into a hamrun model directory, without Python.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a HAMburger PyTorch Lightning checkpoint into a hamrun model directory.",
        discussion: """
            Reads the checkpoint's state_dict (no Python is run and no code in the checkpoint is \
            executed), takes config.json and the tokenizer files from the base model directory, \
            and writes model.safetensors and config.json (with a "hamburger" object) into --out. \
            Tensors keep their stored dtypes unless --dtype is given. See docs/CONVERT.md.
            """)

    @Option(name: .customLong("checkpoint"), help: ArgumentHelp("The Lightning checkpoint written by torch.save.", valueName: "file.ckpt"))
    var checkpoint: String

    @Option(name: .customLong("base"), help: ArgumentHelp("The base model's Hugging Face directory (config.json, tokenizer.json, ...).", valueName: "dir"))
    var base: String

    @Option(name: .customLong("out"), help: ArgumentHelp("The model directory to create.", valueName: "dir"))
    var out: String

    @Option(name: .customLong("dtype"), help: ArgumentHelp("Store every tensor as f32, f16 or bf16 (default: as stored; a DeepSpeed-consolidated checkpoint holds float32).", valueName: "dtype"))
    var dtype: DType?

    @Flag(name: .customLong("force"), help: "Replace --out if it exists and is not empty.")
    var force = false

    func run() throws {
        let start = ContinuousClock.now
        let summary: CheckpointConverter.Summary
        do {
            summary = try CheckpointConverter.convert(checkpoint: checkpoint, base: base, output: out, dtype: dtype, force: force)
        } catch let error as LoadError {
            throw ConvertFailure(message: error.description)
        } catch let error as ConvertError {
            throw ConvertFailure(message: error.description)
        }
        let seconds = (ContinuousClock.now - start).components
        let elapsed = Double(seconds.seconds) + Double(seconds.attoseconds) / 1e18
        let megabytes = Double(summary.byteCount) / 1_048_576
        let h = summary.hamburger
        try StandardStreams.outLine("""
            wrote \(summary.output): \(summary.tensorCount) tensors, \(String(format: "%.1f", megabytes)) MiB, \
            max_steps \(h.maxSteps), \(h.numMicroLayers) micro layers, in \(String(format: "%.2f", elapsed)) s
            """)
    }
}

/// ArgumentParser prints a thrown error as `Error: <description>` and exits with status 1; this
/// keeps that line the input's own one-line message.
struct ConvertFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
