import Foundation
import HamChecks
import HamCPU
import HamJSON
import Testing
@testable import HamConvert
@testable import HamCore
@testable import HamLoad

/// `hamrun quantize --type` beyond q8_0: which tensor gets which type, models that run like
/// their dequantized copies, narrowing float32, and the per-tensor safetensors layout.
@Suite struct QuantizationPlanTests {
    /// A small HAMburger shape whose rows are whole 256-element super-blocks (the reference
    /// fixture's 128 are not): 8 layers of 256, FFN 512, 2 micro layers, tied embeddings.
    static var config: JSONText {
        var config = RandomModel.Shape.tiny.config
        config["hidden_size"] = 256
        config["intermediate_size"] = 512
        config["num_hidden_layers"] = 8
        config["head_dim"] = 64
        config["hamburger"] = ["max_steps": 4, "feature_layers": [1, 3, 5, 7], "num_micro_layers": 2, "merger_heads": 16]
        return config
    }

    static let model: Result<String, Error> = Result {
        let path = ScratchDirectory.root + "plan-model-\(UUID().uuidString)"
        try RandomModel.write(config: config, dtype: .bf16, seed: 5, to: path)
        return path
    }

    static func parsedConfig() throws -> ModelConfig {
        try ModelConfig.parse(Data(config.rendered().utf8), path: "config.json")
    }

    static func tensor(_ shape: [Int], _ dtype: DType = .bf16) -> HostTensor {
        HostTensor(shape: shape, floats: [Float](repeating: 0.5, count: shape.reduce(1, *))).converted(to: dtype)
    }

    @Test func q4_kIsLlamaCppsQ4_K_M() throws {
        let plan = try #require(QuantizationPlan(target: .q4_k, config: try Self.parsedConfig()))
        let m = Self.tensor([256, 256]), down = Self.tensor([256, 512])
        // The output matrix (tied: the embedding).
        #expect(plan.dtype(for: "model.embed_tokens.weight", tensor: Self.tensor([1024, 256])) == .q6_k)
        #expect(plan.dtype(for: "model.layers.3.self_attn.q_proj.weight", tensor: m) == .q4_k)
        // use_more_bits with 8 layers: 0 (first eighth), 7 (last eighth), 3 and 6 ((i - 1) % 3 == 2).
        let moreBits = (0..<8).filter { plan.dtype(for: "model.layers.\($0).mlp.down_proj.weight", tensor: down) == .q6_k }
        #expect(moreBits == [0, 3, 6, 7])
        #expect((0..<8).filter { plan.dtype(for: "model.layers.\($0).self_attn.v_proj.weight", tensor: m) == .q6_k } == moreBits)
        #expect(plan.dtype(for: "model.layers.1.mlp.gate_proj.weight", tensor: Self.tensor([512, 256])) == .q4_k)
        // Micro layers count their own: 2 layers, 0 < 2/8 is false, 1 >= 7·2/8.
        #expect(plan.dtype(for: "micro_step_decoder.decoders.0.mlp.down_proj.weight", tensor: down) == .q4_k)
        #expect(plan.dtype(for: "micro_step_decoder.decoders.1.mlp.down_proj.weight", tensor: down) == .q6_k)
        // The merger and the stop head stay 8-bit; what is not a matrix keeps its dtype.
        #expect(plan.dtype(for: "comp_embedder.merger.k_proj.weight", tensor: Self.tensor([256, 384])) == .q8_0)
        #expect(plan.dtype(for: "micro_step_decoder.stop_head.4.weight", tensor: Self.tensor([1, 256])) == .q8_0)
        #expect(plan.dtype(for: "comp_embedder.merger.pos", tensor: Self.tensor([4, 128])) == .bf16)
        #expect(plan.dtype(for: "model.norm.weight", tensor: Self.tensor([256], .f32)) == .f32)
        #expect(plan.dtype(for: "model.layers.0.self_attn.q_proj.bias", tensor: Self.tensor([256])) == .bf16)
        // Rows that are not whole super-blocks fall back; rows of no whole block keep their dtype.
        #expect(plan.dtype(for: "model.layers.1.self_attn.q_proj.weight", tensor: Self.tensor([128, 128])) == .q5_0)
        #expect(plan.dtype(for: "model.layers.0.mlp.down_proj.weight", tensor: Self.tensor([128, 160])) == .q8_0)
        #expect(plan.dtype(for: "model.layers.1.self_attn.q_proj.weight", tensor: Self.tensor([7, 7])) == .bf16)
        // Already quantized: kept.
        #expect(plan.dtype(for: "model.layers.1.self_attn.q_proj.weight", tensor: Self.tensor([256, 256], .q8_0)) == .q8_0)
    }

