import CHamKernels
import Foundation
import Testing
@testable import HamCore

/// The block types against the `gguf` package (Tests/Fixtures/quant): decoding bit for bit at
/// every SIMD level, quantizing byte for byte where gguf has a quantizer, and the K-quant
/// quantizers by their error.
@Suite(.serialized) struct BlockTypeTests {
    struct DequantizeVectors: Decodable {
        struct Case: Decodable {
            var elements: Int
            var blocks: String
            var values: String
        }
        var types: [String: Case]
    }

    struct QuantizeVectors: Decodable {
        var cases: [[String: String]]
    }

    static func load<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: Fixtures.root.appendingPathComponent("quant/\(name)")))
    }

    static func bytes(_ base64: String) -> [UInt8] { [UInt8](Data(base64Encoded: base64) ?? Data()) }

    static func floats(_ base64: String) -> [Float] {
        bytes(base64).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    @Test(arguments: ["avx512", "avx2", "generic"])
    func decodingIsBitIdenticalToGGUF(level: String) throws {
        let active = String(cString: ham_set_kernel_level(level))
        defer { ham_set_kernel_level(nil) }
        guard active == level else { return }  // this processor lacks the level
        let vectors = try Self.load(DequantizeVectors.self, "dequantize.json").types
        #expect(Set(vectors.keys) == Set(DType.quantized.map(\.rawValue)))
        for (name, vector) in vectors.sorted(by: { $0.key < $1.key }) {
            let dtype = try #require(DType(rawValue: name))
            let blocks = Self.bytes(vector.blocks), want = Self.floats(vector.values)
            #expect(blocks.count == dtype.bytes(vector.elements) && want.count == vector.elements)
            // One row of all blocks, and rows of one block each (an embedding lookup's reads).
            let tensor = blocks.withUnsafeBytes { HostTensor(dtype: dtype, shape: [1, vector.elements], copying: $0) }
            let got = tensor.floats()
            let mismatches = zip(got, want).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern }
            #expect(mismatches.isEmpty, "\(level) \(name): \(mismatches.count) of \(want.count) values differ, first at \(mismatches.first?.offset ?? -1): \(mismatches.first.map { "\($0.element.0) vs \($0.element.1)" } ?? "")")
            var one = [Float](repeating: .nan, count: dtype.blockElements)
            blocks.withUnsafeBytes { raw in
                let last = vector.elements / dtype.blockElements - 1
                one.withUnsafeMutableBufferPointer { ham_widen(raw.baseAddress! + last * dtype.blockBytes, dtype.kernelCode, dtype.blockElements, $0.baseAddress) }
            }
            #expect(one.map(\.bitPattern) == want.suffix(dtype.blockElements).map(\.bitPattern), "\(level) \(name): last block alone")
        }
    }

    @Test func quantizingIsByteIdenticalToGGUF() throws {
        let cases = try Self.load(QuantizeVectors.self, "quantize.json").cases
        #expect(cases.count >= 8)
        for (i, vector) in cases.enumerated() {
            let input = Self.floats(try #require(vector["input"]))
            for dtype in [DType.q8_0, .q4_0, .q4_1, .q5_0, .q5_1] {
                let want = Self.bytes(try #require(vector[dtype.rawValue]))
                let quantized = HostTensor(shape: [1, input.count], floats: input).converted(to: dtype)
                let got = withExtendedLifetime(quantized) { Array(quantized.bytes) }
                #expect(got == want, "case \(i) \(dtype): first difference at byte \(zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1)")
            }
        }
    }

    /// The quantizers keep every value within its sub-block's step, and their error is what the
    /// bits allow: on normal data, RMS error relative to the data's RMS.
    @Test(arguments: [(DType.q8_0, 0.0065), (.q4_0, 0.095), (.q4_1, 0.088), (.q5_0, 0.05), (.q5_1, 0.045), (.q4_k, 0.08), (.q5_k, 0.041), (.q6_k, 0.02)])
    func quantizersErrIsBoundedByTheirBits(dtype: DType, relativeRMS: Double) {
        var state: UInt64 = 77
        func normal() -> Float {
            // Box-Muller on xorshift uniforms.
            func uniform() -> Double {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                return (Double(state >> 11) + 0.5) / Double(1 << 53)
            }
            return Float((-2 * log(uniform())).squareRoot() * cos(2 * .pi * uniform()))
        }
        let rows = 8, cols = 1024
        let values = (0..<(rows * cols)).map { i in normal() * (i % cols < 512 ? 0.02 : 0.2) }
        let back = HostTensor(shape: [rows, cols], floats: values).converted(to: dtype).floats()
        var squares = 0.0, errors = 0.0
        for (v, b) in zip(values, back) {
            squares += Double(v * v)
            errors += Double((v - b) * (v - b))
        }
        let relative = (errors / squares).squareRoot()
        #expect(relative < relativeRMS, "\(dtype): relative RMS error \(relative)")
        #expect(relative > relativeRMS / 4, "\(dtype): relative RMS error \(relative) is suspiciously small")
        // Zeros stay zeros.
        let zeros = HostTensor(shape: [1, 256], floats: [Float](repeating: 0, count: 256)).converted(to: dtype).floats()
        #expect(zeros.allSatisfy { $0 == 0 })
    }
}
