import Foundation
import HamCore

/// A memory-mapped `.safetensors` file: an 8-byte little-endian header length, a JSON header
/// mapping names to dtype, shape and byte range, then the raw data. Every entry of the header is
/// checked against the file before any tensor is handed out, so a lying header is an error here
/// and never an out-of-bounds read later.
public final class SafeTensorsFile: @unchecked Sendable {
    public struct Entry: Sendable {
        public let dtype: DType
        public let shape: [Int]
        public let byteRange: Range<Int>
    }

    public let path: String
    public let entries: [String: Entry]
    public let metadata: [String: String]
    private let file: MappedFile
    private let dataStart: Int

    public init(path: String) throws {
        let file = try MappedFile(path: path)
        self.file = file
        self.path = path
        guard file.size >= 8 else {
            throw LoadError.truncated(path: path, detail: "\(file.size) bytes, shorter than the 8-byte header length")
        }
        let headerLength = Int(littleEndian: file.base.loadUnaligned(as: Int.self))
        guard headerLength >= 2, headerLength <= file.size - 8 else {
            throw LoadError.truncated(path: path, detail: "header length \(headerLength) but the file has \(file.size - 8) bytes after it")
        }
        dataStart = 8 + headerLength
        let headerBytes = UnsafeRawBufferPointer(start: file.base + 8, count: headerLength)
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(headerBytes))
        } catch {
            throw LoadError.malformed(path: path, detail: "header is not valid JSON")
        }
        guard let header = parsed as? [String: Any] else {
            throw LoadError.malformed(path: path, detail: "header is not a JSON object")
        }
        let dataLength = file.size - dataStart
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                if let values = value as? [String: Any] {
                    for (k, v) in values { metadata[k] = "\(v)" }
                }
                continue
            }
            guard let fields = value as? [String: Any] else {
                throw LoadError.malformed(path: path, detail: "header entry '\(name)' is not an object")
            }
            guard let dtypeName = fields["dtype"] as? String else {
                throw LoadError.malformed(path: path, detail: "tensor '\(name)' has no dtype")
            }
            guard let dtype = DType(safetensorsName: dtypeName) else {
                throw LoadError.unknownDType(path: path, tensor: name, dtype: dtypeName)
            }
            guard let shapeValues = fields["shape"] as? [Any],
                  let shape = Self.integers(shapeValues), shape.allSatisfy({ $0 >= 0 }) else {
                throw LoadError.malformed(path: path, detail: "tensor '\(name)' has no valid shape")
            }
            guard let offsetValues = fields["data_offsets"] as? [Any],
                  let offsets = Self.integers(offsetValues), offsets.count == 2 else {
                throw LoadError.malformed(path: path, detail: "tensor '\(name)' has no valid data_offsets")
            }
            let (begin, end) = (offsets[0], offsets[1])
            let (count, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            guard !overflow, begin >= 0, begin <= end, end - begin == dtype.bytes(count) else {
                throw LoadError.malformed(path: path, detail: "tensor '\(name)': data_offsets [\(begin), \(end)] do not hold shape \(shape) of \(dtypeName)")
            }
            guard end <= dataLength else {
                throw LoadError.truncated(path: path, detail: "tensor '\(name)' ends at byte \(end) of the data but the data has \(dataLength) bytes")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, byteRange: begin..<end)
        }
        self.entries = entries
        self.metadata = metadata
    }

    private static func integers(_ values: [Any]) -> [Int]? {
        var result: [Int] = []
        for value in values {
            guard let number = value as? Int else { return nil }
            result.append(number)
        }
        return result
    }

    public var names: [String] { entries.keys.sorted() }

    public func tensor(_ name: String) throws -> HostTensor {
        guard let entry = entries[name] else { throw LoadError.missingTensor(path: path, tensor: name) }
        let pointer = file.base + dataStart + entry.byteRange.lowerBound
        if Int(bitPattern: pointer) % min(entry.dtype.blockBytes, 4) != 0 {
            // Kernels read elements with aligned loads; a misaligned tensor gets an aligned copy.
            return HostTensor(dtype: entry.dtype, shape: entry.shape,
                              copying: UnsafeRawBufferPointer(start: pointer, count: entry.byteRange.count))
        }
        return HostTensor(dtype: entry.dtype, shape: entry.shape, data: pointer, owner: file)
    }
}
