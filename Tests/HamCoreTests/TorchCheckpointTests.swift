import Foundation
@testable import HamConvert
@testable import HamCore
import HamCPU
@testable import HamLoad
import Testing

@Suite("torch checkpoint reader")
struct TorchCheckpointTests {
    typealias F = ConvertFixtures

    @Test("the reference checkpoint's state dict, hyper-parameters and shared storage")
    func referenceCheckpoint() throws {
        let checkpoint = try TorchCheckpoint(path: F.referenceCheckpoint)
        #expect(checkpoint.archiveName == "hamburger")
        #expect(checkpoint.stateDict.count == 199)
        #expect(checkpoint.stateDict.first?.name == "model.model.embed_tokens.weight")
        guard case .int(4)? = checkpoint.hyperParameters?["max_steps"] else {
            Issue.record("hyper_parameters.max_steps is not 4")
            return
        }
        let names = ["model.model.embed_tokens.weight", "model.lm_head.weight", "comp_embedder.embedding.weight"]
        let refs = try names.map { try checkpoint.tensorRef($0) }
        #expect(Set(refs.map(\.storage.key)).count == 1)
        #expect(try checkpoint.sameContents(names[0], names[2]))
        let embedding = try checkpoint.tensor(names[0])
        #expect(embedding.dtype == .bf16 && embedding.shape == [1024, 128])
        let micro = try checkpoint.describe("micro_step_decoder.decoders.0.self_attn.q_proj.weight")
        #expect(micro.dtype == .f32 && micro.shape == [128, 128])
    }

    @Test("views, strided tensors and the objects around the state dict")
    func otherShapesCheckpoint() throws {
        let checkpoint = try TorchCheckpoint(path: (F.otherShapes as NSString).appendingPathComponent("hamburger.ckpt"))
        let strided = try checkpoint.tensorRef("comp_embedder.merger.k_proj.weight")
        #expect(!strided.isContiguous && strided.strides == [192, 2])
        let view = try checkpoint.tensorRef("micro_step_decoder.stop_head.2.weight")
        #expect(view.isContiguous && view.offset == 64 * 64 + 64)
        let top = try #require(checkpoint.root.dictionary)
        guard case .object(let callbacks)? = top["callbacks"]?.dictionary?.entries.first?.value.dictionary?["state"] else {
            Issue.record("callback state is not an opaque object")
            return
        }
        #expect(callbacks.callable == PickleGlobal(module: "__main__", name: "CallbackState"))
        guard case .int(let step)? = top["global_step"], case .bigInt? = top["misc"]?.dictionary?["huge"] else {
            Issue.record("integers are not read")
            return
        }
        #expect(step == 1 << 40)
        // Unknown storage types are fine until someone asks for such a tensor as a weight.
        let optimizer = top["optimizer_states"]
        guard case .list(let states)? = optimizer, states.items.count == 1 else {
            Issue.record("optimizer_states is not a list of one")
            return
        }
    }