    @Test func otherTargets() throws {
        let config = try Self.parsedConfig()
        let q4_0 = try #require(QuantizationPlan(target: .q4_0, config: config))
        #expect(q4_0.dtype(for: "model.embed_tokens.weight", tensor: Self.tensor([1024, 256])) == .q6_k)
        #expect(q4_0.dtype(for: "model.layers.0.mlp.down_proj.weight", tensor: Self.tensor([256, 512])) == .q4_0)
        let q8 = try #require(QuantizationPlan(target: .q8_0, config: config))
        #expect(q8.dtype(for: "model.embed_tokens.weight", tensor: Self.tensor([1024, 256])) == .q8_0)
        let bf16 = try #require(QuantizationPlan(target: .bf16, config: config))
        #expect(bf16.dtype(for: "model.norm.weight", tensor: Self.tensor([256], .f32)) == .bf16)
        #expect(bf16.dtype(for: "model.layers.0.mlp.down_proj.weight", tensor: Self.tensor([256, 512], .q4_k)) == .q4_k)
        #expect(QuantizationPlan(target: .f32, config: config) == nil)
    }

    /// A copy of `model` with every tensor decoded to f32.
    static func dequantizedCopy(of model: String) throws -> String {
        let source = try ModelFiles(path: model)
        let path = ScratchDirectory.root + "dequantized-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: model + "/config.json", toPath: path + "/config.json")
        let tensors = try ModelSchema(config: source.config).all.map { entry in
            let t = try source.weights.tensor(entry.name, shape: entry.shape)
            return (name: entry.name, tensor: HostTensor(shape: entry.shape, floats: t.floats()))
        }
        try SafeTensorsWriter.write(tensors, to: path + "/model.safetensors")
        return path
    }

    /// The products decode the blocks to the same values the f32 copy holds, so a quantized
    /// model generates exactly what its dequantized copy does: base and HAMburger.
    @Test(arguments: [DType.q4_k, .q4_0, .q5_0, .q5_1, .q5_k, .q6_k])
    func quantizedModelRunsLikeItsDequantizedCopy(type: DType) throws {
        let output = ScratchDirectory.root + "plan-\(type)-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let summary = try Quantizer.quantize(model: try Self.model.get(), output: output, to: type)
        #expect((summary.converted[type] ?? 0) > 10)
        #expect(summary.bytesAfter < summary.bytesBefore / 2)
        let model = try ModelFiles(path: output)
        #expect(try model.weights.tensor("model.layers.2.mlp.up_proj.weight", shape: [512, 256]).dtype == type)
        #expect(try model.weights.tensor("model.norm.weight", shape: [256]).dtype == .bf16)

        let copy = try Self.dequantizedCopy(of: output)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let prompt: [Int32] = [1019, 418, 308, 11, 535, 327, 292, 308, 11, 332, 328, 268]
        for (mode, options) in [(GenerationMode.base, GenerationOptions(maxTokens: 12, mode: .base)),
                                (.hamburger, GenerationOptions(maxTokens: 16, confidence: 0.3))] {
            func run(_ path: String) throws -> [[Int32]] {
                let engine = try ModelFiles(path: path).engine(on: CPUBackend(threads: 2), hamburger: mode == .hamburger)
                return try engine.generate(GenerationRequest(prompt: prompt, options: options)).steps
            }
            #expect(try run(output) == run(copy), "\(type) \(mode)")
        }
    }

