import HamCore
import HamJSON

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
        let headerLength = UInt64(littleEndian: file.base.loadUnaligned(as: UInt64.self))
        guard headerLength >= 2, headerLength <= UInt64(file.size - 8) else {
            throw LoadError.truncated(path: path, detail: "header length \(headerLength) but the file has \(file.size - 8) bytes after it")
        }
        guard headerLength <= UInt64(Self.headerLimit) else {
            throw LoadError.malformed(path: path, detail: "header length \(headerLength) is more than the \(Self.headerLimit) bytes safetensors allows")
        }
        dataStart = 8 + Int(headerLength)
        let headerBytes = UnsafeRawBufferPointer(start: file.base + 8, count: Int(headerLength))
        let dataLength = file.size - dataStart
        (entries, metadata) = try withLoadErrors {
            try Self.readHeader(JSONDocument(headerBytes, source: path).root, path: path, dataLength: dataLength)
        }
    }

    /// The safetensors library's own limit on the header.
    public static let headerLimit = 100_000_000

    private static func readHeader(_ header: JSONValue, path: String, dataLength: Int) throws -> ([String: Entry], [String: String]) {
        try header.object()
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for member in header.members {
            let name = member.name
            let value = member.value
            if name == "__metadata__" {
                for field in try value.object().members { metadata[field.name] = try field.value.string() }
                continue
            }
            guard entries[name] == nil else {
                throw LoadError.malformed(path: path, detail: "the header names tensor '\(name)' twice")
            }
            let dtypeName = try value.required("dtype").string()
            guard let dtype = DType(safetensorsName: dtypeName) else {
                throw LoadError.unknownDType(path: path, tensor: name, dtype: dtypeName)
            }
            let shape = try value.required("shape").array().map { try $0.integer(in: 0...Int(Int32.max)) }
            let offsetsValue = try value.required("data_offsets")
            let offsets = try offsetsValue.array().map { try $0.integer(in: 0...Int.max) }
            guard offsets.count == 2 else { throw offsetsValue.mismatch("two byte offsets [begin, end]") }
            let (begin, end) = (offsets[0], offsets[1])
            let (count, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            guard !overflow, count <= Int.max / 8, begin <= end, end - begin == dtype.bytes(count) else {
                throw LoadError.malformed(path: path, detail: "tensor '\(name)': data_offsets [\(begin), \(end)] do not hold shape \(shape) of \(dtypeName)")
            }
            guard end <= dataLength else {
                throw LoadError.truncated(path: path, detail: "tensor '\(name)' ends at byte \(end) of the data but the data has \(dataLength) bytes")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, byteRange: begin..<end)
        }
        // Two tensors sharing bytes would each change when the other is written: refused, as
        // the safetensors library refuses them.
        let ranges = entries.filter { !$0.value.byteRange.isEmpty }
            .map { (name: $0.key, range: $0.value.byteRange) }
            .sorted { ($0.range.lowerBound, $0.name) < ($1.range.lowerBound, $1.name) }
        for (a, b) in zip(ranges, ranges.dropFirst()) where b.range.lowerBound < a.range.upperBound {
            throw LoadError.malformed(path: path, detail: "tensors '\(a.name)' (data bytes \(a.range.lowerBound)..<\(a.range.upperBound)) and '\(b.name)' (\(b.range.lowerBound)..<\(b.range.upperBound)) overlap")
        }
        return (entries, metadata)
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