    @Test("zip CRC-32 gives the standard check value at every length")
    func crc32() {
        let check = Array("123456789".utf8)
        #expect(check.withUnsafeBytes { ZipCRC32.checksum($0) } == 0xCBF4_3926)
        // Lengths around the 8-byte steps, and continuing a checksum across chunks.
        let bytes = (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        bytes.withUnsafeBytes { all in
            for split in [0, 1, 7, 8, 9, 63, 99, 100] {
                let first = ZipCRC32.checksum(UnsafeRawBufferPointer(rebasing: all[..<split]))
                let whole = ZipCRC32.checksum(UnsafeRawBufferPointer(rebasing: all[split...]), continuing: first)
                #expect(whole == 0x7D11_B4C9, "split at \(split)")
            }
        }
    }

    @Test("pickle protocol 4 opcodes (frames, memoize, stack globals, sets)")
    func protocol4() throws {
        // pickle.dumps({'a': [1, 2**70, -5, -(2**33), 2.5, 'xé', b'y', None, True, False, (1,), (1, 2),
        //   (1, 2, 3), ()], 'od': OrderedDict([('k', 1)]), 's': {1}, 'fs': frozenset([2])}, 4)
        let bytes: [UInt8] = [128, 4, 149, 144, 0, 0, 0, 0, 0, 0, 0, 125, 148, 40, 140, 1, 97, 148, 93, 148, 40, 75, 1, 138, 9, 0, 0, 0, 0, 0, 0, 0, 0, 64, 74, 251, 255, 255, 255, 138, 5, 0, 0, 0, 0, 254, 71, 64, 4, 0, 0, 0, 0, 0, 0, 140, 3, 120, 195, 169, 148, 67, 1, 121, 148, 78, 136, 137, 75, 1, 133, 148, 75, 1, 75, 2, 134, 148, 75, 1, 75, 2, 75, 3, 135, 148, 41, 101, 140, 2, 111, 100, 148, 140, 11, 99, 111, 108, 108, 101, 99, 116, 105, 111, 110, 115, 148, 140, 11, 79, 114, 100, 101, 114, 101, 100, 68, 105, 99, 116, 148, 147, 148, 41, 82, 148, 140, 1, 107, 148, 75, 1, 115, 140, 1, 115, 148, 143, 148, 40, 75, 1, 144, 140, 2, 102, 115, 148, 40, 75, 2, 145, 148, 117, 46]
        let value = try bytes.withUnsafeBytes { raw in
            var unpickler = Unpickler(bytes: raw, path: "test", entry: "data.pkl", persistentLoad: { _ in .none }) { function, _ in
                function == PickleGlobal(module: "collections", name: "OrderedDict") ? .dict(PickleDict()) : .object(PickleObject(callable: function))
            }
            return try unpickler.load()
        }
        let top = try #require(value.dictionary)
        guard case .list(let list)? = top["a"] else {
            Issue.record("'a' is not a list")
            return
        }
        let rendered = list.items.map { item -> String in
            switch item {
            case .int(let i): "\(i)"
            case .bigInt(let n): "big\(n)"
            case .float(let f): "\(f)"
            case .string(let s): s
            case .bytes(let b): "b\(b)"
            case .none: "None"
            case .bool(let b): "\(b)"
            case .tuple(let t): "t\(t.count)"
            default: "?"
            }
        }
        #expect(rendered == ["1", "big9", "-5", "-8589934592", "2.5", "xé", "b[121]", "None", "true", "false", "t1", "t2", "t3", "t0"])
        guard case .dict? = top["od"], case .list(let set)? = top["s"], case .list(let frozen)? = top["fs"] else {
            Issue.record("dict or sets not read")
            return
        }
        #expect(set.items.count == 1 && frozen.items.count == 1)
    }

    @Test("every truncation and many corruptions of data.pkl are errors, never crashes")
    func damagedPickles() throws {
        let archive = try CheckpointArchive(path: F.referenceCheckpoint)
        let (pickle, owner) = try archive.contents(of: "hamburger/data.pkl")
        let original = Array(pickle)
        withExtendedLifetime(owner) {}

        func run(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { raw in
                var unpickler = Unpickler(bytes: raw, path: "test", entry: "data.pkl", persistentLoad: { $0 }) { function, _ in
                    .object(PickleObject(callable: function))
                }
                _ = try unpickler.load()
            }
        }
        for length in stride(from: 0, to: original.count - 1, by: 61) {
            #expect(throws: LoadError.self) { try run(Array(original.prefix(length))) }
        }
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<300 {
            var damaged = original
            for _ in 0..<3 {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                damaged[Int(seed >> 33) % damaged.count] = UInt8(truncatingIfNeeded: seed >> 17)
            }
            do { try run(damaged) } catch is LoadError {} catch { Issue.record("unexpected error type: \(error)") }
        }
    }
}
