import Foundation
import HamChecks
@testable import HamConvert
@testable import HamCore
import HamCPU
@testable import HamLoad

/// Paths of the reference data copied into Tests/Fixtures (see each folder's ORIGIN.md).
enum Fixtures {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let root = repositoryRoot.appendingPathComponent("Tests/Fixtures")
    static let tiny = root.appendingPathComponent("tiny-hamburger-ref")
    static let tinyBase = tiny.appendingPathComponent("base")
    static let gguf = root.appendingPathComponent("gguf")

    /// The tiny HAMburger model as a model directory: the reference checkpoint converted once
    /// per test process by `hamrun convert`'s converter.
    static func tinyHAMburgerDirectory() throws -> String {
        try converted.get()
    }

    private static let converted: Result<String, Error> = Result {
        let output = ScratchDirectory.root + "tiny-hamburger-\(getpid())-\(UUID().uuidString)"
        _ = try CheckpointConverter.convert(checkpoint: tiny.appendingPathComponent("hamburger.ckpt").path,
                                            base: tinyBase.path, output: output)
        return output
    }

    static let cases: [ReferenceCases.Case] =
        (try? ReferenceCases.load(path: tiny.appendingPathComponent("expected.json").path).cases) ?? []
}
