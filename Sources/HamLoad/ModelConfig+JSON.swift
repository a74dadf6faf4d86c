import HamCore
import HamFiles
import HamJSON

extension ModelConfig {
    public static func load(path: String) throws -> ModelConfig {
        try parse(try readFile(path, limit: jsonFileLimit), path: path)
    }

    /// Parses `config.json` and checks it with `validated(path:)`; every error names the file and
    /// the field, and says what was expected.
    public static func parse<Bytes: Collection>(_ bytes: Bytes, path: String) throws -> ModelConfig where Bytes.Element == UInt8 {
        try withLoadErrors {
            let root = try JSONDocument(bytes, source: path).root
            try root.object()
            func int(_ key: String, _ range: ClosedRange<Int>) throws -> Int {
                try root.required(key).integer(in: range)
            }
            func optionalInt(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
                try root.optional(key)?.integer(in: range)
            }
            let hidden = try int("hidden_size", Limits.hiddenSize)
            let heads = try int("num_attention_heads", Limits.heads)

            var scaling: RoPEScaling?
            if let s = try root.optional("rope_scaling") {
                try s.object()
                let type = try (s.optional("rope_type") ?? s.optional("type"))?.string(oneOf: ["llama3", "default"]) ?? "default"
                if type == "llama3" {
                    scaling = RoPEScaling(
                        factor: try s.required("factor").double(),
                        lowFreqFactor: try s.required("low_freq_factor").double(),
                        highFreqFactor: try s.required("high_freq_factor").double(),
                        originalMaxPositionEmbeddings: try s.required("original_max_position_embeddings").integer(in: Limits.positions))
                }
            }

            let hamburger = try root.optional("hamburger").map(HAMburgerConfig.parse)

            let config = ModelConfig(
                hiddenSize: hidden,
                intermediateSize: try int("intermediate_size", Limits.intermediateSize),
                numHiddenLayers: try int("num_hidden_layers", Limits.layers),
                numAttentionHeads: heads,
                numKeyValueHeads: try optionalInt("num_key_value_heads", Limits.heads) ?? heads,
                headDim: try optionalInt("head_dim", Limits.headDim) ?? hidden / heads,
                vocabSize: try int("vocab_size", Limits.vocabSize),
                rmsNormEps: try root.optional("rms_norm_eps")?.float() ?? 1e-6,
                ropeTheta: try root.optional("rope_theta")?.double() ?? 10000,
                ropeScaling: scaling,
                tieWordEmbeddings: try root.optional("tie_word_embeddings")?.bool() ?? false,
                attentionBias: try root.optional("attention_bias")?.bool() ?? false,
                mlpBias: try root.optional("mlp_bias")?.bool() ?? false,
                bosTokenId: try optionalInt("bos_token_id", Limits.tokenId),
                eosTokenIds: try root.optional("eos_token_id")?.integers(in: Limits.tokenId) ?? [],
                maxPositionEmbeddings: try optionalInt("max_position_embeddings", Limits.positions) ?? 131072,
                hamburger: hamburger)
            return try config.validated(path: path)
        }
    }
}

extension ModelConfig.HAMburgerConfig {
    /// config.json's `hamburger` object; `validated(path:)` checks it against the base config.
    static func parse(_ h: JSONValue) throws -> Self {
        try h.object()
        var hc = Self()
        hc.maxSteps = try h.optional("max_steps")?.integer(in: ModelConfig.Limits.maxSteps) ?? hc.maxSteps
        hc.numMicroLayers = try h.optional("num_micro_layers")?.integer(in: ModelConfig.Limits.microLayers) ?? hc.numMicroLayers
        if let layers = try h.optional("feature_layers") {
            hc.featureLayers = try layers.array().map { try $0.integer(in: 0...(ModelConfig.Limits.layers.upperBound - 1)) }
        }
        hc.mergerHeads = try h.optional("merger_heads")?.integer(in: ModelConfig.Limits.heads) ?? hc.mergerHeads
        hc.confidence = try h.optional("confidence")?.double(in: 0...1)
        // Micro step 1's rows (the features, then the first token) attend causally: the authors
        // run the micro-step decoder without a mask under FlashAttention-2, which is causal, and
        // trained HAMburger-1B that way. "bidirectional" (what eager attention would make of the
        // same call) is no model's semantics, so a config saying it is refused, not misrun.
        if let mode = try h.optional("micro_attention") { _ = try mode.string(oneOf: ["causal"]) }
        return hc
    }
}

/// config.json, generation_config.json and the other JSON side files of a model are small; a
/// larger one is refused before it is read (the parser needs several times a file's size).
public let jsonFileLimit = 64 << 20

/// The whole regular file at `path`, as a `LoadError` when it cannot be read (missing, a
/// directory, a FIFO, larger than `limit`...).
public func readFile(_ path: String, limit: Int = Int.max) throws -> [UInt8] {
    try withLoadErrors { try InputFile.read(path, limit: limit) }
}

/// Runs `body`, turning the JSON reader's and file opening's errors into `LoadError`s.
public func withLoadErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as JSONError {
        throw LoadError(error)
    } catch let error as FileError {
        throw LoadError(error)
    }
}
