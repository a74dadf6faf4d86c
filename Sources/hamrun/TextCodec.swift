import Foundation
import HamCore

/// Text in and out of token ids for a model directory.
struct TextCodec {
    init(directory: ModelDirectory) throws {}

    func encode(_ text: String) throws -> [Int32] {
        throw CLIError("--prompt needs the tokenizer, which is not built yet; use --prompt-ids")
    }

    func decode(_ ids: [Int32]) -> String { "" }

    func streamingDecoder() -> Stream { Stream() }

    struct Stream {
        mutating func append(_ ids: [Int32]) -> String { ids.map(String.init).joined(separator: " ") + " " }
        mutating func finish() -> String { "" }
    }
}
