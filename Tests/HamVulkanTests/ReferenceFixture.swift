import Foundation
import HamCore

/// The shared reference fixture copied into Tests/Fixtures (see its ORIGIN.md).
enum ReferenceFixture {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/tiny-hamburger-ref")
    static let base = root.appendingPathComponent("base")

    struct Expected: Decodable {
        var cases: [Case]
    }

    struct Case: Decodable {
        var prompt_ids: [Int32]
        var mode: String?
        var confidence: Double?
        var max_new_tokens: Int?
        var steps: [[Int32]]?
        var micro_trace: [Trace]?
        var stop_probs: [Float]?
        var last_logits: [Float]?
        var greedy_ids: [Int32]?
    }

    struct Trace: Decodable {
        var top2: [Int32]
        var top2_logits: [Float]
        var logsumexp: Float
    }

    /// The fixture's Lightning checkpoint converted into a model directory, once per process.
    static let hamburger: Result<String, Error> = Result {
        let output = NSTemporaryDirectory() + "hamrun-vulkan-reference-\(ProcessInfo.processInfo.processIdentifier)"
        if FileManager.default.fileExists(atPath: output) { try FileManager.default.removeItem(atPath: output) }
        _ = try CheckpointConverter.convert(checkpoint: root.appendingPathComponent("hamburger.ckpt").path, base: base.path, output: output)
        return output
    }

    static let cases: [Case] = {
        guard let data = try? Data(contentsOf: root.appendingPathComponent("expected.json")),
              let expected = try? JSONDecoder().decode(Expected.self, from: data) else { return [] }
        return expected.cases
    }()
}
