import CHamKernels
import Foundation
import Testing
@testable import HamCore
@testable import HamLoad

/// Every tensor of the real SmolLM2-135M-Instruct Q4_1 file, decoded by hamrun at every SIMD
/// level, against the checksums of what gguf-py decodes (Tests/Fixtures/quant). The file comes
/// from Tools/fetch-models (Tools/install-deps runs it; CI can reach PyPI).
enum SmolLM2File {
    static let path: String = {
        let environment = ProcessInfo.processInfo.environment
        let cache = environment["HAMRUN_CACHE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/hamrun").path
        return cache + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    }()
    static let present = FileManager.default.fileExists(atPath: path)
}

@Suite(.serialized, .enabled(if: SmolLM2File.present, "run Tools/fetch-models for \(SmolLM2File.path)"))
struct RealModelDecodingTests {
    struct Reference: Decodable {
        struct Tensor: Decodable { var type: String; var elements: Int; var checksum: String }
        var tensors: [String: Tensor]
    }

    /// Σ bits(v_i) · (2i + 1) mod 2^64, as Tools/quantize/hash_real_model.py computes it.
    static func checksum(_ values: [Float]) -> UInt64 {
        values.withUnsafeBufferPointer { buffer in
            var sum: UInt64 = 0
            guard let base = buffer.baseAddress else { return 0 }
            let words = UnsafeRawPointer(base).assumingMemoryBound(to: UInt32.self)
            for i in 0..<buffer.count { sum &+= UInt64(words[i]) &* (UInt64(i) &* 2 &+ 1) }
            return sum
        }
    }

    @Test(arguments: ["avx512", "avx2", "generic"])
    func everyTensorDecodesAsGGUFDoes(level: String) throws {
        let active = String(cString: ham_set_kernel_level(level))
        defer { ham_set_kernel_level(nil) }
        guard active == level else { return }
        let url = Fixtures.root.appendingPathComponent("quant/smollm2-q4_1-dequantized.json")
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url)).tensors
        let file = try GGUFFile(path: SmolLM2File.path)
        #expect(Set(file.tensorNames) == Set(reference.keys))
        #expect(Set(reference.values.map(\.type)) == ["Q4_1", "Q8_0", "F32"])
        for name in file.tensorNames.sorted() {
            let want = try #require(reference[name])
            let tensor = try file.tensor(name)
            #expect(tensor.count == want.elements)
            let got = String(format: "%016llx", Self.checksum(tensor.floats()))
            #expect(got == want.checksum, "\(level) \(name) (\(want.type))")
        }
    }
}
