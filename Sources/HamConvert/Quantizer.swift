import Foundation
import HamCore
import HamFiles
import HamLoad

/// `hamrun quantize`: a copy of a model directory with its matrices in fewer bits, which decode
/// reads once per token: llama.cpp's block types (q8_0: half the bytes of bf16; q4_k: 28 %), or
/// a float32 model narrowed to bf16 or f16. Which tensor gets which type is `QuantizationPlan`.
/// The other files are copied unchanged; the result is checked by loading it before it appears.
public enum Quantizer {
    public struct Summary: Sendable {
        public var output: String
        /// Tensors written in a new dtype, per dtype.
        public var converted: [DType: Int]
        public var kept: Int
        public var bytesBefore: Int
        public var bytesAfter: Int

        public var quantized: Int { converted.values.reduce(0, +) }
    }

    public static func quantize(model: String, output: String, to target: DType = .q8_0, force: Bool = false) throws -> Summary {
        try OutputDirectory.check(output, force: force)
        let source = try ModelFiles(directory: model)
        guard let plan = QuantizationPlan(target: target, config: source.config) else {
            throw LoadError.invalidField(path: model, field: "--type", detail: "is \(target.rawValue); expected one of \(QuantizationPlan.targets.map(\.rawValue).joined(separator: ", "))")
        }
        let layout = ModelSchema(config: source.config).all
        // Read every tensor first: a missing or misshapen one fails before anything is written.
        let tensors = try layout.map { entry in (name: entry.name, tensor: try source.weights.tensor(entry.name, shape: entry.shape)) }
        let weightsPath = source.weights.sourcePath
        let planned = tensors.map { entry -> SafeTensorsWriter.PendingTensor in
            let dtype = plan.dtype(for: entry.name, tensor: entry.tensor)
            return SafeTensorsWriter.PendingTensor(name: entry.name, dtype: dtype, shape: entry.tensor.shape) {
                guard dtype != entry.tensor.dtype else { return entry.tensor }
                let converted = entry.tensor.converted(to: dtype)
                if dtype == .f16, let value = firstOverflow(entry.tensor, converted) {
                    throw LoadError.invalidField(path: weightsPath, field: entry.name,
                                                 detail: "holds \(value), beyond f16's range (±65504); expected values f16 can hold (--type bf16 keeps f32's range)")
                }
                return converted
            }
        }
        // Wider elements first, blocks last: every tensor then starts aligned to its element size.
        func rank(_ dtype: DType) -> Int { dtype.isQuantized ? 0 : dtype.blockBytes }
        let ordered = planned.sorted { rank($0.dtype) > rank($1.dtype) }

        try OutputDirectory.build(output, force: force) { staging in
            try SafeTensorsWriter.write(streaming: ordered, to: filePath("model.safetensors", in: staging))
            // Everything but the weights (config, tokenizer, generation config, model card).
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: model)
            } catch {
                throw LoadError.unreadable(path: model, reason: "cannot list the directory's files")
            }
            for name in names
            where !name.hasSuffix(".safetensors") && name != "model.safetensors.index.json" && !InputFile.isDirectory(filePath(name, in: model)) {
                try OutputFile.copy(filePath(name, in: model), to: filePath(name, in: staging))
            }
            _ = try ModelFiles(directory: staging)
        }
        var converted: [DType: Int] = [:]
        for (entry, pending) in zip(tensors, planned) where pending.dtype != entry.tensor.dtype { converted[pending.dtype, default: 0] += 1 }
        return Summary(output: output, converted: converted,
                       kept: zip(tensors, planned).filter { $0.1.dtype == $0.0.tensor.dtype }.count,
                       bytesBefore: tensors.reduce(0) { $0 + $1.tensor.byteCount },
                       bytesAfter: planned.reduce(0) { $0 + $1.dtype.bytes($1.shape.reduce(1, *)) })
    }

    /// The first finite value of `source` that became infinite in `narrowed`.
    static func firstOverflow(_ source: HostTensor, _ narrowed: HostTensor) -> Float? {
        let before = source.floats(), after = narrowed.floats()
        for (a, b) in zip(before, after) where a.isFinite && !b.isFinite { return a }
        return nil
    }
}
