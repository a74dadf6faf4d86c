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

    /// Random values for every tensor of `specs` (a `ModelSchema` part), in schema order.
    public static func tensors(_ specs: [TensorSpec], dtype: DType, random: inout Random) -> [(name: String, tensor: HostTensor)] {
        specs.map { spec in
            let tensor: HostTensor
            switch spec.role {
            case .gain: tensor = constant(spec.shape, 1, dtype: dtype)
            case .bias: tensor = random.tensor(spec.shape, scale: 0.02, dtype: dtype)
            case .table: tensor = random.tensor(spec.shape, scale: 1, dtype: dtype)
            case .matrix: tensor = random.tensor(spec.shape, scale: 1 / Double(spec.shape.last ?? 1).squareRoot(), dtype: dtype)
            }
            return (spec.name, tensor)
        }
    }

    /// The base Llama model's tensors.
    public static func baseTensors(_ c: ModelConfig, dtype: DType, random: inout Random) -> [(name: String, tensor: HostTensor)] {
        tensors(LlamaSchema(config: c).all, dtype: dtype, random: &random)
    }

    /// The compositional embedder and the micro-step decoder (docs/MODEL_FORMAT.md).
    public static func hamburgerTensors(_ c: ModelConfig, _ h: ModelConfig.HAMburgerConfig, dtype: DType,
                                        random: inout Random) -> [(name: String, tensor: HostTensor)] {
        tensors(MergerSchema(config: c, hamburger: h).all + MicroDecoderSchema(config: c, hamburger: h).all, dtype: dtype, random: &random)
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
