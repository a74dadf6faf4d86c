import Foundation
import HamChecks
import Testing
@testable import HamConvert
@testable import HamCore
import HamCPU
@testable import HamLoad

/// A HAMburger model directory over a base GGUF (issue 15's layout): config.json names the GGUF
/// and holds `hamburger`; model.safetensors holds only the HAMburger modules, in Hugging Face
/// layout (trained in PyTorch). The base layers run llama.cpp's permuted q/k with adjacent RoPE
/// pairs, the micro-step decoder its own with halves: the tiny reference's HAMburger cases must
/// come out as from the converted checkpoint.
@Suite struct BaseGGUFDirectoryTests {
    /// The tiny reference as such a directory: its base from tiny-llama3.gguf, its modules from
    /// the converted checkpoint.
    static func makeDirectory(baseGGUF: String = GGUFReaderTests.tinyLlama, extraConfig: String = "",
                              alsoWrite extraTensors: [String] = []) throws -> String {
        let converted = try ModelFiles(path: try Fixtures.tinyHAMburgerDirectory())
        let hc = try #require(converted.config.hamburger)
        let directory = ScratchDirectory.root + "on-gguf-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let modules = ModelSchema(config: converted.config).all.filter {
            !$0.name.hasPrefix("model.") && $0.name != "lm_head.weight" || extraTensors.contains($0.name)
        }
        let tensors = try modules.map { (name: $0.name, tensor: try converted.weights.tensor($0.name, shape: $0.shape)) }
        try SafeTensorsWriter.write(tensors, to: directory + "/model.safetensors")
        let config = """
            {"base_gguf": "\(baseGGUF)",\(extraConfig)
             "hamburger": {"max_steps": \(hc.maxSteps), "num_micro_layers": \(hc.numMicroLayers),
                           "feature_layers": \(hc.featureLayers), "merger_heads": \(hc.mergerHeads),
                           "micro_attention": "causal"}}
            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: directory + "/config.json"))
        return directory
    }

    static let directory = Result { try makeDirectory() }

    @Test func opensWithTheBasesConfigAndTokenizer() throws {
        let model = try ModelFiles(path: try Self.directory.get())
        let base = try ModelFiles(path: GGUFReaderTests.tinyLlama)
        var expected = base.config
        expected.hamburger = try ModelFiles(path: try Fixtures.tinyHAMburgerDirectory()).config.hamburger
        #expect(model.config == expected)
        #expect(model.config.ropePairing == .adjacent)
        #expect(model.isHAMburger)
        #expect(model.eosTokenIds == base.eosTokenIds)
        guard case .gguf = model.tokenizer else { Issue.record("the tokenizer is not the GGUF's"); return }
        #expect(model.weights.dtype(of: "model.layers.0.self_attn.q_proj.weight") == .bf16)
        #expect(model.weights.contains("comp_embedder.merger.pos"))
    }

    @Test(arguments: Fixtures.cases.indices.filter { !Fixtures.cases[$0].isBase })
    func hamburgerCase(index: Int) throws {
        let c = Fixtures.cases[index]
        let model = try ModelFiles(path: try Self.directory.get())
        for difference in try ReferenceCases.differences(c, engine: try model.engine(on: CPUBackend())) {
            Issue.record("case \(index) \(c.label): \(difference)")
        }
    }

    @Test func theBaseFileIsFoundInTheDirectoryOrTheCache() throws {
        // Relative to the directory.
        let relative = try Self.makeDirectory(baseGGUF: "base.gguf")
        try FileManager.default.copyItem(atPath: GGUFReaderTests.tinyLlama, toPath: relative + "/base.gguf")
        #expect(try ModelFiles(path: relative).isHAMburger)
        // Nowhere: one line naming the field, the value and both places looked in.
        let missing = try Self.makeDirectory(baseGGUF: "absent.gguf")
        do {
            _ = try ModelFiles(path: missing)
            Issue.record("accepted")
        } catch let error as LoadError {
            #expect(error.description.hasPrefix(missing + "/config.json: field 'base_gguf' is 'absent.gguf', which is neither in \(missing) nor in "), "\(error)")
        }
    }

    @Test func oneSourceOfTruth() throws {
        let restated = try Self.makeDirectory(extraConfig: #" "hidden_size": 128,"#)
        #expect(throws: LoadError.invalidField(path: restated + "/config.json", field: "hidden_size", detail: "is given beside base_gguf; the base model's config comes from its GGUF file alone")) {
            _ = try ModelFiles(path: restated)
        }
        let shadowing = try Self.makeDirectory(alsoWrite: ["model.norm.weight"])
        #expect(throws: LoadError.malformed(path: GGUFReaderTests.tinyLlama, detail: "tensor 'model.norm.weight' is also in \(shadowing)/model.safetensors; each tensor must come from one file")) {
            _ = try ModelFiles(path: shadowing)
        }
    }
}
