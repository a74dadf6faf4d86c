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
        var last_logits: [Float]?
        var greedy_ids: [Int32]?
    }

    static let cases: [Case] = {
        guard let data = try? Data(contentsOf: root.appendingPathComponent("expected.json")),
              let expected = try? JSONDecoder().decode(Expected.self, from: data) else { return [] }
        return expected.cases
    }()
}
