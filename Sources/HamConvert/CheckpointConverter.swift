import Foundation
import HamCore
import HamFiles
import HamJSON
import HamLoad

/// Turns the HAMburger authors' PyTorch Lightning checkpoint plus its Hugging Face base model
/// directory into a hamrun model directory (docs/MODEL_FORMAT.md, docs/CONVERT.md).
///
/// Everything is checked before anything is written: the base config, then every tensor the
/// config calls for (name, dtype, shape, storage record), then that nothing unexpected is left.
/// The directory is then built next to `output` and renamed into place, so a failure at any point
/// leaves no partial output behind.
public enum CheckpointConverter {
    public struct Summary: Sendable {
        public let output: String
        public let tensorCount: Int
        public let byteCount: Int
        public let hamburger: ModelConfig.HAMburgerConfig
        /// Files copied unchanged from the base model directory.
        public let copiedFiles: [String]
    }

    /// The authors hard-code these in `ConditionalMicroStepDecoder` and `CompositionalEmbedder`
    /// rather than saving them, so they cannot be read from a checkpoint.
    public static let featureLayers = [3, 7, 11, 15]
    public static let mergerHeads = 64
    /// `HAMburgerLlama`'s default when `hyper_parameters` has no `max_steps`.
    public static let defaultMaxSteps = 4
    /// Taken from the base model directory when present.
    public static let baseFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"]

    /// `dtype`: f32, f16 or bf16 to store every tensor in (a checkpoint consolidated from
    /// DeepSpeed holds float32); nil keeps each tensor's stored dtype.
    public static func convert(checkpoint: String, base: String, output: String, dtype: DType? = nil, force: Bool = false) throws -> Summary {
        if let dtype, ![DType.f32, .f16, .bf16].contains(dtype) {
            throw LoadError.invalidField(path: checkpoint, field: "--dtype", detail: "is \(dtype.rawValue); expected f32, f16 or bf16 (hamrun quantize makes the block types)")
        }
        try OutputDirectory.check(output, force: force)

        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: base, isDirectory: &isDirectory) else {
            throw LoadError.fileNotFound(path: base)
        }
        guard isDirectory.boolValue else {
            throw LoadError.unreadable(path: base, reason: "not a directory (expected the base model's Hugging Face directory)")
        }
        let baseConfigPath = filePath("config.json", in: base)
        let baseConfigBytes = try readFile(baseConfigPath, limit: jsonFileLimit)
        let baseConfig = try ModelConfig.parse(baseConfigBytes, path: baseConfigPath)
        // Rewritten with its literals kept (parse has checked that it is an object).
        let baseDocument = JSONText(try withLoadErrors { try JSONDocument(baseConfigBytes, source: baseConfigPath).root })

        let source = try TorchCheckpoint(path: checkpoint)
        let maxSteps = try readMaxSteps(source)
        let microLayers = try countMicroLayers(source)
        guard featureLayers.allSatisfy({ $0 < baseConfig.numHiddenLayers }) else {
            throw LoadError.invalidField(path: baseConfigPath, field: "num_hidden_layers", detail: "is \(baseConfig.numHiddenLayers); HAMburger's feature layers \(featureLayers), hard-coded by its authors, need at least \(featureLayers.max().map { $0 + 1 } ?? 1)")
        }
        let hamburger = JSONText.object([
            "feature_layers": .array(featureLayers.map(JSONText.integer)),
            "max_steps": .integer(maxSteps),
            "merger_heads": .integer(mergerHeads),
            // The authors run the micro-step decoder with FlashAttention-2 and no mask: causal.
            "micro_attention": .string("causal"),
            "num_micro_layers": .integer(microLayers),
        ])
        let configText = baseDocument.setting("hamburger", to: hamburger).rendered()
        // Parsing what will be written checks the HAMburger fields against the base config
        // (merger heads dividing hidden_size, ...) with the same rules the runtime applies.
        let config = try ModelConfig.parse(Array(configText.utf8), path: baseConfigPath)
        guard let hamburgerConfig = config.hamburger else {
            throw LoadError.missingField(path: baseConfigPath, field: "hamburger")
        }

        let plan = try planTensors(source, config: config, dtype: dtype)
        let byteCount = plan.reduce(0) { $0 + $1.dtype.bytes($1.shape.reduce(1, *)) }
        let copied = baseFiles.filter { InputFile.exists(filePath($0, in: base)) }

