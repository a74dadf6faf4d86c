import Foundation
import HamCore

extension ModelConfig {
    public static func load(path: String) throws -> ModelConfig {
        try parse(try readFile(path), path: path)
    }

    /// Parses and checks `config.json`; every error names the file and the field.
    public static func parse(_ data: Data, path: String) throws -> ModelConfig {
        let raw = try decodeJSON(RawConfig.self, from: data, path: path)
        func required<T>(_ value: T?, _ field: String) throws -> T {
            guard let value else { throw LoadError.missingField(path: path, field: field) }
            return value
        }
        func positive(_ value: Int, _ field: String) throws -> Int {
            guard value > 0 else { throw LoadError.invalidField(path: path, field: field, detail: "is \(value); expected a positive integer") }
            return value
        }
        let hidden = try positive(try required(raw.hidden_size, "hidden_size"), "hidden_size")
        let intermediate = try positive(try required(raw.intermediate_size, "intermediate_size"), "intermediate_size")
        let layers = try positive(try required(raw.num_hidden_layers, "num_hidden_layers"), "num_hidden_layers")
        let heads = try positive(try required(raw.num_attention_heads, "num_attention_heads"), "num_attention_heads")
        let vocab = try positive(try required(raw.vocab_size, "vocab_size"), "vocab_size")
        let kvHeads = try positive(raw.num_key_value_heads ?? heads, "num_key_value_heads")
        guard heads % kvHeads == 0 else {
            throw LoadError.invalidField(path: path, field: "num_key_value_heads", detail: "is \(kvHeads); expected a divisor of num_attention_heads (\(heads))")
        }
        let headDim = try positive(raw.head_dim ?? hidden / heads, "head_dim")
        guard headDim % 2 == 0 else {
            throw LoadError.invalidField(path: path, field: "head_dim", detail: "is \(headDim); expected an even number (RoPE rotates pairs)")
        }

        var scaling: RoPEScaling?
        if let s = raw.rope_scaling {
            switch s.rope_type ?? s.type ?? "default" {
            case "llama3":
                scaling = RoPEScaling(
                    factor: try required(s.factor, "rope_scaling.factor"),
                    lowFreqFactor: try required(s.low_freq_factor, "rope_scaling.low_freq_factor"),
                    highFreqFactor: try required(s.high_freq_factor, "rope_scaling.high_freq_factor"),
                    originalMaxPositionEmbeddings: try required(s.original_max_position_embeddings, "rope_scaling.original_max_position_embeddings"))
                guard let r = scaling, r.factor > 0, r.highFreqFactor > r.lowFreqFactor, r.originalMaxPositionEmbeddings > 0 else {
                    throw LoadError.invalidField(path: path, field: "rope_scaling", detail: "has factor <= 0 or high_freq_factor <= low_freq_factor")
                }
            case "default":
                scaling = nil
            case let other:
                throw LoadError.invalidField(path: path, field: "rope_scaling.rope_type", detail: "is '\(other)'; expected 'llama3' or 'default'")
            }
        }

        var hamburger: HAMburgerConfig?
        if let h = raw.hamburger {
            var hc = HAMburgerConfig()
            hc.maxSteps = try positive(h.max_steps ?? hc.maxSteps, "hamburger.max_steps")
            hc.numMicroLayers = try positive(h.num_micro_layers ?? hc.numMicroLayers, "hamburger.num_micro_layers")
            hc.featureLayers = h.feature_layers ?? hc.featureLayers
            hc.mergerHeads = try positive(h.merger_heads ?? hc.mergerHeads, "hamburger.merger_heads")
            hc.confidence = h.confidence
            if let value = h.micro_attention {
                guard let mode = MicroAttention(rawValue: value) else {
                    throw LoadError.invalidField(path: path, field: "hamburger.micro_attention", detail: "is '\(value)'; expected 'bidirectional' or 'causal'")
                }
                hc.microAttention = mode
            }
            if let c = hc.confidence, !(c >= 0 && c <= 1) {
                throw LoadError.invalidField(path: path, field: "hamburger.confidence", detail: "is \(c); expected a value in [0, 1]")
            }
            guard !hc.featureLayers.isEmpty, hc.featureLayers.allSatisfy({ $0 >= 0 && $0 < layers }) else {
                throw LoadError.invalidField(path: path, field: "hamburger.feature_layers", detail: "is \(hc.featureLayers); expected layer indices in 0..<\(layers)")
            }
            guard hidden % 2 == 0, hidden % hc.mergerHeads == 0, (hidden / hc.mergerHeads) > 0 else {
                throw LoadError.invalidField(path: path, field: "hamburger.merger_heads", detail: "is \(hc.mergerHeads); expected a divisor of hidden_size (\(hidden))")
            }
            hamburger = hc
        }

        return ModelConfig(
            hiddenSize: hidden,
            intermediateSize: intermediate,
            numHiddenLayers: layers,
            numAttentionHeads: heads,
            numKeyValueHeads: kvHeads,
            headDim: headDim,
            vocabSize: vocab,
            rmsNormEps: Float(raw.rms_norm_eps ?? 1e-6),
            ropeTheta: raw.rope_theta ?? 10000,
            ropeScaling: scaling,
            tieWordEmbeddings: raw.tie_word_embeddings ?? false,
            attentionBias: raw.attention_bias ?? false,
            mlpBias: raw.mlp_bias ?? false,
            bosTokenId: raw.bos_token_id,
            eosTokenIds: raw.eos_token_id?.values ?? [],
            maxPositionEmbeddings: raw.max_position_embeddings ?? 131072,
            hamburger: hamburger)
    }
}

