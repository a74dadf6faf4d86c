import Foundation
import HamCore
import HamFiles
import HamJSON

/// A HAMburger model directory whose base model is a GGUF file (docs/MODEL_FORMAT.md): its
/// config.json holds `base_gguf` (the file) and `hamburger`, and nothing about the base model,
/// whose config comes from the GGUF's metadata alone.
enum BaseGGUF {
    static let key = "base_gguf"

    /// The keys config.json would otherwise describe the base model with.
    static let baseKeys = ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                           "num_key_value_heads", "head_dim", "vocab_size", "rms_norm_eps", "rope_theta", "rope_scaling",
                           "tie_word_embeddings", "attention_bias", "mlp_bias", "bos_token_id", "eos_token_id",
                           "max_position_embeddings"]

    /// `base_gguf` of config.json, nil when it has none.
    static func reference(in bytes: [UInt8], configPath: String) throws -> String? {
        try withLoadErrors {
            let root = try JSONDocument(bytes, source: configPath).root
            try root.object()
            return try root.optional(key)?.string()
        }
    }

    /// Where the base GGUF is: relative to the model directory (or absolute), else a bare file
    /// name in the model cache that Tools/fetch-models fills (`$HAMRUN_CACHE/models`, by default
    /// `~/.cache/hamrun/models`).
    static func resolve(_ reference: String, directory: String, configPath: String) throws -> String {
        let local = reference.hasPrefix("/") ? reference : filePath(reference, in: directory)
        if InputFile.exists(local) { return local }
        let cache = modelCache
        if !reference.contains("/") {
            let cached = filePath(reference, in: cache)
            if InputFile.exists(cached) { return cached }
        }
        throw LoadError.invalidField(path: configPath, field: key, detail: "is '\(reference)', which is neither in \(directory) nor in \(cache) (Tools/fetch-models fetches the real models there)")
    }

    /// `$HAMRUN_CACHE/models`, by default `~/.cache/hamrun/models`.
    static var modelCache: String {
        let environment = ProcessInfo.processInfo.environment
        let root = environment["HAMRUN_CACHE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? filePath(".cache/hamrun", in: NSHomeDirectory())
        return filePath("models", in: root)
    }

    /// The base GGUF's config with config.json's `hamburger`, checked together.
    static func config(base: ModelConfig, configBytes: [UInt8], configPath: String) throws -> ModelConfig {
        try withLoadErrors {
            let root = try JSONDocument(configBytes, source: configPath).root
            if let given = baseKeys.first(where: { root[$0] != nil }) {
                throw LoadError.invalidField(path: configPath, field: given, detail: "is given beside \(key); the base model's config comes from its GGUF file alone")
            }
            var config = base
            config.hamburger = try ModelConfig.HAMburgerConfig.parse(try root.required("hamburger"))
            return try config.validated(path: configPath)
        }
    }
}
