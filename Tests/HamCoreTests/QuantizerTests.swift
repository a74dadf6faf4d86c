import Foundation
import HamChecks
import Testing
@testable import HamConvert
@testable import HamCore
import HamCPU
@testable import HamLoad

@Suite struct QuantizerTests {
    @Test func dequantizedValuesAreWithinHalfAStep() {
        var random = RandomModel.Random(seed: 9)
        let values = (0..<(4 * 96)).map { _ in random.uniform(2) }
        let quantized = HostTensor(shape: [4, 96], floats: values).converted(to: .q8_0)
        let back = quantized.floats()
        for block in 0..<(values.count / 32) {
            let slice = values[(block * 32)..<(block * 32 + 32)]
            let step = (slice.map(abs).max() ?? 0) / 127
            for i in slice.indices {
                #expect(abs(back[i] - values[i]) <= step * 0.5 + step * 1e-3 + 1e-7)
            }
        }
    }

    @Test func quantizedModelLoadsRunsAndKeepsWhatIsNotAMatrix() throws {
        let source = try Fixtures.tinyHAMburgerDirectory()
        let output = ScratchDirectory.root + "q8-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let summary = try Quantizer.quantize(model: source, output: output)
        #expect(summary.quantized > 100)
        #expect(summary.bytesAfter < summary.bytesBefore / 2 + summary.bytesBefore / 8)

        let model = try ModelFiles(path: output)
        let original = try ModelFiles(path: source)
        #expect(model.config == original.config)
        let q = try model.weights.tensor("model.layers.0.self_attn.q_proj.weight", shape: [128, 128])
        #expect(q.dtype == .q8_0)
        let positions = try model.weights.tensor("comp_embedder.merger.pos", shape: [4, 64])
        #expect(positions.dtype == (try original.weights.tensor("comp_embedder.merger.pos", shape: [4, 64])).dtype)
        let norm = try model.weights.tensor("model.norm.weight", shape: [128])
        #expect(norm.dtype == .bf16)

        // Same prompt on both: the first tokens of a random model survive 8-bit weights.
        let prompt: [Int32] = [1019, 418, 308, 11, 535, 327, 292, 308, 11, 332, 328, 268, 597, 401, 396, 25]
        let options = GenerationOptions(maxTokens: 4, confidence: 0.3)
        let a = try model.engine(on: CPUBackend()).generate(GenerationRequest(prompt: prompt, options: options))
        let b = try original.engine(on: CPUBackend()).generate(GenerationRequest(prompt: prompt, options: options))
        #expect(a.tokens == b.tokens)
    }

    @Test func refusesAnExistingOutputAndOtherTypes() throws {
        let source = try Fixtures.tinyHAMburgerDirectory()
        let output = ScratchDirectory.root + "q8-exists-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: output + "/keep"))
        defer { try? FileManager.default.removeItem(atPath: output) }
        #expect(throws: ConvertError.self) { _ = try Quantizer.quantize(model: source, output: output) }
        #expect(FileManager.default.fileExists(atPath: output + "/keep"))
        #expect(throws: LoadError.self) { _ = try Quantizer.quantize(model: source, output: output + "-2", to: .f32) }
        #expect(throws: LoadError.self) { _ = try Quantizer.quantize(model: source, output: output + "-2", to: .i32) }
        #expect(!FileManager.default.fileExists(atPath: output + "-2"))
        #expect(throws: LoadError.self) { _ = try Quantizer.quantize(model: "/nonexistent", output: output + "-3") }
    }

    /// A U8 tensor in a file that does not say it holds q8_0 blocks is refused.
    @Test func unmarkedBytesAreRefused() throws {
        let directory = ScratchDirectory.root + "u8-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bytes = [UInt8](repeating: 1, count: 34)
        let tensor = bytes.withUnsafeBytes { HostTensor(dtype: .u8, shape: [1, 34], copying: $0) }
        try SafeTensorsWriter.write([("w", tensor)], metadata: ["format": "pt"], to: directory + "/model.safetensors")
        let store = try WeightStore(directory: directory)
        #expect(throws: LoadError.self) { _ = try store.tensor("w", shape: [1, 32]) }
    }
}
