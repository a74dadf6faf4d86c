import Foundation
import HamCore

/// A model opened from a path (docs/MODEL_FORMAT.md): a model directory (config.json and
/// safetensors), or a GGUF file. Either way the rest of hamrun sees the same things: a config,
/// one `WeightSource` answering by Hugging Face names, the token ids that end generation, and
/// where the tokenizer comes from.
public struct ModelFiles: Sendable {
    /// Where a model's tokenizer is described.
    public enum TokenizerSource: Sendable {
        /// A Hugging Face `tokenizer.json` (and, beside it, `tokenizer_config.json`).
        case json(path: String)
        /// The `tokenizer.*` metadata of a GGUF file.
        case gguf(GGUFFile)
    }

    public let path: String
    public let config: ModelConfig
    public let weights: any WeightSource
    /// End-of-generation ids: a directory's `generation_config.json` when present, else its
    /// `config.json`; a GGUF's EOS, EOT and EOM ids.
    public let eosTokenIds: [Int]
    public let bosTokenId: Int?
    public let tokenizer: TokenizerSource?

    /// Opens a model directory or a `.gguf` file (recognised by its magic, whatever its name).
    public init(path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw LoadError.fileNotFound(path: path)
        }
        if isDirectory.boolValue {
            try self.init(directory: path)
        } else if path.lowercased().hasSuffix(".gguf") || Self.isGGUF(path) {
            try self.init(gguf: try GGUFFile(path: path))
        } else {
            throw LoadError.unreadable(path: path, reason: "not a directory or a GGUF file (expected a model directory with config.json and model.safetensors, or a .gguf file)")
        }
    }

    /// A model directory: config.json, model.safetensors (or shards), tokenizer.json.
    public init(directory path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw LoadError.fileNotFound(path: path)
        }
        guard isDirectory.boolValue else {
            throw LoadError.unreadable(path: path, reason: "not a directory (expected a model directory with config.json and model.safetensors)")
        }
        self.path = path
        config = try ModelConfig.load(path: filePath("config.json", in: path))
        weights = try WeightStore(directory: path)

        var eos = config.eosTokenIds
        var bos = config.bosTokenId
        let generationPath = filePath("generation_config.json", in: path)
        if FileManager.default.fileExists(atPath: generationPath) {
            struct GenerationConfig: Decodable {
                var eos_token_id: IntOrList?
                var bos_token_id: Int?
            }
            let generation = try decodeJSON(GenerationConfig.self, from: try readFile(generationPath), path: generationPath)
            if let ids = generation.eos_token_id?.values, !ids.isEmpty { eos = ids }
            if let id = generation.bos_token_id { bos = id }
        }
        eosTokenIds = eos
        bosTokenId = bos
        let tokenizerPath = filePath("tokenizer.json", in: path)
        tokenizer = FileManager.default.fileExists(atPath: tokenizerPath) ? .json(path: tokenizerPath) : nil
        logSummary()
    }

    /// A GGUF file: config from its metadata, its tensors, its tokenizer from its metadata.
    public init(gguf file: GGUFFile) throws {
        path = file.path
        config = try ModelConfig(gguf: file)
        weights = GGUFWeights(file: file)
        eosTokenIds = config.eosTokenIds
        bosTokenId = config.bosTokenId
        tokenizer = file.contains(key: "tokenizer.ggml.model") ? .gguf(file) : nil
        logSummary()
    }

    /// Whether the model has the HAMburger modules (else it is a base-only model).
    public var isHAMburger: Bool { config.hamburger != nil }

    /// Whether `path` is a regular file that starts with GGUF's magic.
    public static func isGGUF(_ path: String) -> Bool {
        guard (try? FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType) == .typeRegular,
              let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 4)).map(Array.init) == GGUFFile.magic
    }

    private func logSummary() {
        let dtypes = Set(weights.names.compactMap { weights.dtype(of: $0)?.rawValue }).sorted().joined(separator: "/")
        log.info("model \(path): \(weights.names.count) tensors (\(dtypes)), \(config.numHiddenLayers) layers, hidden \(config.hiddenSize), vocabulary \(config.vocabSize)\(config.hamburger.map { ", HAMburger with \($0.numMicroLayers) micro layers, max_steps \($0.maxSteps)" } ?? "")")
    }
}

public func filePath(_ name: String, in directory: String) -> String {
    (directory as NSString).appendingPathComponent(name)
}

extension HAMburgerGraph {
    /// The graph of an opened model.
    public convenience init(model: ModelFiles, backend: B, mode: GenerationMode) throws {
        try self.init(config: model.config, weights: model.weights, path: model.path, backend: backend, mode: mode)
    }
}
