import Foundation
import HamCore
import HamJSON
import HamLoad

/// Model directories with random weights: benchmarks of real shapes without downloading a model
/// (`hamrun random-model`), and HAMburger modules around a real base model for tests that compare
/// two backends. Weights are uniform in ±1/√fan_in (so activations keep their scale through the
/// layers), norm gains 1, biases small; the same seed gives the same model.
public enum RandomModel {
    /// Shapes `hamrun random-model --shape` knows.
    public enum Shape: String, CaseIterable, Sendable {
        /// Llama 3.2 1B (the HAMburger paper's base model): 1.24 B parameters.
        case llama32_1B = "llama-3.2-1b"
        /// A 0.1 B model: quick benchmarks on slow devices.
        case small
        /// The reference fixture's shape (16 layers of 128).
        case tiny

        /// `config.json` of the shape, with a `hamburger` object (its modules are written too).
        public var config: JSONText {
            var config: JSONText = [
                "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
                "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "tie_word_embeddings": true,
                "bos_token_id": 1, "eos_token_id": 2, "max_position_embeddings": 131072,
                "rope_scaling": ["rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                 "original_max_position_embeddings": 8192],
            ]
            let (hidden, intermediate, layers, heads, kvHeads, vocab): (Int, Int, Int, Int, Int, Int)
            var hamburger: JSONText = ["max_steps": 4]
            switch self {
            case .llama32_1B:
                (hidden, intermediate, layers, heads, kvHeads, vocab) = (2048, 8192, 16, 32, 8, 128_256)
            case .small:
                (hidden, intermediate, layers, heads, kvHeads, vocab) = (512, 1536, 8, 8, 4, 32_000)
                hamburger["feature_layers"] = [1, 3, 5, 7]
                hamburger["num_micro_layers"] = 2
                hamburger["merger_heads"] = 16
            case .tiny:
                (hidden, intermediate, layers, heads, kvHeads, vocab) = (128, 256, 16, 4, 2, 1024)
            }
            config["hidden_size"] = .integer(hidden)
            config["intermediate_size"] = .integer(intermediate)
            config["num_hidden_layers"] = .integer(layers)
            config["num_attention_heads"] = .integer(heads)
            config["num_key_value_heads"] = .integer(kvHeads)
            config["head_dim"] = .integer(hidden / heads)
            config["vocab_size"] = .integer(vocab)
            config["hamburger"] = hamburger
            return config
        }
    }

    /// The weight dtypes a random model can have (the ones hamrun loads matrices in).
    public static let dtypes: [DType] = [.bf16, .f16, .f32, .q8_0]

    /// Writes `config` and random weights for all of it (base model, and the HAMburger modules
    /// when the config has a `hamburger` object) in `dtype` into a new directory `path` (an
    /// existing one only with `force`, replaced once the new one is complete and loads).
    public static func write(config: JSONText, dtype: DType, seed: UInt64, to path: String, force: Bool = false) throws {
        guard dtypes.contains(dtype) else {
            throw LoadError.invalidField(path: path, field: "dtype", detail: "is \(dtype.rawValue); expected \(dtypes.map(\.rawValue).joined(separator: ", "))")
        }
        let configText = Array(config.rendered().utf8)
        let parsed = try ModelConfig.parse(configText, path: filePath("config.json", in: path))
        try OutputDirectory.build(path, force: force) { staging in
            try OutputFile.write(configText, to: filePath("config.json", in: staging))
            var random = Random(seed: seed)
            var tensors = baseTensors(parsed, dtype: dtype, random: &random)
            if let hamburger = parsed.hamburger {
                tensors += hamburgerTensors(parsed, hamburger, dtype: dtype, random: &random)
            }
            try SafeTensorsWriter.write(tensors, to: filePath("model.safetensors", in: staging))
            // hamrun must load what it wrote.
            _ = try ModelFiles(directory: staging)
        }
    }

    /// The base Llama model's tensors.
    public static func baseTensors(_ c: ModelConfig, dtype: DType, random: inout Random) -> [(name: String, tensor: HostTensor)] {
        var tensors: [(name: String, tensor: HostTensor)] = [
            ("model.embed_tokens.weight", random.tensor([c.vocabSize, c.hiddenSize], scale: 1, dtype: dtype)),
            ("model.norm.weight", constant([c.hiddenSize], 1, dtype: dtype)),
        ]
        for l in 0..<c.numHiddenLayers {
            tensors += layerTensors(c, prefix: "model.layers.\(l).", dtype: dtype, random: &random)
        }
        if !c.tieWordEmbeddings {
            tensors.append(("lm_head.weight", random.tensor([c.vocabSize, c.hiddenSize], scale: 1 / Double(c.hiddenSize).squareRoot(), dtype: dtype)))
        }
        return tensors
    }