        try OutputDirectory.build(output, force: force) { staging in
            try SafeTensorsWriter.write(streaming: plan, to: filePath("model.safetensors", in: staging))
            try OutputFile.write(Array(configText.utf8), to: filePath("config.json", in: staging))
            for name in copied {
                try OutputFile.copy(filePath(name, in: base), to: filePath(name, in: staging))
            }
            // The runtime's own loader must accept what was written.
            _ = try ModelFiles(directory: staging)
        }
        return Summary(output: output, tensorCount: plan.count, byteCount: byteCount,
                       hamburger: hamburgerConfig, copiedFiles: copied)
    }

    /// The checkpoint key holding the hamrun tensor `name`: Lightning prefixes the Hugging Face
    /// model with its attribute name `model.`; the HAMburger modules keep their names.
    public static func checkpointName(for name: String) -> String {
        name.hasPrefix("model.") || name == "lm_head.weight" ? "model." + name : name
    }

    // MARK: Checks

    /// `hyper_parameters.max_steps`; without it, the rows of the merger's step-position table
    /// (one per step), and only then the authors' default.
    private static func readMaxSteps(_ source: TorchCheckpoint) throws -> Int {
        guard let value = source.hyperParameters?["max_steps"] else {
            if let positions = try? source.describe("comp_embedder.merger.pos"), positions.shape.count == 2, positions.shape[0] > 0 {
                return positions.shape[0]
            }
            return defaultMaxSteps
        }
        let range = ModelConfig.Limits.maxSteps
        guard case .int(let steps) = value, range.contains(steps) else {
            let shown = if case .int(let n) = value { "\(n)" } else if case .float(let x) = value { "\(x)" } else { value.kind }
            throw LoadError.invalidField(path: source.path, field: "hyper_parameters.max_steps", detail: "is \(shown); expected an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return steps
    }

    /// The micro-step decoder's depth, from the highest layer index present; a gap below it is
    /// then reported as a missing tensor.
    private static func countMicroLayers(_ source: TorchCheckpoint) throws -> Int {
        let prefix = "micro_step_decoder.decoders."
        var highest = -1
        for (name, _) in source.stateDict where name.hasPrefix(prefix) {
            let index = name.dropFirst(prefix.count).prefix { $0 != "." }
            guard let layer = Int(index), layer >= 0, layer < 1 << 16 else {
                throw ConvertError.unexpectedTensor(path: source.path, tensor: name)
            }
            highest = max(highest, layer)
        }
        guard highest >= 0 else {
            throw LoadError.malformed(path: source.path, detail: "state_dict has no 'micro_step_decoder.decoders.*' tensors; expected a HAMburger checkpoint")
        }
        return highest + 1
    }

    private static func planTensors(_ source: TorchCheckpoint, config: ModelConfig, dtype target: DType?) throws -> [SafeTensorsWriter.PendingTensor] {
        var plan: [SafeTensorsWriter.PendingTensor] = []
        var used: Set<String> = []
        for spec in ModelSchema(config: config).all {
            let name = spec.name, shape = spec.shape
            let key = checkpointName(for: name)
            guard source.contains(key) else { throw LoadError.missingTensor(path: source.path, tensor: key) }
            let (dtype, found) = try source.describe(key)
            guard found == shape else {
                throw LoadError.shapeMismatch(path: source.path, tensor: key, expected: shape, found: found)
            }
            used.insert(key)
            let stored = target ?? dtype
            plan.append(.init(name: name, dtype: stored, shape: shape) {
                let tensor = try source.tensor(key)
                guard stored != tensor.dtype else { return tensor }
                let converted = tensor.converted(to: stored)
                if stored == .f16, let value = Quantizer.firstOverflow(tensor, converted) {
                    throw LoadError.invalidField(path: source.path, field: key,
                                                 detail: "holds \(value), beyond f16's range (±65504); expected values f16 can hold (--dtype bf16 keeps f32's range)")
                }
                return converted
            })
        }

        // Stored once in hamrun's format; a copy holding other values would be silently lost.
        let embedding = checkpointName(for: "model.embed_tokens.weight")
        var shared = [("comp_embedder.embedding.weight", "the compositional embedder uses the base model's embedding")]
        if config.tieWordEmbeddings {
            shared.append((checkpointName(for: "lm_head.weight"), "the base config ties the embeddings (tie_word_embeddings)"))
        }
        for (copy, reason) in shared where source.contains(copy) {
            guard try source.sameContents(copy, embedding) else {
                throw ConvertError.sharedTensorDiffers(path: source.path, tensor: copy, keptTensor: embedding, reason: reason)
            }
            used.insert(copy)
        }

        // Rotary frequencies are recomputed from the config; other top-level modules (a
        // distillation teacher, say) are not part of the model. Anything else under the model's
        // own prefixes means the checkpoint and the base config disagree.
        for (name, _) in source.stateDict where !used.contains(name) && !name.hasSuffix(".rotary_emb.inv_freq") {
            if name.hasPrefix("model.") || name.hasPrefix("comp_embedder.") || name.hasPrefix("micro_step_decoder.") {
                throw ConvertError.unexpectedTensor(path: source.path, tensor: name)
            }
        }
        // Widest elements first: the safetensors header is padded to 8 bytes, so every tensor then
        // starts aligned to its element size and loads without a copy.
        let widths = Set(plan.map(\.dtype.blockBytes)).sorted(by: >)
        return widths.flatMap { width in plan.filter { $0.dtype.blockBytes == width } }
    }
}
