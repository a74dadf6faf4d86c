import Foundation

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

/// Writes `.safetensors` files: the header is padded with spaces to a multiple of 8 bytes so
/// every tensor stays aligned, and the file appears only once it is complete.
public enum SafeTensorsWriter {
    public static func write(_ tensors: [(name: String, tensor: HostTensor)], metadata: [String: String] = ["format": "pt"], to path: String) throws {
        let headerBytes = header(tensors.map { ($0.name, $0.tensor.dtype, $0.tensor.shape) }, metadata: metadata)
        let dataLength = tensors.reduce(0) { $0 + $1.tensor.byteCount }

        var output = Data(capacity: headerBytes.count + dataLength)
        output.append(contentsOf: headerBytes)
        for (_, tensor) in tensors { output.append(contentsOf: tensor.bytes) }
        try writeAtomically(output, to: path)
    }

    /// The header length and the header, padded with spaces to a multiple of 8 bytes. q8_0
    /// tensors are written as U8 matrices of their blocks (`[rows, cols / 32 · 34]`), and the
    /// metadata says `"quantization": "q8_0"` so a loader knows what those bytes are.
    static func header(_ tensors: [(name: String, dtype: DType, shape: [Int])], metadata: [String: String]) -> [UInt8] {
        var header = "{"
        var parts: [String] = []
        var metadata = metadata
        if tensors.contains(where: { $0.dtype == .q8_0 }) { metadata[WeightStore.quantizationKey] = DType.q8_0.rawValue }
        if !metadata.isEmpty {
            let fields = metadata.sorted { $0.key < $1.key }.map { "\(jsonQuoted($0.key)):\(jsonQuoted($0.value))" }
            parts.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        var offset = 0
        for (name, dtype, shape) in tensors {
            let end = offset + dtype.bytes(shape.reduce(1, *))
            let stored = dtype == .q8_0 ? [shape[0], dtype.bytes(shape.dropFirst().reduce(1, *))] : shape
            let dims = stored.map(String.init).joined(separator: ",")
            parts.append("\(jsonQuoted(name)):{\"dtype\":\"\(dtype.safetensorsName)\",\"shape\":[\(dims)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        header += parts.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var result: [UInt8] = []
        result.reserveCapacity(8 + headerBytes.count)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { result.append(contentsOf: $0) }
        return result + headerBytes
    }

}

/// Writes next to the destination and renames, so a failed write never leaves half a file.
func writeAtomically(_ data: Data, to path: String) throws {
    let temporary = path + ".partial"
    do {
        try data.write(to: URL(fileURLWithPath: temporary))
        if FileManager.default.fileExists(atPath: path) {
            _ = try FileManager.default.replaceItemAt(URL(fileURLWithPath: path), withItemAt: URL(fileURLWithPath: temporary))
        } else {
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
        }
    } catch {
        try? FileManager.default.removeItem(atPath: temporary)
        throw LoadError.unreadable(path: path, reason: "cannot write: \(error.localizedDescription)")
    }
}
