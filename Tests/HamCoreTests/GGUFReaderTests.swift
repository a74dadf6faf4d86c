import Foundation
import Testing
@testable import HamCore
@testable import HamLoad

/// The GGUF reader against files the `gguf` package wrote (Tests/Fixtures/gguf, made by
/// Tools/gguf/make_fixtures.py): every metadata type, arrays, tensor infos, data.
@Suite struct GGUFReaderTests {
    static let allTypes = Fixtures.gguf.appendingPathComponent("all-types.gguf").path
    static let tinyLlama = Fixtures.gguf.appendingPathComponent("tiny-llama3.gguf").path

    @Test func everyMetadataType() throws {
        let file = try GGUFFile(path: Self.allTypes)
        #expect(file.version == 3)
        let m = file.metadata
        #expect(m["general.architecture"] == .string("test"))
        #expect(m["t.uint8"] == .uint8(200))
        #expect(m["t.int8"] == .int8(-100))
        #expect(m["t.uint16"] == .uint16(60000))
        #expect(m["t.int16"] == .int16(-30000))
        #expect(m["t.uint32"] == .uint32(4_000_000_000))
        #expect(m["t.int32"] == .int32(-2_000_000_000))
        #expect(m["t.uint64"] == .uint64(18_000_000_000_000_000_000))
        #expect(m["t.int64"] == .int64(-9_000_000_000_000_000_000))
        #expect(m["t.float32"] == .float32(0.15625))
        #expect(m["t.float64"] == .float64(-2.5e-300))
        #expect(m["t.bool"] == .bool(true))
        #expect(m["t.string"] == .string("héllo, 世界 🌍"))
        #expect(m["a.uint8"] == .array(.uint8([0, 255])))
        #expect(m["a.int8"] == .array(.int8([-128, 127])))
        #expect(m["a.uint16"] == .array(.uint16([1, 65535])))
        #expect(m["a.int16"] == .array(.int16([-32768, 7])))
        #expect(m["a.uint32"] == .array(.uint32([3, 4_294_967_295])))
        #expect(m["a.int32"] == .array(.int32([-5, 6])))
        #expect(m["a.uint64"] == .array(.uint64([UInt64.max])))
        #expect(m["a.int64"] == .array(.int64([Int64.min])))
        #expect(m["a.float32"] == .array(.float32([1.5, -0.25])))
        #expect(m["a.float64"] == .array(.float64([1e300])))
        #expect(m["a.bool"] == .array(.bool([true, false, true])))
        #expect(m["a.string"] == .array(.string(["a", "", "Ġb"])))
        #expect(m["a.nested"] == .array(.array([.int32([1, 2]), .int32([3])])))
        #expect(file.metadataKeys.first == "general.architecture")
        #expect(file.metadataKeys.count == 26)

        // Typed accessors, and their errors name the key and both types.
        #expect(try file.integer("t.uint32") == 4_000_000_000)
        #expect(try file.integer("absent") == nil)
        #expect(try file.strings("a.string") == ["a", "", "Ġb"])
        #expect(try file.integers("a.int16") == [-32768, 7])
        #expect(throws: LoadError.invalidField(path: Self.allTypes, field: "t.string", detail: "is 'héllo, 世界 🌍' (STRING); expected an integer")) {
            try file.integer("t.string")
        }
        #expect(throws: LoadError.invalidField(path: Self.allTypes, field: "a.int8", detail: "is an array of 2 INT8; expected an ARRAY of STRING")) {
            try file.strings("a.int8")
        }
    }

    @Test func tensorInfosAndData() throws {
        let file = try GGUFFile(path: Self.allTypes)
        #expect(file.tensorNames == ["f32", "f16", "bf16", "q8_0", "vector", "q5_0", "q2_k"])
        #expect(file.alignment == 32)
        #expect(file.dataOffset % 32 == 0)
        let expected = (0..<64).map { Float($0) - 32 }
        for (name, dtype) in [("f32", DType.f32), ("f16", .f16), ("bf16", .bf16), ("q8_0", .q8_0)] {
            let info = try #require(file.tensors[name])
            #expect(info.dims == [32, 2], "\(name)")
            #expect(info.shape == [2, 32], "\(name)")
            let tensor = try file.tensor(name)
            #expect(tensor.dtype == dtype)
            #expect(tensor.shape == [2, 32])
            // q8_0 of -32 ... 31 is not exact; the quantizer tests check our q8_0 against gguf's bytes.
            let values = dtype == .q8_0 ? HostTensor(shape: [2, 32], floats: expected).converted(to: .q8_0).floats() : expected
            #expect(tensor.floats() == values, "\(name)")
        }
        #expect(try file.tensor("vector").floats() == [1, 2, 3])
        // The Q5_0 block of bytes 0 ... 21: d = 2^-16 (f16 0x0100), qh = 0x05040302; the quants
        // minus 16 are what `gguf.quants.dequantize` gives divided by d.
        let q5 = try file.tensor("q5_0")
        #expect(q5.dtype == .q5_0 && q5.shape == [1, 32])
        let quants: [Float] = [-10, 7, -8, -7, -6, -5, -4, -3, 14, 15, -16, -15, -14, -13, -12, -11,
                               -16, -16, 0, -16, -16, -16, -16, -16, 0, -16, 1, -15, -15, -15, -15, -15]
        #expect(q5.floats() == quants.map { $0 * 0x1p-16 })
        #expect(file.tensors["q2_k"]?.type.name == "Q2_K")
        #expect(throws: LoadError.dtypeNotAllowed(path: Self.allTypes, tensor: "q2_k", dtype: "Q2_K", expected: GGMLType.supportedNames)) {
            try file.tensor("q2_k")
        }
        #expect(throws: LoadError.missingTensor(path: Self.allTypes, tensor: "absent")) { try file.tensor("absent") }
    }

    /// Written back from what was read, both files are the `gguf` package's bytes exactly:
    /// nothing in the header was skipped or misread.
    @Test(arguments: [allTypes, tinyLlama])
    func writingBackGivesTheSameBytes(path: String) throws {
        let (file, bytes) = try GGUFTestFile.read(path)
        #expect(GGUFTestFile(file, bytes: bytes).bytes == bytes)
    }

    /// Tensors are views of the mapping, not copies: the CPU backend computes on them in place.
    @Test func tensorsAreNotCopied() throws {
        let file = try GGUFFile(path: Self.tinyLlama)
        let a = try file.tensor("token_embd.weight"), b = try file.tensor("token_embd.weight")
        let sameOwner = a.owner === b.owner, copied = a.owner is OwnedBytes
        #expect(a.data == b.data)
        #expect(sameOwner)
        #expect(!copied)
    }

    /// hamrun's weight dtypes are ggml's types under the same name, with the same blocks.
    @Test func dtypesHaveGGMLsBlocks() throws {
        var mapped: [String] = []
        for code in UInt32(0)..<64 {
            guard let type = GGMLType(code: code), let dtype = type.dtype else { continue }
            #expect(dtype.blockElements == type.blockElements, "\(type)")
            #expect(dtype.blockBytes == type.blockBytes, "\(type)")
            mapped.append(type.name)
        }
        #expect(Set(["F32", "F16", "BF16", "Q8_0"]).isSubset(of: mapped))
        #expect(GGMLType(code: 26)?.dtype == nil, "I32 tensors are not weights")
    }

    @Test func tensorNamesMapBothWays() {
        let pairs = [
            ("token_embd.weight", "model.embed_tokens.weight"),
            ("output_norm.weight", "model.norm.weight"),
            ("output.weight", "lm_head.weight"),
            ("blk.0.attn_norm.weight", "model.layers.0.input_layernorm.weight"),
            ("blk.12.attn_q.weight", "model.layers.12.self_attn.q_proj.weight"),
            ("blk.3.attn_k.bias", "model.layers.3.self_attn.k_proj.bias"),
            ("blk.3.attn_v.weight", "model.layers.3.self_attn.v_proj.weight"),
            ("blk.29.attn_output.weight", "model.layers.29.self_attn.o_proj.weight"),
            ("blk.1.ffn_norm.weight", "model.layers.1.post_attention_layernorm.weight"),
            ("blk.1.ffn_gate.weight", "model.layers.1.mlp.gate_proj.weight"),
            ("blk.1.ffn_up.weight", "model.layers.1.mlp.up_proj.weight"),
            ("blk.1.ffn_down.bias", "model.layers.1.mlp.down_proj.bias"),
        ]
        for (gguf, hf) in pairs {
            #expect(GGUFTensorNames.huggingFace(gguf) == hf)
            #expect(GGUFTensorNames.gguf(hf) == gguf)
        }
        for name in ["rope_freqs.weight", "blk.x.attn_q.weight", "blk.01.attn_q.weight", "blk.1.attn_qkv.weight", "token_embd"] {
            #expect(GGUFTensorNames.huggingFace(name) == nil, "\(name)")
        }
        for name in ["comp_embedder.merger.pos", "micro_step_decoder.decoders.0.self_attn.q_proj.weight", "model.layers.1.mlp.act.weight"] {
            #expect(GGUFTensorNames.gguf(name) == nil, "\(name)")
        }
    }
}

