import Foundation
import Testing
@testable import HamCore
@testable import HamLoad

/// Real GGUF headers mutated at random (bytes set, bits flipped, counts and lengths replaced by
/// extreme values, bytes inserted or deleted, files cut) go through the fuzz entry point: every
/// mutant is a one-line `LoadError` or a model whose every tensor lies inside the file. A fresh
/// seed each run, printed with any failure.
@Suite struct GGUFMutationTests {
    static let seeds: [(String, [UInt8])] = {
        var seeds = [("small", GGUFTestFile.small().bytes)]
        for path in [GGUFReaderTests.allTypes, GGUFReaderTests.tinyLlama] {
            if let bytes = try? [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) {
                seeds.append(((path as NSString).lastPathComponent, bytes))
            }
        }
        return seeds
    }()

    static let interesting: [UInt64] = [0, 1, 2, 3, 4, 31, 32, 33, 255, 256, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
                                        1 << 32, 1 << 40, UInt64(Int64.max), 1 << 63, UInt64.max, UInt64.max - 1]

    @Test func mutatedHeadersNeverCrash() throws {
        #expect(Self.seeds.count == 3)
        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        var rng = SplitMix64(seed: seed)
        var accepted = 0, rejected = 0
        for (name, original) in Self.seeds {
            // The header (and a little data), where the parser looks.
            let headerEnd = (try? original.withUnsafeBytes { try GGUFFile(copying: $0, path: name).dataOffset }) ?? original.count
            for iteration in 0..<400 {
                var bytes = original
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    Self.mutate(&bytes, headerEnd: min(headerEnd + 64, bytes.count), using: &rng)
                }
                let error = bytes.withUnsafeBytes { fuzzGGUF($0) }
                if let error {
                    rejected += 1
                    #expect(!error.description.contains("\n"), "seed \(seed), \(name) mutant \(iteration): \(error)")
                    continue
                }
                accepted += 1
                // Accepted: every tensor's bytes are inside the file.
                if let file = try? bytes.withUnsafeBytes({ try GGUFFile(copying: $0, path: name) }) {
                    for info in file.tensors.values {
                        #expect(file.dataOffset + info.offset + info.byteCount <= bytes.count, "seed \(seed), \(name) mutant \(iteration): '\(info.name)'")
                    }
                }
            }
        }
        // Most mutants are refused, and the harness does reach the model (the tiny model's
        // unmutated data loads).
        #expect(rejected > accepted)
    }

    @Test func theEntryPointLoadsTheRealModel() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: GGUFReaderTests.tinyLlama)))
        #expect(bytes.withUnsafeBytes { fuzzGGUF($0) } == nil)
        #expect(GGUFTestFile.small().bytes.withUnsafeBytes { fuzzGGUF($0) } != nil)
    }

    static func mutate(_ bytes: inout [UInt8], headerEnd: Int, using rng: inout SplitMix64) {
        guard headerEnd > 8 else { return }
        let at = Int.random(in: 0..<headerEnd, using: &rng)
        switch Int.random(in: 0..<6, using: &rng) {
        case 0:
            bytes[at] = UInt8.random(in: 0...255, using: &rng)
        case 1:
            bytes[at] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
        case 2:
            // An extreme value over what is likely a count, length, dim or offset.
            let value = interesting.randomElement(using: &rng) ?? 0
            let width = [1, 2, 4, 8].randomElement(using: &rng) ?? 8
            let raw = withUnsafeBytes(of: value.littleEndian, Array.init)
            for i in 0..<width where at + i < bytes.count { bytes[at + i] = raw[i] }
        case 3:
            bytes.removeSubrange(at..<min(at + Int.random(in: 1...16, using: &rng), bytes.count))
        case 4:
            bytes.insert(contentsOf: (0..<Int.random(in: 1...16, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
        default:
            bytes.removeSubrange(Int.random(in: 0..<bytes.count, using: &rng)...)
        }
    }
}

/// A small seeded generator.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
