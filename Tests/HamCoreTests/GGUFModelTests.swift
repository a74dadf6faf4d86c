import Foundation
import HamChecks
import Testing
@testable import HamCore
import HamCPU
@testable import HamLoad

/// A GGUF file is a model: config from its metadata, weights by Hugging Face name, llama.cpp's
/// permuted q/k rows used as stored with RoPE on adjacent pairs, Llama 3 scaling from
/// `rope_freqs.weight`. The tiny reference base model converted as llama.cpp converts it must
/// reproduce the reference's base cases like its safetensors directory does.
@Suite struct GGUFModelTests {
    static let path = GGUFReaderTests.tinyLlama

    @Test func configFromMetadata() throws {
        let gguf = try ModelFiles(path: Self.path)
        let directory = try ModelFiles(path: Fixtures.tinyBase.path)
        var expected = directory.config
        // What differs is how the same facts are stored.
        #expect(gguf.config.ropePairing == .adjacent)
        #expect(expected.ropeScaling != nil && gguf.config.ropeScaling == nil)
        #expect(gguf.config.ropeFrequencyFactors?.count == expected.headDim / 2)
        expected.ropePairing = .adjacent
        expected.ropeScaling = nil
        expected.ropeFrequencyFactors = gguf.config.ropeFrequencyFactors
        #expect(gguf.config == expected)
        #expect(gguf.eosTokenIds == directory.eosTokenIds)
        #expect(gguf.bosTokenId == directory.bosTokenId)
        guard case .gguf = gguf.tokenizer else { Issue.record("no GGUF tokenizer"); return }
    }

    /// Dividing by llama.cpp's factors gives Hugging Face's Llama 3 frequencies.
    @Test func ropeFactorsGiveLlama3Frequencies() throws {
        let gguf = RoPE(config: try ModelFiles(path: Self.path).config)
        let hf = RoPE(config: try ModelFiles(path: Fixtures.tinyBase.path).config)
        for (a, b) in zip(gguf.inverseFrequencies, hf.inverseFrequencies) {
            #expect(abs(a - b) <= 2 * b.ulp, "\(a) vs \(b)")
        }
    }

    @Test(arguments: Fixtures.cases.indices.filter { Fixtures.cases[$0].isBase })
    func baseCase(index: Int) throws {
        let c = Fixtures.cases[index]
        let model = try ModelFiles(path: Self.path)
        for difference in try ReferenceCases.differences(c, engine: try model.engine(on: CPUBackend())) {
            Issue.record("case \(index) \(c.label): \(difference)")
        }
    }

    /// With the halves pairing the permuted rows compute another model: the test can fail.
    @Test func theWrongPairingIsCaught() throws {
        let c = try #require(Fixtures.cases.first { $0.isBase })
        let model = try ModelFiles(path: Self.path)
        var config = model.config
        config.ropePairing = .halves
        let engine = try model.engine(on: CPUBackend(), config: config)
        #expect(!(try ReferenceCases.differences(c, engine: engine)).isEmpty)
    }

    @Test func aMissingTensorIsNamed() throws {
        let scratch = ScratchDirectory.root + "gguf-model-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let (file, bytes) = try GGUFTestFile.read(Self.path)
        var f = GGUFTestFile(file, bytes: bytes)
        f.tensors.removeAll { $0.name == "blk.3.ffn_up.weight" }
        let missing = try f.write("missing.gguf", in: scratch)
        #expect(throws: LoadError.missingTensor(path: missing, tensor: "blk.3.ffn_up.weight")) {
            _ = try ModelFiles(path: missing).engine(on: CPUBackend(threads: 1))
        }

