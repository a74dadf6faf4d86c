import Foundation
import HamChecks
import Testing
@testable import HamCore
import HamCPU
@testable import HamLoad

/// Damaged and lying GGUF files: each is one line naming the field or tensor, never a crash.
@Suite struct GGUFBadInputTests {
    let scratch: String

    init() throws {
        scratch = ScratchDirectory.root + "gguf-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    /// Opens `file` and expects a `LoadError` of one line containing every one of `needles`.
    private func expectError(_ file: GGUFTestFile, _ needles: String..., sourceLocation: SourceLocation = #_sourceLocation) {
        expectError(bytes: file.bytes, needles, sourceLocation: sourceLocation)
    }

    private func expectError(bytes: [UInt8], _ needles: [String], sourceLocation: SourceLocation) {
        do {
            _ = try bytes.withUnsafeBytes { try GGUFFile(copying: $0, path: "bad.gguf") }
            Issue.record("no error thrown", sourceLocation: sourceLocation)
        } catch let error as LoadError {
            let message = error.description
            #expect(!message.contains("\n"), sourceLocation: sourceLocation)
            #expect(message.hasPrefix("bad.gguf: "), sourceLocation: sourceLocation)
            for needle in needles {
                #expect(message.contains(needle), "'\(message)' does not say '\(needle)'", sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("not a LoadError: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func theBaseFileIsValid() throws {
        let file = try GGUFTestFile.small().bytes.withUnsafeBytes { try GGUFFile(copying: $0, path: "small.gguf") }
        #expect(file.tensorNames == ["a", "b"])
        #expect(try file.tensor("a").shape == [2, 4])
        #expect(try file.integers("list") == [1, 2, 3])
    }

    @Test func wrongMagic() {
        var f = GGUFTestFile.small()
        f.magic = Array("GGML".utf8)
        expectError(f, "not a GGUF file", "47 47 4d 4c")
        expectError(bytes: [], ["the magic"], sourceLocation: #_sourceLocation)
    }

    @Test func unknownVersions() {
        for (version, needle) in [(UInt32(1), "version 1"), (4, "version 4"), (0, "version 0"), (0x0300_0000, "big-endian")] {
            var f = GGUFTestFile.small()
            f.version = version
            expectError(f, needle)
        }
        var v2 = GGUFTestFile.small()
        v2.version = 2
        #expect(throws: Never.self) { _ = try v2.bytes.withUnsafeBytes { try GGUFFile(copying: $0, path: "v2.gguf") } }
    }

    /// Cut at every byte of the header and the data: always an error, and a truncation one.
    @Test func truncatedAnywhere() throws {
        let full = GGUFTestFile.small().bytes
        for length in 0..<full.count {
            do {
                _ = try Array(full[..<length]).withUnsafeBytes { try GGUFFile(copying: $0, path: "cut.gguf") }
                Issue.record("a file cut at byte \(length) of \(full.count) was accepted")
            } catch let error as LoadError {
                guard case .truncated = error else {
                    Issue.record("cut at \(length): \(error) is not a truncation error")
                    continue
                }
                #expect(!error.description.contains("\n"))
            }
        }
        // The real model too, cut inside its metadata, its tensor infos and its data.
        let (real, bytes) = try GGUFTestFile.read(GGUFReaderTests.tinyLlama)
        for length in [10, 30, 5000, 40000, real.dataOffset - 3, real.dataOffset + 100, bytes.count - 1] {
            expectError(bytes: Array(bytes[..<length]), ["truncated"], sourceLocation: #_sourceLocation)
        }
    }

    @Test func tensorDataPastTheEnd() {
        var f = GGUFTestFile.small()
        f.tensors[1].offset = 64
        expectError(f, "tensor 'b'", "data section has 64 bytes")
        f.tensors[1].offset = UInt64(Int.max) / 32 * 32
        expectError(f, "tensor 'b'")
        f.tensors[1].offset = UInt64.max
        expectError(f, "tensor 'b'", "offset")
    }

    @Test func overlappingTensors() {
        var f = GGUFTestFile.small()
        f.tensors[1].offset = 0
        expectError(f, "'a'", "'b'", "overlap")
        f.tensors[1].dims = [16]
        f.tensors[0].offset = 32
        expectError(f, "'a'", "'b'", "overlap")
    }

    @Test func misalignedOffset() {
        var f = GGUFTestFile.small()
        f.tensors[1].offset = 36
        expectError(f, "tensor 'b'", "offset 36", "general.alignment (32)")
    }

    @Test func rowsThatAreNotWholeBlocks() {
        var f = GGUFTestFile.small()
        f.tensors[0] = .init(name: "q", dims: [33, 1], typeCode: 8, offset: 0)      // Q8_0 blocks are 32
        expectError(f, "tensor 'q'", "33 elements", "Q8_0 blocks of 32")
        f.tensors[0] = .init(name: "k", dims: [128, 2], typeCode: 12, offset: 0)    // Q4_K blocks are 256
        expectError(f, "tensor 'k'", "Q4_K blocks of 256")
    }

    @Test func unknownTensorType() {
        var f = GGUFTestFile.small()
        f.tensors[0].typeCode = 99
        expectError(f, "tensor 'a'", "type code 99")
        f.tensors[0].typeCode = 4        // Q4_2, removed from ggml
        expectError(f, "tensor 'a'", "type code 4")
    }

    @Test func badDimensions() {
        var f = GGUFTestFile.small()
        f.tensors[0].dims = [1, 1, 1, 1, 1]
        expectError(f, "tensor 'a'", "5 dimensions")
        f.tensors[0].dims = []
        expectError(f, "tensor 'a'", "0 dimensions")
        f.tensors[0].dims = [UInt64.max]
        expectError(f, "tensor 'a'", "63 bits")
        f.tensors[0].dims = [1 << 40, 1 << 40]
        expectError(f, "tensor 'a'", "overflows")
    }

    @Test func absurdLengthsAndCounts() {
        var f = GGUFTestFile.small()
        f.keyCountOverride = 1 << 60
        expectError(f, "1152921504606846976 metadata entries")
        f = GGUFTestFile.small()
        f.tensorCountOverride = UInt64.max
        expectError(f, "18446744073709551615 tensors")

        // A key whose length is absurd: the bytes after the counts say 2^62.
        var bytes = GGUFTestFile.small().bytes
        bytes.replaceSubrange(24..<32, with: withUnsafeBytes(of: UInt64(1 << 62).littleEndian, Array.init))
        expectError(bytes: bytes, ["metadata key 0", "4611686018427387904 bytes"], sourceLocation: #_sourceLocation)

        f = GGUFTestFile.small()
        f.metadata.append(("long", .string(String(repeating: "x", count: 10))))
        expectErrorWithStringLength(f, key: "long", length: UInt64(1) << 50, needles: ["metadata 'long'", "1125899906842624 bytes"])

        f = GGUFTestFile.small()
        f.metadata.append(("huge.array", .array(.int32([1]))))
        expectErrorWithArrayCount(f, key: "huge.array", count: 1 << 61, needles: ["metadata 'huge.array'", "2305843009213693952 INT32 elements"])

        f = GGUFTestFile.small()
        f.metadata = [(String(repeating: "k", count: 70000), .uint8(1))]
        expectError(f, "metadata key 0", "70000 bytes long", "at most 65535")
    }

    /// `f` with the length field of string metadata `key` replaced.
    private func expectErrorWithStringLength(_ f: GGUFTestFile, key: String, length: UInt64, needles: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        var bytes = f.bytes
        guard let at = Self.valueOffset(of: key, in: f) else { Issue.record("no key \(key)"); return }
        bytes.replaceSubrange(at..<(at + 8), with: withUnsafeBytes(of: length.littleEndian, Array.init))
        expectError(bytes: bytes, needles, sourceLocation: sourceLocation)
    }

    /// `f` with the element count of array metadata `key` replaced.
    private func expectErrorWithArrayCount(_ f: GGUFTestFile, key: String, count: UInt64, needles: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        var bytes = f.bytes
        guard let at = Self.valueOffset(of: key, in: f).map({ $0 + 4 }) else { Issue.record("no key \(key)"); return }
        bytes.replaceSubrange(at..<(at + 8), with: withUnsafeBytes(of: count.littleEndian, Array.init))
        expectError(bytes: bytes, needles, sourceLocation: sourceLocation)
    }

    /// Byte offset of the value of metadata `key` (after its key and type).
    private static func valueOffset(of key: String, in f: GGUFTestFile) -> Int? {
        var offset = 24
        for (k, value) in f.metadata {
            offset += 8 + k.utf8.count + 4
            if k == key { return offset }
            var scratch: [UInt8] = []
            scratch.append(value: value)
            offset += scratch.count
        }
        return nil
    }

    @Test func badMetadata() {
        var f = GGUFTestFile.small()
        f.metadata.append(("n", .uint8(1)))
        expectError(f, "'n' appears twice")

        f = GGUFTestFile.small()
        f.tensors[1].name = "a"
        expectError(f, "tensor 'a' appears twice")

        // Names from the file stay on one line in messages.
        f = GGUFTestFile.small()
        f.metadata.append(("two\nlines", .uint8(1)))
        f.metadata.append(("two\nlines", .uint8(1)))
        expectError(f, "'two\\nlines' appears twice")

        // A value type code that GGUF does not have.
        var bytes = GGUFTestFile.small().bytes
        let typeAt = 24 + 8 + "general.architecture".utf8.count
        bytes.replaceSubrange(typeAt..<(typeAt + 4), with: [13, 0, 0, 0])
        expectError(bytes: bytes, ["metadata 'general.architecture'", "type code 13"], sourceLocation: #_sourceLocation)

        // Not UTF-8.
        f = GGUFTestFile.small()
        f.metadata.append(("s", .string("ab")))
        bytes = f.bytes
        if let at = Self.valueOffset(of: "s", in: f) { bytes[at + 8] = 0xFF }
        expectError(bytes: bytes, ["metadata 's'", "not valid UTF-8"], sourceLocation: #_sourceLocation)

        // Arrays nested too deep, of an unknown type.
        var deep = GGUFArray.int32([1])
        for _ in 0..<6 { deep = .array([deep]) }
        f = GGUFTestFile.small()
        f.metadata.append(("deep", .array(deep)))
        expectError(f, "metadata 'deep'", "deeper than 4")
        f = GGUFTestFile.small()
        f.metadata.append(("bad.array", .array(.int32([]))))
        bytes = f.bytes
        if let at = Self.valueOffset(of: "bad.array", in: f) { bytes[at] = 77 }
        expectError(bytes: bytes, ["metadata 'bad.array'", "type code 77"], sourceLocation: #_sourceLocation)

        for value in [GGUFValue.uint32(3), .uint32(0), .string("32"), .int64(-32)] {
            f = GGUFTestFile.small()
            f.metadata.append(("general.alignment", value))
            expectError(f, "general.alignment", "power of two")
        }
    }

    /// An empty array and a 64-byte alignment are valid.
    @Test func unusualButValid() throws {
        var f = GGUFTestFile.small()
        f.metadata.append(("empty", .array(.string([]))))
        f.metadata.append(("general.alignment", .uint32(64)))
        f.alignment = 64
        f.tensors[1].offset = 0
        f.tensors[0].offset = 64
        f.data = [UInt8](repeating: 0, count: 96)
        let file = try f.bytes.withUnsafeBytes { try GGUFFile(copying: $0, path: "ok.gguf") }
        #expect(try file.strings("empty") == [])
        #expect(file.dataOffset % 64 == 0)
        #expect(try file.tensor("a").floats() == [Float](repeating: 0, count: 8))
    }
}