/// `config.json` as written, before defaults and checks. Field names are the file's own.
private struct RawConfig: Decodable {
    var hidden_size: Int?
    var intermediate_size: Int?
    var num_hidden_layers: Int?
    var num_attention_heads: Int?
    var num_key_value_heads: Int?
    var head_dim: Int?
    var vocab_size: Int?
    var rms_norm_eps: Double?
    var rope_theta: Double?
    var rope_scaling: RawRoPEScaling?
    var tie_word_embeddings: Bool?
    var attention_bias: Bool?
    var mlp_bias: Bool?
    var bos_token_id: Int?
    var eos_token_id: IntOrList?
    var max_position_embeddings: Int?
    var hamburger: RawHAMburger?
}

private struct RawRoPEScaling: Decodable {
    var rope_type: String?
    var type: String?
    var factor: Double?
    var low_freq_factor: Double?
    var high_freq_factor: Double?
    var original_max_position_embeddings: Int?
}

private struct RawHAMburger: Decodable {
    var max_steps: Int?
    var num_micro_layers: Int?
    var feature_layers: [Int]?
    var merger_heads: Int?
    var confidence: Double?
    var micro_attention: String?
}

/// `eos_token_id` is an integer in some configs and a list in others.
public struct IntOrList: Decodable {
    public var values: [Int]
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let single = try? container.decode(Int.self) {
            values = [single]
        } else {
            values = try container.decode([Int].self)
        }
    }
}

public func readFile(_ path: String) throws -> Data {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw LoadError.fileNotFound(path: path)
    }
    guard !isDirectory.boolValue, let data = FileManager.default.contents(atPath: path) else {
        throw LoadError.unreadable(path: path, reason: isDirectory.boolValue ? "is a directory" : "permission denied")
    }
    return data
}

/// Decodes JSON, turning `DecodingError`s into one line naming the file and the field.
public func decodeJSON<T: Decodable>(_ type: T.Type, from data: Data, path: String) throws -> T {
    do {
        return try JSONDecoder().decode(type, from: data)
    } catch let error as DecodingError {
        func field(_ codingPath: [CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
                .replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .typeMismatch(let expected, let context):
            throw LoadError.invalidField(path: path, field: field(context.codingPath), detail: "has the wrong type; expected \(jsonTypeName(expected))")
        case .valueNotFound(let expected, let context):
            throw LoadError.invalidField(path: path, field: field(context.codingPath), detail: "is null; expected \(jsonTypeName(expected))")
        case .keyNotFound(let key, let context):
            throw LoadError.missingField(path: path, field: field(context.codingPath + [key]))
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { throw LoadError.malformed(path: path, detail: "not valid JSON") }
            throw LoadError.invalidField(path: path, field: field(context.codingPath), detail: "is not valid: \(context.debugDescription)")
        @unknown default:
            throw LoadError.malformed(path: path, detail: "\(error)")
        }
    } catch {
        throw LoadError.malformed(path: path, detail: "not valid JSON")
    }
}

private func jsonTypeName(_ type: Any.Type) -> String {
    switch type {
    case is Int.Type: "an integer"
    case is Double.Type, is Float.Type: "a number"
    case is Bool.Type: "true or false"
    case is String.Type: "a string"
    case is [Int].Type: "a list of integers"
    default: "a JSON " + (String(describing: type).hasPrefix("Array") ? "list" : "object")
    }
}
