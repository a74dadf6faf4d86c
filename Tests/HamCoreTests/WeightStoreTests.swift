import Foundation
import HamChecks
import Testing
@testable import HamConvert
@testable import HamCore
import HamCPU
@testable import HamLoad

/// Hugging Face layouts: one file or shards with an index; tied or untied heads; mixed dtypes.
@Suite struct WeightStoreTests {
    let scratch: String

    init() throws {
        scratch = ScratchDirectory.root + "store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    /// The tiny base model re-written as two shards, f16/f32/bf16 mixed, with an untied lm_head.
    @Test func shardedMixedDTypeUntiedModelGivesTheSameLogits() throws {
        let source = try SafeTensorsFile(path: Fixtures.tinyBase.path + "/model.safetensors")
        let names = source.names
        var shards: [[(name: String, tensor: HostTensor)]] = [[], []]
        var weightMap: [String: String] = [:]
        for (i, name) in names.enumerated() {
            let tensor = try source.tensor(name)
            let values = tensor.floats()
            // Rotate dtypes: bf16 values are exact in f32, and in f16 unless tiny (subnormal).
            let converted: HostTensor
            switch i % 3 {
            case 0: converted = HostTensor(shape: tensor.shape, floats: values)
            case 1: converted = values.map(floatToF16).withUnsafeBytes { HostTensor(dtype: .f16, shape: tensor.shape, copying: $0) }
            default: converted = tensor
            }
            shards[i % 2].append((name, converted))
            weightMap[name] = "model-0000\(i % 2 + 1)-of-00002.safetensors"
        }
        let embedding = try source.tensor("model.embed_tokens.weight")
        shards[1].append(("lm_head.weight", embedding))
        weightMap["lm_head.weight"] = "model-00002-of-00002.safetensors"
        for (i, shard) in shards.enumerated() {
            try SafeTensorsWriter.write(shard, to: scratch + "/model-0000\(i + 1)-of-00002.safetensors")
        }
        let index = try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": weightMap])
        try index.write(to: URL(fileURLWithPath: scratch + "/model.safetensors.index.json"))
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.tinyBase.appendingPathComponent("config.json"))) as? [String: Any] ?? [:]
        config["tie_word_embeddings"] = false
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: scratch + "/config.json"))

        let prompt: [Int32] = [1019, 418, 308, 11, 535]
        func logits(_ path: String) throws -> [Float] {
            var logits: [Float] = []
            let request = GenerationRequest(prompt: prompt, options: GenerationOptions(maxTokens: 1, mode: .base), traceLogits: true)
            _ = try ModelFiles(path: path).engine(on: CPUBackend(threads: 1)).generate(request) { event in
                if case .trace(_, let trace) = event { logits = trace.logits }
            }
            return logits
        }
        let reference = try logits(Fixtures.tinyBase.path)
        let sharded = try logits(scratch)
        let worst = zip(reference, sharded).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 1e-3, "largest logit difference \(worst)")
    }

    @Test func indexNamingAMissingShard() throws {
        let index = try JSONSerialization.data(withJSONObject: ["weight_map": ["a": "absent.safetensors"]])
        try index.write(to: URL(fileURLWithPath: scratch + "/model.safetensors.index.json"))
        #expect(throws: LoadError.fileNotFound(path: scratch + "/absent.safetensors")) { _ = try WeightStore(directory: scratch) }
    }
}
