import Foundation
@testable import HamTokenizer

/// Test fixtures, found from this file's path so no resource bundle is needed.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static func url(_ relative: String) -> URL { directory.appendingPathComponent(relative) }

    /// Loaded once: every test that needs them shares the same instances.
    static let llama3: Tokenizer = load("llama3-tokenizer/tokenizer.json")
    static let tiny: Tokenizer = load("tiny-tokenizer/tokenizer.json")

    private static func load(_ path: String) -> Tokenizer {
        do {
            return try Tokenizer(contentsOf: url(path))
        } catch {
            // A fixture that does not load makes every dependent test meaningless.
            preconditionFailure("fixture \(path) failed to load: \(error)")
        }
    }

    static func json(_ path: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url(path)))
    }
}
