import Foundation
import HamCore
import HamFiles
import HamLoad

/// `hamrun quantize`: a model directory with its matrices stored as q8_0 blocks (half the bytes
/// of bf16, so decode, which streams every weight once per token, reads half as much). Norm
/// gains, biases, the merger's step positions and any matrix whose rows are not whole 32-element
/// blocks keep their dtype (kernels read q8_0 in products and embedding lookups only). The other files are copied unchanged; the result is checked by
/// loading it before it appears.
public enum Quantizer {
    public struct Summary: Sendable {
        public var output: String
        public var quantized: Int
        public var kept: Int
        public var bytesBefore: Int
        public var bytesAfter: Int
    }

    public static func quantize(model: String, output: String, to target: DType = .q8_0, force: Bool = false) throws -> Summary {
        guard target == .q8_0 else {
            throw LoadError.invalidField(path: model, field: "--type", detail: "is \(target.rawValue); expected q8_0")
        }
        try OutputDirectory.check(output, force: force)
        let source = try ModelFiles(directory: model)
        let layout = ModelSchema(config: source.config).all
        // Read every tensor first: a missing or misshapen one fails before anything is written.
        let tensors = try layout.map { entry in (name: entry.name, tensor: try source.weights.tensor(entry.name, shape: entry.shape)) }
        let planned = tensors.map { entry -> SafeTensorsWriter.PendingTensor in
            // Matrices of linear layers and the embedding; the merger's step positions are added to
            // embeddings, not multiplied, and stay as they are.
            let quantize = entry.name.hasSuffix(".weight") && entry.tensor.canStore(as: .q8_0) && entry.tensor.dtype != .q8_0
            let dtype = quantize ? DType.q8_0 : entry.tensor.dtype
            return SafeTensorsWriter.PendingTensor(name: entry.name, dtype: dtype, shape: entry.tensor.shape) {
                quantize ? entry.tensor.converted(to: .q8_0) : entry.tensor
            }
        }
        // Wider elements first, blocks last: every tensor then starts aligned to its element size.
        let ordered = planned.sorted { ($0.dtype == .q8_0 ? 0 : $0.dtype.blockBytes) > ($1.dtype == .q8_0 ? 0 : $1.dtype.blockBytes) }

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
        return Summary(output: output,
                       quantized: planned.filter { $0.dtype == .q8_0 }.count,
                       kept: planned.filter { $0.dtype != .q8_0 }.count,
                       bytesBefore: tensors.reduce(0) { $0 + $1.tensor.byteCount },
                       bytesAfter: planned.reduce(0) { $0 + $1.dtype.bytes($1.shape.reduce(1, *)) })
    }
}
