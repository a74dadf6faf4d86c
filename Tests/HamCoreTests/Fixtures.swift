import Foundation
@testable import HamCore

/// Paths of the reference data copied into Tests/Fixtures (see each folder's ORIGIN.md).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let tiny = root.appendingPathComponent("tiny-hamburger-ref")
    static let tinyBase = tiny.appendingPathComponent("base")

    /// The tiny HAMburger model as a model directory: the reference checkpoint converted once
    /// per test process by `hamrun convert`'s converter.
    static func tinyHAMburgerDirectory() throws -> String {
        try converted.get()
    }

    private static let converted: Result<String, Error> = Result {
        let output = NSTemporaryDirectory() + "hamrun-tiny-hamburger-\(getpid())-\(UUID().uuidString)"
        _ = try CheckpointConverter.convert(checkpoint: tiny.appendingPathComponent("hamburger.ckpt").path,
                                            base: tinyBase.path, output: output)
        return output
    }

    struct Expected: Decodable {
        var cases: [Case]
    }

    struct Case: Decodable {
        var prompt: String
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

    static func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: tiny.appendingPathComponent("expected.json")))
    }
}
