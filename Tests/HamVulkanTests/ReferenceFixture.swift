import Foundation
import HamChecks
import HamCore
import HamCPU
import HamConvert
import HamLoad

/// The shared reference fixture copied into Tests/Fixtures (see its ORIGIN.md).
enum ReferenceFixture {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/tiny-hamburger-ref")
    static let base = root.appendingPathComponent("base")

    /// The fixture's Lightning checkpoint converted into a model directory, once per process.
    static let hamburger: Result<String, Error> = Result {
        let output = ScratchDirectory.root + "vulkan-reference-\(ProcessInfo.processInfo.processIdentifier)"
        if FileManager.default.fileExists(atPath: output) { try FileManager.default.removeItem(atPath: output) }
        _ = try CheckpointConverter.convert(checkpoint: root.appendingPathComponent("hamburger.ckpt").path, base: base.path, output: output)
        return output
    }

    static let cases: [ReferenceCases.Case] =
        (try? ReferenceCases.load(path: root.appendingPathComponent("expected.json").path).cases) ?? []
}