    /// The compositional embedder and the micro-step decoder (docs/MODEL_FORMAT.md).
    public static func hamburgerTensors(_ c: ModelConfig, _ h: ModelConfig.HAMburgerConfig, dtype: DType,
                                        random: inout Random) -> [(name: String, tensor: HostTensor)] {
        let d = c.hiddenSize
        func linear(_ name: String, _ out: Int, _ inFeatures: Int) -> [(name: String, tensor: HostTensor)] {
            [(name + ".weight", random.tensor([out, inFeatures], scale: 1 / Double(inFeatures).squareRoot(), dtype: dtype)),
             (name + ".bias", random.tensor([out], scale: 0.02, dtype: dtype))]
        }
        var tensors: [(name: String, tensor: HostTensor)] = [
            ("comp_embedder.merger.pos", random.tensor([h.maxSteps, d / 2], scale: 1, dtype: dtype)),
        ]
        tensors += linear("comp_embedder.merger.q_proj", d, d)
        tensors += linear("comp_embedder.merger.k_proj", d, d + d / 2)
        tensors += linear("comp_embedder.merger.v_proj", d, d + d / 2)
        tensors += linear("comp_embedder.out_proj", d, d)
        for j in 0..<h.numMicroLayers {
            tensors += layerTensors(c, prefix: "micro_step_decoder.decoders.\(j).", dtype: dtype, random: &random)
        }
        tensors += linear("micro_step_decoder.stop_head.0", d, d)
        tensors += linear("micro_step_decoder.stop_head.2", d, d)
        tensors += linear("micro_step_decoder.stop_head.4", 1, d)
        return tensors
    }

    private static func layerTensors(_ c: ModelConfig, prefix: String, dtype: DType, random: inout Random) -> [(name: String, tensor: HostTensor)] {
        let d = c.hiddenSize, f = c.intermediateSize
        func weight(_ name: String, _ out: Int, _ inFeatures: Int) -> (name: String, tensor: HostTensor) {
            (prefix + name, random.tensor([out, inFeatures], scale: 1 / Double(inFeatures).squareRoot(), dtype: dtype))
        }
        var tensors = [
            (prefix + "input_layernorm.weight", constant([d], 1, dtype: dtype)),
            weight("self_attn.q_proj.weight", c.qDim, d),
            weight("self_attn.k_proj.weight", c.kvDim, d),
            weight("self_attn.v_proj.weight", c.kvDim, d),
            weight("self_attn.o_proj.weight", d, c.qDim),
            (prefix + "post_attention_layernorm.weight", constant([d], 1, dtype: dtype)),
            weight("mlp.gate_proj.weight", f, d),
            weight("mlp.up_proj.weight", f, d),
            weight("mlp.down_proj.weight", d, f),
        ]
        if c.attentionBias {
            for (name, size) in [("q_proj", c.qDim), ("k_proj", c.kvDim), ("v_proj", c.kvDim), ("o_proj", d)] {
                tensors.append((prefix + "self_attn.\(name).bias", random.tensor([size], scale: 0.02, dtype: dtype)))
            }
        }
        if c.mlpBias {
            for (name, size) in [("gate_proj", f), ("up_proj", f), ("down_proj", d)] {
                tensors.append((prefix + "mlp.\(name).bias", random.tensor([size], scale: 0.02, dtype: dtype)))
            }
        }
        return tensors
    }

    private static func constant(_ shape: [Int], _ value: Float, dtype: DType) -> HostTensor {
        convert([Float](repeating: value, count: shape.reduce(1, *)), shape: shape, dtype: dtype)
    }

    /// `values` in `dtype`; a block type only where the shape allows it (norm gains and biases
    /// stay f32).
    static func convert(_ values: [Float], shape: [Int], dtype: DType) -> HostTensor {
        let tensor = HostTensor(shape: shape, floats: values)
        return tensor.canStore(as: dtype) ? tensor.converted(to: dtype) : tensor
    }

    /// xorshift64: fast enough for a billion weights, and the same on every machine.
    public struct Random: Sendable {
        private var state: UInt64

        public init(seed: UInt64) {
            state = seed | 1
        }

        public mutating func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }

        /// Uniform in [-scale, scale).
        public mutating func uniform(_ scale: Double) -> Float {
            Float((Double(next() >> 11) / Double(1 << 53) * 2 - 1) * scale)
        }

        public mutating func tensor(_ shape: [Int], scale: Double, dtype: DType) -> HostTensor {
            let count = shape.reduce(1, *)
            var values = [Float](repeating: 0, count: count)
            for i in 0..<count { values[i] = uniform(scale) }
            return RandomModel.convert(values, shape: shape, dtype: dtype)
        }
    }
}