    @Test func narrowsFloat32() throws {
        let f32 = ScratchDirectory.root + "plan-f32-\(UUID().uuidString)"
        try RandomModel.write(config: RandomModel.Shape.tiny.config, dtype: .f32, seed: 3, to: f32)
        defer { try? FileManager.default.removeItem(atPath: f32) }
        let source = try ModelFiles(path: f32)
        for target in [DType.bf16, .f16] {
            let output = f32 + "-\(target)"
            defer { try? FileManager.default.removeItem(atPath: output) }
            let summary = try Quantizer.quantize(model: f32, output: output, to: target)
            #expect(summary.kept == 0 && summary.bytesAfter == summary.bytesBefore / 2)
            let narrowed = try ModelFiles(path: output)
            for spec in ModelSchema(config: source.config).all {
            let name = spec.name, shape = spec.shape
                let t = try narrowed.weights.tensor(name, shape: shape)
                #expect(t.dtype == target, "\(name)")
                #expect(t.floats() == (try source.weights.tensor(name, shape: shape)).converted(to: target).floats(), "\(name)")
            }
        }
    }

    /// A value f16 cannot hold is an error naming the tensor and the value; nothing is written.
    @Test func f16RefusesValuesBeyondItsRange() throws {
        let path = ScratchDirectory.root + "plan-huge-\(UUID().uuidString)"
        try RandomModel.write(config: RandomModel.Shape.tiny.config, dtype: .f32, seed: 3, to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let source = try ModelFiles(path: path)
        var tensors = try ModelSchema(config: source.config).all.map { (name: $0.name, tensor: try source.weights.tensor($0.name, shape: $0.shape)) }
        let index = try #require(tensors.firstIndex { $0.name == "model.layers.5.mlp.up_proj.weight" })
        var values = tensors[index].tensor.floats()
        values[17] = 1e6
        tensors[index].tensor = HostTensor(shape: tensors[index].tensor.shape, floats: values)
        try SafeTensorsWriter.write(tensors, to: path + "/model.safetensors")
        let output = path + "-f16"
        #expect {
            _ = try Quantizer.quantize(model: path, output: output, to: .f16)
        } throws: { error in
            let text = "\(error)"
            return text.contains("model.layers.5.mlp.up_proj.weight") && text.contains("1000000") && text.contains("bf16")
        }
        #expect(!FileManager.default.fileExists(atPath: output))
        _ = try Quantizer.quantize(model: path, output: output, to: .bf16)
        try? FileManager.default.removeItem(atPath: output)
    }

    /// Every U8 tensor names its block type in the metadata; files of the first layout (one
    /// file-level "quantization": "q8_0") still load; anything else is a one-line error.
    @Test func perTensorBlockTypesInSafetensors() throws {
        let directory = ScratchDirectory.root + "u8-types-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let values = (0..<(2 * 256)).map { Float($0 % 37) / 37 - 0.5 }
        let a = HostTensor(shape: [2, 256], floats: values).converted(to: .q4_k)
        let b = HostTensor(shape: [2, 256], floats: values).converted(to: .q6_k)
        let file = directory + "/model.safetensors"
        try SafeTensorsWriter.write([("a", a), ("b", b)], to: file)
        let store = try WeightStore(directory: directory)
        #expect(try store.tensor("a", shape: [2, 256]).floats() == a.floats())
        #expect(try store.tensor("b", shape: [2, 256]).dtype == .q6_k)
        #expect(throws: LoadError.self) { _ = try store.tensor("a", shape: [2, 512]) }

        func raw(_ tensor: HostTensor) -> HostTensor {
            withExtendedLifetime(tensor) { HostTensor(dtype: .u8, shape: [tensor.shape[0], tensor.byteCount / tensor.shape[0]], copying: tensor.bytes) }
        }
        let q8 = HostTensor(shape: [2, 64], floats: Array(values.prefix(128))).converted(to: .q8_0)
        try SafeTensorsWriter.write([("w", raw(q8))], metadata: ["quantization": "q8_0"], to: file)
        #expect(try WeightStore(directory: directory).tensor("w", shape: [2, 64]).floats() == q8.floats())

        try SafeTensorsWriter.write([("w", raw(q8))], metadata: ["quantization.w": "q3_k"], to: file)
        #expect {
            _ = try WeightStore(directory: directory).tensor("w", shape: [2, 64])
        } throws: { "\($0)".contains("quantization.w") && "\($0)".contains("q3_k") }
        try SafeTensorsWriter.write([("w", raw(q8))], metadata: ["format": "pt"], to: file)
        #expect {
            _ = try WeightStore(directory: directory).tensor("w", shape: [2, 64])
        } throws: { "\($0)".contains("'w'") && "\($0)".contains("U8") }
    }
}
