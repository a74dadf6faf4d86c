import Foundation
@testable import HamConvert
@testable import HamCore
import HamCPU
@testable import HamLoad
import HamJSON
import Testing
import ZIPFoundation

@Suite("hamrun convert")
struct CheckpointConverterTests {
    typealias F = ConvertFixtures

    private func convert(_ checkpoint: String, base: String, into dir: String, force: Bool = false) throws -> (String, CheckpointConverter.Summary) {
        let out = (dir as NSString).appendingPathComponent("out")
        let summary = try CheckpointConverter.convert(checkpoint: checkpoint, base: base, output: out, force: force)
        return (out, summary)
    }

    @Test("the reference checkpoint converts to exactly the tensors torch holds")
    func referenceCheckpoint() throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let start = ContinuousClock.now
        let (out, summary) = try convert(F.referenceCheckpoint, base: F.referenceBase, into: dir)
        print("converting the reference checkpoint took \(ContinuousClock.now - start)")
        try F.verify(out, against: try F.expected(F.reference))
        #expect(summary.tensorCount == 197)
        #expect(summary.copiedFiles.sorted() == ["generation_config.json", "tokenizer.json"])
        for name in summary.copiedFiles {
            let copied = FileManager.default.contents(atPath: (out as NSString).appendingPathComponent(name))
            let original = FileManager.default.contents(atPath: (F.referenceBase as NSString).appendingPathComponent(name))
            #expect(copied != nil && copied == original, "\(name)")
        }
        // The runtime's loader accepts it as a HAMburger model.
        let model = try ModelFiles(path: out)
        #expect(model.isHAMburger)
        #expect(model.eosTokenIds == [1023])
        // Only the finished directory is left.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out"])
    }

    @Test("the base model's tensors equal the base directory's, bit for bit")
    func baseTensorsUnchanged() throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let (out, _) = try convert(F.referenceCheckpoint, base: F.referenceBase, into: dir)
        let converted = try SafeTensorsFile(path: (out as NSString).appendingPathComponent("model.safetensors"))
        let base = try SafeTensorsFile(path: (F.referenceBase as NSString).appendingPathComponent("model.safetensors"))
        #expect(base.names.count == 146)
        for name in base.names {
            let want = try base.tensor(name)
            let got = try converted.tensor(name)
            #expect(got.dtype == want.dtype && got.shape == want.shape, "\(name)")
            #expect(got.bytes.elementsEqual(want.bytes), "\(name)")
        }
    }

    @Test("config.json is the base config, literals unchanged, plus the hamburger object")
    func configKeepsBaseFields() throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let (out, _) = try convert(F.referenceCheckpoint, base: F.referenceBase, into: dir)
        let text = try String(contentsOfFile: (out as NSString).appendingPathComponent("config.json"), encoding: .utf8)
        let written = JSONText(try JSONDocument(Array(text.utf8), source: "out").root)
        let baseText = try String(contentsOfFile: (F.referenceBase as NSString).appendingPathComponent("config.json"), encoding: .utf8)
        guard case .object(let baseMembers) = JSONText(try JSONDocument(Array(baseText.utf8), source: "base").root) else {
            Issue.record("base config is not an object")
            return
        }
        for member in baseMembers {
            #expect(written[member.key] == member.value, "\(member.key)")
        }
        #expect(text.contains("\"factor\": 32.0"))
        #expect(text.contains("\"rms_norm_eps\": 1e-05"))
        #expect(written["hamburger"]?["merger_heads"] == .literal("64"))
    }

    @Test("a checkpoint with other sizes, untied embeddings, views, f16 and junk converts")
    func otherShapes() throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let (out, summary) = try convert((F.otherShapes as NSString).appendingPathComponent("hamburger.ckpt"),
                                         base: (F.otherShapes as NSString).appendingPathComponent("base"), into: dir)
        try F.verify(out, against: try F.expected(F.otherShapes))
        #expect(summary.hamburger.maxSteps == 3)
        let model = try ModelFiles(path: out)
        #expect(model.config.vocabSize == 777)
        #expect(model.weights.contains("lm_head.weight"))
        #expect(model.weights.dtype(of: "comp_embedder.merger.pos") == .f16)
        #expect(model.weights.dtype(of: "micro_step_decoder.decoders.0.mlp.up_proj.weight") == .f32)
    }

    @Test("the runtime builds its HAMburger graph from every converted fixture")
    func runtimeLoadsConvertedModels() throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let fixtures = [
            (F.referenceCheckpoint, F.referenceBase),
            ((F.otherShapes as NSString).appendingPathComponent("hamburger.ckpt"), (F.otherShapes as NSString).appendingPathComponent("base")),
            (F.path("convert-bad/good.ckpt"), F.path("convert-bad/base")),
        ]
        for (i, (checkpoint, base)) in fixtures.enumerated() {
            let out = (dir as NSString).appendingPathComponent("out\(i)")
            _ = try CheckpointConverter.convert(checkpoint: checkpoint, base: base, output: out)
            _ = try ModelFiles(path: out).engine(on: CPUBackend(threads: 1), hamburger: true)
        }
    }

    @Test("the smallest valid layout converts (all-bf16 micro decoder)")
    func smallestLayout() throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let (out, _) = try convert(F.path("convert-bad/good.ckpt"),
                                   base: F.path("convert-bad/base"), into: dir)
        try F.verify(out, against: try F.expected(F.bad))
    }

    @Test("deflated records (ZIPFoundation inflates them) give the same tensors")
    func deflatedCheckpoint() throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let packed = (dir as NSString).appendingPathComponent("deflated.ckpt")
        try F.repack(F.referenceCheckpoint, to: packed, method: .deflate)
        let (out, _) = try convert(packed, base: F.referenceBase, into: dir)
        try F.verify(out, against: try F.expected(F.reference))
    }

    @Test("an existing output is refused, replaced with --force, and an empty one is used")
    func existingOutput() throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let out = (dir as NSString).appendingPathComponent("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        _ = try CheckpointConverter.convert(checkpoint: F.referenceCheckpoint, base: F.referenceBase, output: out)
        #expect(throws: ConvertError.outputExists(path: out)) {
            try CheckpointConverter.convert(checkpoint: F.referenceCheckpoint, base: F.referenceBase, output: out)
        }
        try Data("stale".utf8).write(to: URL(fileURLWithPath: (out as NSString).appendingPathComponent("stale.txt")))
        _ = try CheckpointConverter.convert(checkpoint: F.referenceCheckpoint, base: F.referenceBase, output: out, force: true)
        #expect(!FileManager.default.fileExists(atPath: (out as NSString).appendingPathComponent("stale.txt")))
        try F.verify(out, against: try F.expected(F.reference))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out"])
    }

    // MARK: Bad inputs: one line each, nothing written

    @Test func notAZip() throws {
        #expect(try F.failure(checkpoint: F.path("tiny-hamburger-ref/config.json")).contains("not a zip archive"))
        #expect(try F.failure(checkpoint: "/nonexistent-hamrun.ckpt").hasSuffix("/nonexistent-hamrun.ckpt: file not found"))
    }

    @Test func legacyPickleCheckpoint() throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let legacy = (dir as NSString).appendingPathComponent("legacy.ckpt")
        try Data([0x80, 0x02, 0x7D, 0x71, 0x00, 0x2E]).write(to: URL(fileURLWithPath: legacy))
        #expect(try F.failure(checkpoint: legacy).contains("legacy"))
    }

    @Test func zipWithoutDataPkl() throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let packed = (dir as NSString).appendingPathComponent("nopickle.ckpt")
        try F.repack(F.referenceCheckpoint, to: packed) { name, data in name.hasSuffix("data.pkl") ? nil : (name, data) }
        #expect(try F.failure(checkpoint: packed).contains("data.pkl"))
    }

    /// The reference checkpoint with its data.pkl replaced by `pickle`.
    private func withPickle(_ pickle: [UInt8], in dir: String) throws -> String {
        let packed = (dir as NSString).appendingPathComponent("pickle-\(UUID().uuidString).ckpt")
        try F.repack(F.referenceCheckpoint, to: packed) { name, data in name.hasSuffix("data.pkl") ? (name, Data(pickle)) : (name, data) }
        return packed
    }

    private static func short(_ text: String) -> [UInt8] { [0x8C, UInt8(text.utf8.count)] + Array(text.utf8) }

    /// A pickle nested 50,000 deep must not overflow the stack when its values are freed, on
    /// the error path and after a successful read alike; nested tuples are refused.
    @Test func deeplyNestedPickles() throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let depth = 50_000
        let lists = [UInt8](repeating: 0x5D, count: depth) + [UInt8](repeating: 0x61, count: depth - 1)
        // {'state_dict': {}, 'deep': [[[...]]]}: read, then no tensors to convert.
        let inDict: [UInt8] = [0x80, 0x02, 0x7D, 0x28] + Self.short("state_dict") + [0x7D] + Self.short("deep") + lists + [0x75, 0x2E]
        let m = try F.failure(checkpoint: try withPickle(inDict, in: dir))
        #expect(m.contains("state_dict has no"), "\(m)")
        // [[[...]]] at the top: refused after reading.
        #expect(try F.failure(checkpoint: try withPickle([0x80, 0x02] + lists + [0x2E], in: dir)).contains("holds a list"))
        // Dicts inside dicts, built the way pickle builds them.
        var dicts: [UInt8] = [0x80, 0x02]
        for _ in 0..<depth { dicts += [0x7D] + Self.short("k") }
        dicts += [0x4E] + [UInt8](repeating: 0x73, count: depth) + [0x2E]
        #expect(try F.failure(checkpoint: try withPickle(dicts, in: dir)).contains("no 'state_dict'"))
        // ((((...)))): refused while reading.
        let tuples: [UInt8] = [0x80, 0x02, 0x29] + [UInt8](repeating: 0x85, count: depth) + [0x2E]
        #expect(try F.failure(checkpoint: try withPickle(tuples, in: dir)).contains("nested deeper than 1000 levels"))
    }

    /// Two zip entries of one name: different readers take different ones (the second, zeroed,
    /// storage made the output "!!!!!!"), so the checkpoint is refused.
    @Test func zipEntryNamedTwice() throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let packed = (dir as NSString).appendingPathComponent("twice.ckpt")
        let input = try Archive(url: URL(fileURLWithPath: F.referenceCheckpoint), accessMode: .read)
        let output = try Archive(url: URL(fileURLWithPath: packed), accessMode: .create)
        for entry in input {
            var data = Data()
            _ = try input.extract(entry) { data.append($0) }
            let copies = entry.path == "hamburger/data/0" ? [data, Data(count: data.count)] : [data]
            for contents in copies {
                try output.addEntry(with: entry.path, type: .file, uncompressedSize: Int64(contents.count), compressionMethod: .none) { position, size in
                    contents.subdata(in: Int(position)..<(Int(position) + size))
                }
            }
        }
        #expect(try F.failure(checkpoint: packed).contains("two entries named 'hamburger/data/0'"))
    }

    @Test func pickleWithoutStateDict() throws {
        let message = try F.failure(checkpoint: F.path("convert-bad/no-state-dict.ckpt"))
        #expect(message.contains("no 'state_dict'"))
    }

    @Test func truncatedZip() throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let half = (dir as NSString).appendingPathComponent("half.ckpt")
        let whole = try Data(contentsOf: URL(fileURLWithPath: F.referenceCheckpoint))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: half))
        #expect(try F.failure(checkpoint: half).contains("truncated"))
    }

    @Test func missingStorageRecord() throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let packed = (dir as NSString).appendingPathComponent("nostorage.ckpt")
        try F.repack(F.referenceCheckpoint, to: packed) { name, data in name == "hamburger/data/5" ? nil : (name, data) }
        let message = try F.failure(checkpoint: packed)
        #expect(message.contains("'hamburger/data/5'") && message.contains("missing"))
    }

    @Test func damagedStorageRecord() throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let damaged = (dir as NSString).appendingPathComponent("damaged.ckpt")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: F.referenceCheckpoint))
        // Inside the first storage record, which starts after data.pkl and the small records.
        bytes[100_000] ^= 0x10
        try bytes.write(to: URL(fileURLWithPath: damaged))
        #expect(try F.failure(checkpoint: damaged).contains("CRC-32"))
    }

    @Test func bigEndianCheckpoint() throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let packed = (dir as NSString).appendingPathComponent("big.ckpt")
        try F.repack(F.referenceCheckpoint, to: packed) { name, data in
            name.hasSuffix("/byteorder") ? (name, Data("big".utf8)) : (name, data)
        }
        #expect(try F.failure(checkpoint: packed).contains("little-endian"))
    }

    @Test func missingTensor() throws {
        let message = try F.failure(checkpoint: F.path("convert-bad/missing-tensor.ckpt"),
                                    base: F.path("convert-bad/base"))
        #expect(message.hasSuffix("missing tensor 'model.model.layers.7.mlp.up_proj.weight'"))
    }

    @Test func wrongShape() throws {
        let message = try F.failure(checkpoint: F.path("convert-bad/wrong-shape.ckpt"),
                                    base: F.path("convert-bad/base"))
        #expect(message.contains("'micro_step_decoder.decoders.1.self_attn.k_proj.weight' has shape [8, 32]; expected [8, 64]"))
    }

    @Test func unsupportedDType() throws {
        let message = try F.failure(checkpoint: F.path("convert-bad/int64-tensor.ckpt"),
                                    base: F.path("convert-bad/base"))
        #expect(message.contains("'model.model.norm.weight' has dtype int64"))
    }

    @Test("an object whose unpickling would run a command is reported, never run")
    func commandInPlaceOfTensor() throws {
        let marker = "/tmp/hamrun-pickle-was-executed"
        try? FileManager.default.removeItem(atPath: marker)
        let message = try F.failure(checkpoint: F.path("convert-bad/runs-a-command.ckpt"),
                                    base: F.path("convert-bad/base"))
        #expect(message.contains("'comp_embedder.out_proj.bias' is an object built by posix.system"))
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func unexpectedTensor() throws {
        let message = try F.failure(checkpoint: F.path("convert-bad/unexpected-tensor.ckpt"),
                                    base: F.path("convert-bad/base"))
        #expect(message.contains("'micro_step_decoder.stop_head.6.weight' is not part of the HAMburger layout"))
    }

    @Test func separateCompositionalEmbedding() throws {
        let message = try F.failure(checkpoint: F.path("convert-bad/separate-comp-embedding.ckpt"),
                                    base: F.path("convert-bad/base"))
        #expect(message.contains("'comp_embedder.embedding.weight' differs from 'model.model.embed_tokens.weight'"))
    }

    @Test func baseWithoutConfig() throws {
        let message = try F.failure(checkpoint: F.referenceCheckpoint, base: "/nonexistent-hamrun-base")
        #expect(message.contains("/nonexistent-hamrun-base: file not found"))
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let base = (dir as NSString).appendingPathComponent("base")
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: (F.referenceBase as NSString).appendingPathComponent("tokenizer.json"),
                                         toPath: (base as NSString).appendingPathComponent("tokenizer.json"))
        #expect(try F.failure(checkpoint: F.referenceCheckpoint, base: base).hasSuffix("config.json: file not found"))
    }

    /// A copy of the reference base directory with `edit` applied to its config text.
    private func editedBase(in dir: String, _ edit: (String) -> String) throws -> String {
        let base = (dir as NSString).appendingPathComponent("base")
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: false)
        let text = try String(contentsOfFile: (F.referenceBase as NSString).appendingPathComponent("config.json"), encoding: .utf8)
        try edit(text).write(toFile: (base as NSString).appendingPathComponent("config.json"), atomically: false, encoding: .utf8)
        return base
    }

    @Test func baseTooShallowForFeatureLayers() throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let base = try editedBase(in: dir) { $0.replacingOccurrences(of: "\"num_hidden_layers\": 16", with: "\"num_hidden_layers\": 12") }
        let message = try F.failure(checkpoint: F.referenceCheckpoint, base: base)
        #expect(message.contains("field 'num_hidden_layers' is 12; HAMburger's feature layers [3, 7, 11, 15]"))
    }

    @Test func hiddenSizeNotDivisibleByMergerHeads() throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let base = try editedBase(in: dir) { $0.replacingOccurrences(of: "\"hidden_size\": 128", with: "\"hidden_size\": 96") }
        let message = try F.failure(checkpoint: F.referenceCheckpoint, base: base)
        #expect(message.contains("hamburger.merger_heads") && message.contains("96"))
    }

    @Test func baseForAnotherModel() throws {
        // The reference checkpoint against the small layout's base config: the first tensor differs.
        let message = try F.failure(checkpoint: F.referenceCheckpoint, base: F.path("convert-bad/base"))
        #expect(message.contains("'model.model.embed_tokens.weight' has shape [1024, 128]; expected [32, 64]"))
    }

    @Test func outputExists() throws {
        let message = try F.failure(checkpoint: F.referenceCheckpoint) { dir in
            let out = (dir as NSString).appendingPathComponent("out")
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
            try Data("keep".utf8).write(to: URL(fileURLWithPath: (out as NSString).appendingPathComponent("keep.txt")))
        }
        #expect(message.hasSuffix("already exists and is not empty; pass --force to replace it"))
    }
}
