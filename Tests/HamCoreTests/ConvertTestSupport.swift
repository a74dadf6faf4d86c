import Foundation
import HamChecks
import HamCore
import HamCPU
import HamConvert
import HamLoad
import Testing
import ZIPFoundation

/// Fixtures, scratch directories, re-packed checkpoints and expectation files for the converter tests.
enum ConvertFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    static func path(_ relative: String) -> String { (root as NSString).appendingPathComponent(relative) }

    static let reference = path("tiny-hamburger-ref")
    static let referenceCheckpoint = path("tiny-hamburger-ref/hamburger.ckpt")
    static let referenceBase = path("tiny-hamburger-ref/base")
    static let otherShapes = path("convert-other-shapes")
    static let bad = path("convert-bad")

    /// A fresh directory, removed by `remove`.
    static func scratch() throws -> String {
        let dir = ScratchDirectory.root + "convert-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func remove(_ dir: String) { try? FileManager.default.removeItem(atPath: dir) }

    /// Copies the zip at `source` to `destination` through ZIPFoundation, compressing with
    /// `method`; `change` may rename, rewrite or (returning nil) drop each record.
    static func repack(_ source: String, to destination: String, method: CompressionMethod = .none,
                       change: (String, Data) -> (String, Data)? = { ($0, $1) }) throws {
        let input = try Archive(url: URL(fileURLWithPath: source), accessMode: .read)
        let output = try Archive(url: URL(fileURLWithPath: destination), accessMode: .create)
        for entry in input {
            var data = Data()
            _ = try input.extract(entry) { data.append($0) }
            guard let (name, contents) = change(entry.path, data) else { continue }
            try output.addEntry(with: name, type: .file, uncompressedSize: Int64(contents.count),
                                compressionMethod: method) { position, size in
                contents.subdata(in: Int(position)..<(Int(position) + size))
            }
        }
    }

    struct Expected: Decodable {
        struct Tensor: Decodable {
            let dtype: String
            let shape: [Int]
            let sha256: String
        }
        struct HAMburger: Decodable, Equatable {
            let feature_layers: [Int]
            let max_steps: Int
            let merger_heads: Int
            let num_micro_layers: Int
        }
        let hamburger: HAMburger
        let tensors: [String: Tensor]
    }

    static func expected(_ fixture: String) throws -> Expected {
        let data = try Data(contentsOf: URL(fileURLWithPath: (fixture as NSString).appendingPathComponent("converted-tensors.json")))
        return try JSONDecoder().decode(Expected.self, from: data)
    }

    /// Checks every tensor of `directory` against the torch-side expectations, bit for bit, and
    /// the HAMburger fields of its config.
    static func verify(_ directory: String, against expected: Expected, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let file = try SafeTensorsFile(path: (directory as NSString).appendingPathComponent("model.safetensors"))
        #expect(Set(file.names) == Set(expected.tensors.keys), sourceLocation: sourceLocation)
        for (name, want) in expected.tensors {
            guard file.entries[name] != nil else { continue }
            let tensor = try file.tensor(name)
            #expect(tensor.dtype.safetensorsName == want.dtype, "\(name) dtype", sourceLocation: sourceLocation)
            #expect(tensor.shape == want.shape, "\(name) shape", sourceLocation: sourceLocation)
            #expect(SHA256.hex(tensor.bytes) == want.sha256, "\(name) bytes", sourceLocation: sourceLocation)
        }
        let config = try ModelConfig.load(path: (directory as NSString).appendingPathComponent("config.json"))
        let h = try #require(config.hamburger, sourceLocation: sourceLocation)
        #expect(Expected.HAMburger(feature_layers: h.featureLayers, max_steps: h.maxSteps, merger_heads: h.mergerHeads,
                                   num_micro_layers: h.numMicroLayers) == expected.hamburger, sourceLocation: sourceLocation)
    }

    /// Runs a conversion that must fail and returns its message; checks that the message is one
    /// line and that nothing was left in the output's parent directory.
    static func failure(checkpoint: String, base: String = referenceBase, force: Bool = false,
                        prepare: (String) throws -> Void = { _ in },
                        sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let dir = try scratch()
        defer { remove(dir) }
        let out = (dir as NSString).appendingPathComponent("out")
        try prepare(dir)
        let before = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        do {
            _ = try CheckpointConverter.convert(checkpoint: checkpoint, base: base, output: out, force: force)
            Issue.record("conversion of \(checkpoint) succeeded; expected an error", sourceLocation: sourceLocation)
            return ""
        } catch {
            #expect(error is LoadError || error is ConvertError, "\(type(of: error)): \(error)", sourceLocation: sourceLocation)
            let message = String(describing: error)
            #expect(!message.contains("\n"), "not one line: \(message)", sourceLocation: sourceLocation)
            let after = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
            #expect(after == before, "left behind: \(after)", sourceLocation: sourceLocation)
            return message
        }
    }
}
