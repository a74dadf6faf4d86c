import Foundation
import HamCore
import HamFiles
import HamJSON

/// A model opened from a path (docs/MODEL_FORMAT.md): a model directory (config.json and
/// safetensors, or config.json naming a base GGUF and safetensors with the HAMburger modules), or
/// a GGUF file. Either way the rest of hamrun sees the same things: a config,
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

    /// Opens a model directory or a GGUF file (a `.gguf` name or GGUF's magic).
    public init(path: String) throws {
        guard InputFile.exists(path) else { throw LoadError.fileNotFound(path: path) }
        if InputFile.isDirectory(path) {
            try self.init(directory: path)
            return
        }
        // Only a regular file maps: a FIFO is refused, never waited on.
        let file = try MappedFile(path: path)
        guard path.lowercased().hasSuffix(".gguf") || file.bytes.starts(with: GGUFFile.magic) else {
            throw LoadError.unreadable(path: path, reason: "not a directory or a GGUF file (expected a model directory with config.json and model.safetensors, or a .gguf file)")
        }
        try self.init(gguf: try GGUFFile(file: file))
    }

    /// A model directory: config.json, model.safetensors (or shards), tokenizer.json; or
    /// config.json with `base_gguf` and the HAMburger modules' safetensors.
    public init(directory path: String) throws {
        guard InputFile.exists(path) else { throw LoadError.fileNotFound(path: path) }
        guard InputFile.isDirectory(path) else {
            throw LoadError.unreadable(path: path, reason: "not a directory (expected a model directory with config.json and model.safetensors)")
        }
        self.path = path
        let configPath = filePath("config.json", in: path)
        let configBytes = try readFile(configPath, limit: jsonFileLimit)
        var eos: [Int], bos: Int?
        var baseTokenizer: TokenizerSource?
        if let reference = try BaseGGUF.reference(in: configBytes, configPath: configPath) {
            // A HAMburger model over a base GGUF: the base's config, tensors and tokenizer come
            // from the GGUF; the directory adds the HAMburger modules.
            let base = try ModelFiles(gguf: try GGUFFile(path: try BaseGGUF.resolve(reference, directory: path, configPath: configPath)))
            config = try BaseGGUF.config(base: base.config, configBytes: configBytes, configPath: configPath)
            weights = try LayeredWeights([try WeightStore(directory: path), base.weights])
            eos = base.eosTokenIds
            bos = base.bosTokenId
            baseTokenizer = base.tokenizer
        } else {
            config = try ModelConfig.parse(configBytes, path: configPath)
            weights = try WeightStore(directory: path)
            eos = config.eosTokenIds
            bos = config.bosTokenId
        }
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
        let tokenizerPath = filePath("tokenizer.json", in: path)
        tokenizer = InputFile.exists(tokenizerPath) ? .json(path: tokenizerPath) : baseTokenizer
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

    private func logSummary() {
        let dtypes = Set(weights.names.compactMap { weights.dtype(of: $0)?.rawValue }).sorted().joined(separator: "/")
        log.info("model \(path): \(weights.names.count) tensors (\(dtypes)), \(config.numHiddenLayers) layers, hidden \(config.hiddenSize), vocabulary \(config.vocabSize)\(config.hamburger.map { ", HAMburger with \($0.numMicroLayers) micro layers, max_steps \($0.maxSteps)" } ?? "")")
    }
}

public func filePath(_ name: String, in directory: String) -> String {
    (directory as NSString).appendingPathComponent(name)
}
