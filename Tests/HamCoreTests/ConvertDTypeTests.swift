import Foundation
import Testing
@testable import HamConvert
@testable import HamCore
@testable import HamLoad

/// `hamrun convert --dtype`: every tensor stored in one float type.
@Suite struct ConvertDTypeTests {
    typealias F = ConvertFixtures

    @Test(arguments: [DType.bf16, .f32, .f16])
    func everyTensorInTheAskedDType(dtype: DType) throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        let plain = dir + "/plain", typed = dir + "/typed"
        _ = try CheckpointConverter.convert(checkpoint: F.referenceCheckpoint, base: F.referenceBase, output: plain)
        let summary = try CheckpointConverter.convert(checkpoint: F.referenceCheckpoint, base: F.referenceBase, output: typed, dtype: dtype)
        let a = try ModelFiles(path: plain), b = try ModelFiles(path: typed)
        var bytes = 0
        for spec in ModelSchema(config: a.config).all {
            let name = spec.name, shape = spec.shape
            let original = try a.weights.tensor(name, shape: shape), stored = try b.weights.tensor(name, shape: shape)
            #expect(stored.dtype == dtype, "\(name)")
            #expect(stored.floats() == original.converted(to: dtype).floats(), "\(name)")
            bytes += stored.byteCount
        }
        #expect(summary.byteCount == bytes)
    }

    @Test func blockTypesAreQuantizesJob() throws {
        let dir = try F.scratch()
        defer { F.remove(dir) }
        #expect {
            _ = try CheckpointConverter.convert(checkpoint: F.referenceCheckpoint, base: F.referenceBase, output: dir + "/out", dtype: .q4_k)
        } throws: { "\($0)".contains("--dtype") && "\($0)".contains("quantize") }
        #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
    }
}