        f = GGUFTestFile(file, bytes: bytes)
        // Same bytes, other shape: [128, 256] read as [64, 512].
        if let i = f.tensors.firstIndex(where: { $0.name == "blk.2.ffn_gate.weight" }) { f.tensors[i].dims = [64, 512] }
        let reshaped = try f.write("reshaped.gguf", in: scratch)
        #expect(throws: LoadError.shapeMismatch(path: reshaped, tensor: "blk.2.ffn_gate.weight", expected: [256, 128], found: [512, 64])) {
            _ = try ModelFiles(path: reshaped).engine(on: CPUBackend(threads: 1))
        }
    }

    @Test func badConfigMetadataIsNamed() throws {
        let scratch = ScratchDirectory.root + "gguf-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let (file, bytes) = try GGUFTestFile.read(Self.path)
        func variant(_ name: String, _ change: (inout [(key: String, value: GGUFValue)]) -> Void) throws -> String {
            var f = GGUFTestFile(file, bytes: bytes)
            change(&f.metadata)
            return try f.write(name, in: scratch)
        }
        func set(_ key: String, _ value: GGUFValue) -> (inout [(key: String, value: GGUFValue)]) -> Void {
            { metadata in
                if let i = metadata.firstIndex(where: { $0.key == key }) { metadata[i].value = value } else { metadata.append((key, value)) }
            }
        }
        let cases: [(String, (inout [(key: String, value: GGUFValue)]) -> Void, String)] = [
            ("arch", set("general.architecture", .string("qwen2")), "field 'general.architecture' is 'qwen2'; hamrun runs 'llama' models"),
            ("layers", { $0.removeAll { $0.key == "llama.block_count" } }, "missing field 'llama.block_count'"),
            ("heads", set("llama.attention.head_count_kv", .uint32(3)), "field 'llama.attention.head_count_kv' is 3; expected a divisor of llama.attention.head_count (4)"),
            ("eps", set("llama.attention.layer_norm_rms_epsilon", .float32(-1)), "field 'llama.attention.layer_norm_rms_epsilon' is -1.0; expected a number above 0"),
            ("type", set("llama.embedding_length", .string("128")), "field 'llama.embedding_length' is '128' (STRING); expected an integer"),
            ("rot", set("llama.rope.dimension_count", .uint32(16)), "field 'llama.rope.dimension_count' is 16; hamrun rotates whole heads (32)"),
            ("moe", set("llama.expert_count", .uint32(8)), "field 'llama.expert_count' is 8"),
            ("scaling", set("llama.rope.scaling.type", .string("yarn")), "field 'llama.rope.scaling.type' is 'yarn'"),
            ("eos", set("tokenizer.ggml.eos_token_id", .uint32(5000)), "field 'tokenizer.ggml.eos_token_id' is 5000; expected a token id below 1024"),
        ]
        for (name, change, message) in cases {
            let path = try variant(name + ".gguf", change)
            do {
                _ = try ModelFiles(path: path)
                Issue.record("\(name): accepted")
            } catch let error as LoadError {
                #expect(error.description.hasPrefix(path + ": "), "\(error)")
                #expect(error.description.contains(message), "\(name): \(error)")
            }
        }
    }

    @Test func notAModel() throws {
        let scratch = ScratchDirectory.root + "gguf-open-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let text = scratch + "/notes.txt"
        try Data("hello".utf8).write(to: URL(fileURLWithPath: text))
        #expect(throws: LoadError.unreadable(path: text, reason: "not a directory or a GGUF file (expected a model directory with config.json and model.safetensors, or a .gguf file)")) {
            _ = try ModelFiles(path: text)
        }
        let named = scratch + "/model.gguf"
        try Data("hello".utf8).write(to: URL(fileURLWithPath: named))
        #expect(throws: LoadError.malformed(path: named, detail: "not a GGUF file: starts with bytes 68 65 6c 6c; expected 'GGUF'")) {
            _ = try ModelFiles(path: named)
        }
        #expect(throws: LoadError.unreadable(path: Self.path, reason: "not a directory (expected a model directory with config.json and model.safetensors)")) {
            _ = try ModelFiles(directory: Self.path)
        }
    }
}
