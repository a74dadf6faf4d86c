import Foundation
import HamCore
import HamJSON

/// A model directory (docs/MODEL_FORMAT.md): its config, its tensors, and where its tokenizer is.
public struct ModelDirectory: Sendable {
    public let path: String
    public let config: ModelConfig
    public let weights: WeightStore
    /// End-of-sequence ids: `generation_config.json` when present, else `config.json`.
    public let eosTokenIds: [Int]
    public let bosTokenId: Int?

    public init(path: String) throws {
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
            let generation = try withLoadErrors { try JSONDocument(readFile(generationPath, limit: jsonFileLimit), source: generationPath).root }
            try withLoadErrors {
                if let ids = try generation.optional("eos_token_id")?.integers(in: ModelConfig.Limits.tokenId), !ids.isEmpty { eos = ids }
                if let id = try generation.optional("bos_token_id")?.integer(in: ModelConfig.Limits.tokenId) { bos = id }
            }
        }
        eosTokenIds = eos
        bosTokenId = bos
        let dtypes = Set(weights.names.compactMap { weights.dtype(of: $0)?.rawValue }).sorted().joined(separator: "/")
        log.info("model \(path): \(weights.names.count) tensors (\(dtypes)), \(config.numHiddenLayers) layers, hidden \(config.hiddenSize), vocabulary \(config.vocabSize)\(config.hamburger.map { ", HAMburger with \($0.numMicroLayers) micro layers, max_steps \($0.maxSteps)" } ?? "")")
    }

    public var tokenizerPath: String? {
        let candidate = filePath("tokenizer.json", in: path)
        return FileManager.default.fileExists(atPath: candidate) ? candidate : nil
    }

    /// Whether the directory holds the HAMburger modules (else it is a base-only model).
    public var isHAMburger: Bool { config.hamburger != nil }
}

public func filePath(_ name: String, in directory: String) -> String {
    (directory as NSString).appendingPathComponent(name)
}

extension HAMburgerGraph {
    /// The graph of a model directory.
    public convenience init(model: ModelDirectory, backend: B, mode: GenerationMode) throws {
        try self.init(config: model.config, weights: model.weights, path: model.path, backend: backend, mode: mode)
    }
}
