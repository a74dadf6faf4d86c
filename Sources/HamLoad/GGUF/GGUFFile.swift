import HamCore

/// A memory-mapped GGUF file (llama.cpp's model format, versions 2 and 3): the magic `GGUF`, a
/// version, the tensor and metadata counts, the metadata (typed key/value pairs), one info per
/// tensor (name, dims innermost first, ggml type, offset), padding to `general.alignment`, then
/// the tensor data.
///
/// The whole header is read and checked when the file is opened (every count and length against
/// the bytes left, every tensor's bytes inside the data and clear of every other tensor's), so a
/// damaged or lying file is one error here naming the field or tensor, and never a bad read later.
/// Tensors are handed out as views of the mapping: the CPU backend computes on them in place.
public final class GGUFFile: @unchecked Sendable {
    public struct TensorInfo: Sendable, Equatable {
        public let name: String
        /// ggml's `ne`: the innermost (contiguous) dimension first.
        public let dims: [Int]
        public let type: GGMLType
        /// Byte offset from the start of the data section.
        public let offset: Int
        public let byteCount: Int

        /// Row-major shape, outermost first (PyTorch's order): `[rows, cols]` for a matrix.
        public var shape: [Int] { dims.reversed() }
        public var elementCount: Int { dims.reduce(1, *) }
    }

    public static let magic: [UInt8] = Array("GGUF".utf8)
    public static let supportedVersions: ClosedRange<UInt32> = 2...3
    public static let defaultAlignment = 32
    /// ggml's `GGML_MAX_DIMS`.
    static let maxDims = 4
    /// Nested arrays deeper than this are refused (the format allows nesting; no writer nests).
    static let maxArrayDepth = 4
    /// Metadata keys are short ASCII names; the specification bounds them at 65,535 bytes.
    static let maxKeyBytes = 65535

    public let path: String
    public let version: UInt32
    /// Metadata in file order, and by key.
    public let metadataKeys: [String]
    public let metadata: [String: GGUFValue]
    /// Tensors in file order, and by name.
    public let tensorNames: [String]
    public let tensors: [String: TensorInfo]
    public let alignment: Int
    /// File offset of the data section.
    public let dataOffset: Int
    /// The file's bytes, and what keeps them alive (the mapping, or a copy).
    private let bytes: UnsafeRawBufferPointer
    private let owner: AnyObject

    /// Maps and reads the file at `path`.
    public convenience init(path: String) throws {
        try self.init(file: try MappedFile(path: path))
    }

    public convenience init(file: MappedFile) throws {
        try self.init(bytes: file.bytes, owner: file, path: file.path)
    }

    /// Reads a GGUF held in memory (a copy of `data`); `path` names it in errors. The fuzz
    /// entry point and the tests' mutated files come in this way.
    public convenience init(copying data: UnsafeRawBufferPointer, path: String) throws {
        let copy = OwnedBytes(byteCount: data.count)
        if let source = data.baseAddress { copy.pointer.copyMemory(from: source, byteCount: data.count) }
        try self.init(bytes: UnsafeRawBufferPointer(start: copy.pointer, count: data.count), owner: copy, path: path)
    }

    private init(bytes: UnsafeRawBufferPointer, owner: AnyObject, path: String) throws {
        self.bytes = bytes
        self.owner = owner
        self.path = path
        let fileSize = bytes.count
        var cursor = ByteCursor(bytes: bytes, path: path)

        let magic = Array(try cursor.take(4, "the magic 'GGUF'"))
        guard magic == Self.magic else {
            let shown = magic.map { String($0, radix: 16) }.map { $0.count < 2 ? "0" + $0 : $0 }.joined(separator: " ")
            throw LoadError.malformed(path: path, detail: "not a GGUF file: starts with bytes \(shown); expected 'GGUF'")
        }
        version = try cursor.read(UInt32.self, "the version")
        guard Self.supportedVersions.contains(version) else {
            if Self.supportedVersions.contains(version.byteSwapped) {
                throw LoadError.malformed(path: path, detail: "big-endian GGUF (version \(version.byteSwapped)); hamrun reads little-endian files")
            }
            let hint = version == 1 ? " (version 1, with 32-bit counts, predates August 2023)" : ""
            throw LoadError.malformed(path: path, detail: "GGUF version \(version)\(hint) is not supported; expected 2 or 3")
        }
        let tensorCount = try cursor.read(UInt64.self, "the tensor count")
        let keyCount = try cursor.read(UInt64.self, "the metadata count")
        // Each key/value takes at least 13 bytes and each tensor info at least 24: counts that
        // cannot fit in the file are caught before anything is allocated for them.
        guard keyCount <= UInt64(cursor.remaining / 13) else {
            throw LoadError.truncated(path: path, detail: "the header claims \(keyCount) metadata entries but the file has only \(cursor.remaining) bytes after the counts")
        }
        guard tensorCount <= UInt64(cursor.remaining / 24) else {
            throw LoadError.truncated(path: path, detail: "the header claims \(tensorCount) tensors but the file has only \(cursor.remaining) bytes after the counts")
        }

        var keys: [String] = []
        var metadata: [String: GGUFValue] = [:]
        for index in 0..<Int(keyCount) {
            let key = try cursor.readString("metadata key \(index)", maxBytes: Self.maxKeyBytes)
            guard metadata[key] == nil else {
                throw LoadError.malformed(path: path, detail: "metadata key '\(printable(key))' appears twice")
            }
            let code = try cursor.read(UInt32.self, "the type of metadata '\(printable(key))'")
            guard let type = GGUFValue.TypeCode(rawValue: code) else {
                throw LoadError.malformed(path: path, detail: "metadata '\(printable(key))' has type code \(code); expected a GGUF type (0-12)")
            }
            metadata[key] = try Self.readValue(type, &cursor, what: "metadata '\(printable(key))'", depth: 0)
            keys.append(key)
        }
        metadataKeys = keys
        self.metadata = metadata

        if let value = metadata["general.alignment"] {
            guard let a = value.integer, a > 0, a & (a - 1) == 0, a <= 1 << 20 else {
                throw LoadError.invalidField(path: path, field: "general.alignment", detail: "is \(Self.describe(value)); expected a power of two (\(Self.defaultAlignment) by default)")
            }
            alignment = a
        } else {
            alignment = Self.defaultAlignment
        }

        var names: [String] = []
        var tensors: [String: TensorInfo] = [:]
        for index in 0..<Int(tensorCount) {
            let info = try Self.readTensorInfo(index, &cursor, path: path)
            guard tensors[info.name] == nil else {
                throw LoadError.malformed(path: path, detail: "tensor '\(printable(info.name))' appears twice")
            }
            guard info.offset % alignment == 0 else {
                throw LoadError.malformed(path: path, detail: "tensor '\(printable(info.name))' has offset \(info.offset); expected a multiple of general.alignment (\(alignment))")
            }
            tensors[info.name] = info
            names.append(info.name)
        }
        tensorNames = names
        self.tensors = tensors

        let headerEnd = cursor.offset
        dataOffset = (headerEnd + alignment - 1) / alignment * alignment
        guard tensors.isEmpty || dataOffset <= fileSize else {
            throw LoadError.truncated(path: path, detail: "the tensor data would start at byte \(dataOffset) but the file ends at byte \(fileSize)")
        }
        let dataBytes = fileSize - min(dataOffset, fileSize)
        var previous: TensorInfo?
        for info in tensors.values.sorted(by: { ($0.offset, $0.byteCount) < ($1.offset, $1.byteCount) }) {
            guard info.offset <= dataBytes, info.byteCount <= dataBytes - info.offset else {
                throw LoadError.truncated(path: path, detail: "tensor '\(printable(info.name))' has \(info.byteCount) bytes at data offset \(info.offset) but the data section has \(dataBytes) bytes")
            }
            if let p = previous, p.byteCount > 0, info.byteCount > 0, info.offset < p.offset + p.byteCount {
                throw LoadError.malformed(path: path, detail: "tensors '\(printable(p.name))' (data bytes \(p.offset)..<\(p.offset + p.byteCount)) and '\(printable(info.name))' (from byte \(info.offset)) overlap")
            }
            if info.byteCount > 0 { previous = info }
        }
    }

    private static func readTensorInfo(_ index: Int, _ cursor: inout ByteCursor, path: String) throws -> TensorInfo {
        let name = try cursor.readString("the name of tensor \(index)", maxBytes: maxKeyBytes)
        let dimCount = try cursor.read(UInt32.self, "the dimension count of tensor '\(printable(name))'")
        guard (1...UInt32(maxDims)).contains(dimCount) else {
            throw LoadError.malformed(path: path, detail: "tensor '\(printable(name))' has \(dimCount) dimensions; expected 1 to \(maxDims)")
        }
        var dims: [Int] = []
        var elements = 1
        for d in 0..<Int(dimCount) {
            let raw = try cursor.read(UInt64.self, "dimension \(d) of tensor '\(printable(name))'")
            guard let dim = Int(exactly: raw) else {
                throw LoadError.malformed(path: path, detail: "tensor '\(printable(name))' has dimension \(d) of \(raw) elements; expected a size that fits in 63 bits")
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
            guard !overflow else {
                throw LoadError.malformed(path: path, detail: "tensor '\(printable(name))' has dims \(dims + [dim]) whose element count overflows")
            }
            elements = product
            dims.append(dim)
        }
        let code = try cursor.read(UInt32.self, "the type of tensor '\(printable(name))'")
        guard let type = GGMLType(code: code) else {
            throw LoadError.malformed(path: path, detail: "tensor '\(printable(name))' has type code \(code), which is not a ggml type")
        }
        guard dims[0] % type.blockElements == 0 else {
            throw LoadError.malformed(path: path, detail: "tensor '\(printable(name))' has rows of \(dims[0]) elements (shape \(Array(dims.reversed()))), not a whole number of \(type.name) blocks of \(type.blockElements)")
        }
        let (byteCount, overflow) = (elements / type.blockElements).multipliedReportingOverflow(by: type.blockBytes)
        guard !overflow else {
            throw LoadError.malformed(path: path, detail: "tensor '\(printable(name))' of shape \(Array(dims.reversed())) has more bytes than fit in 63 bits")
        }
        let rawOffset = try cursor.read(UInt64.self, "the data offset of tensor '\(printable(name))'")
        guard let offset = Int(exactly: rawOffset) else {
            throw LoadError.malformed(path: path, detail: "tensor '\(printable(name))' has data offset \(rawOffset); expected an offset that fits in 63 bits")
        }
        return TensorInfo(name: name, dims: dims, type: type, offset: offset, byteCount: byteCount)
    }

    private static func readValue(_ type: GGUFValue.TypeCode, _ cursor: inout ByteCursor, what: String, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try cursor.read(UInt8.self, what))
        case .int8: return .int8(try cursor.read(Int8.self, what))
        case .uint16: return .uint16(try cursor.read(UInt16.self, what))
        case .int16: return .int16(try cursor.read(Int16.self, what))
        case .uint32: return .uint32(try cursor.read(UInt32.self, what))
        case .int32: return .int32(try cursor.read(Int32.self, what))
        case .uint64: return .uint64(try cursor.read(UInt64.self, what))
        case .int64: return .int64(try cursor.read(Int64.self, what))
        case .float32: return .float32(try cursor.readFloat(what))
        case .float64: return .float64(try cursor.readDouble(what))
        // As llama.cpp reads it: any non-zero byte is true.
        case .bool: return .bool(try cursor.read(UInt8.self, what) != 0)
        case .string: return .string(try cursor.readString(what))
        case .array: return .array(try readArray(&cursor, what: what, depth: depth))
        }
    }

    private static func readArray(_ cursor: inout ByteCursor, what: String, depth: Int) throws -> GGUFArray {
        let path = cursor.path
        guard depth < maxArrayDepth else {
            throw LoadError.malformed(path: path, detail: "\(what) nests arrays deeper than \(maxArrayDepth)")
        }
        let code = try cursor.read(UInt32.self, "the element type of \(what)")
        guard let type = GGUFValue.TypeCode(rawValue: code) else {
            throw LoadError.malformed(path: path, detail: "\(what) is an array of type code \(code); expected a GGUF type (0-12)")
        }
        let rawCount = try cursor.read(UInt64.self, "the element count of \(what)")
        guard rawCount <= UInt64(cursor.remaining / type.minimumBytes) else {
            throw LoadError.truncated(path: path, detail: "\(what) claims \(rawCount) \(type.name) elements at byte \(cursor.offset) but the file ends at byte \(cursor.bytes.count)")
        }
        let count = Int(rawCount)

        func fixed<T: FixedWidthInteger>(_: T.Type) throws -> [T] {
            let raw = try cursor.take(count * MemoryLayout<T>.size, what)
            return (0..<count).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
        }
        switch type {
        case .uint8: return .uint8(try fixed(UInt8.self))
        case .int8: return .int8(try fixed(Int8.self))
        case .uint16: return .uint16(try fixed(UInt16.self))
        case .int16: return .int16(try fixed(Int16.self))
        case .uint32: return .uint32(try fixed(UInt32.self))
        case .int32: return .int32(try fixed(Int32.self))
        case .uint64: return .uint64(try fixed(UInt64.self))
        case .int64: return .int64(try fixed(Int64.self))
        case .float32: return .float32(try fixed(UInt32.self).map(Float.init(bitPattern:)))
        case .float64: return .float64(try fixed(UInt64.self).map(Double.init(bitPattern:)))
        case .bool: return .bool(try fixed(UInt8.self).map { $0 != 0 })
        case .string:
            var strings: [String] = []
            strings.reserveCapacity(count)
            for i in 0..<count { strings.append(try cursor.readString("\(what)[\(i)]")) }
            return .string(strings)
        case .array:
            var arrays: [GGUFArray] = []
            for i in 0..<count { arrays.append(try readArray(&cursor, what: "\(what)[\(i)]", depth: depth + 1)) }
            return .array(arrays)
        }
    }

    /// A value as an error message shows it.
    static func describe(_ value: GGUFValue) -> String {
        switch value {
        case .string(let s): "'\(printable(s, limit: 80))' (STRING)"
        case .array(let a): "an array of \(a.count) \(a.elementType.name)"
        default: "\(value.integer.map(String.init) ?? value.number.map { "\($0)" } ?? "\(value)") (\(value.typeName))"
        }
    }

    // MARK: Tensors

    /// The tensor `name` in its stored type, as a view of the mapping. Types hamrun does not
    /// compute with are an error naming the tensor and its type.
    public func tensor(_ name: String) throws -> HostTensor {
        guard let info = tensors[name] else { throw LoadError.missingTensor(path: path, tensor: name) }
        guard let dtype = info.type.dtype else {
            throw LoadError.dtypeNotAllowed(path: path, tensor: name, dtype: info.type.name, expected: GGMLType.supportedNames)
        }
        guard let base = bytes.baseAddress else { throw LoadError.missingTensor(path: path, tensor: name) }
        let pointer = base + dataOffset + info.offset
        if Int(bitPattern: pointer) % min(dtype.blockBytes, 4) != 0 {
            // Kernels read elements with aligned loads; a misaligned tensor (general.alignment
            // below 4) gets an aligned copy.
            return HostTensor(dtype: dtype, shape: info.shape, copying: UnsafeRawBufferPointer(start: pointer, count: info.byteCount))
        }
        return HostTensor(dtype: dtype, shape: info.shape, data: pointer, owner: owner)
    }

    // MARK: Metadata

    public func contains(key: String) -> Bool { metadata[key] != nil }

    public func string(_ key: String) throws -> String? {
        guard let value = metadata[key] else { return nil }
        guard let s = value.string else { throw wrongType(key, value, "a STRING") }
        return s
    }

    public func integer(_ key: String) throws -> Int? {
        guard let value = metadata[key] else { return nil }
        guard let i = value.integer else { throw wrongType(key, value, "an integer") }
        return i
    }

    public func number(_ key: String) throws -> Double? {
        guard let value = metadata[key] else { return nil }
        guard let n = value.number else { throw wrongType(key, value, "a number") }
        return n
    }

    public func bool(_ key: String) throws -> Bool? {
        guard let value = metadata[key] else { return nil }
        guard let b = value.bool else { throw wrongType(key, value, "a BOOL") }
        return b
    }

    public func strings(_ key: String) throws -> [String]? {
        guard let value = metadata[key] else { return nil }
        guard case .array(let a) = value, let s = a.strings else { throw wrongType(key, value, "an ARRAY of STRING") }
        return s
    }

    public func integers(_ key: String) throws -> [Int]? {
        guard let value = metadata[key] else { return nil }
        guard case .array(let a) = value, let i = a.integers else { throw wrongType(key, value, "an ARRAY of integers") }
        return i
    }

    public func floats(_ key: String) throws -> [Float]? {
        guard let value = metadata[key] else { return nil }
        guard case .array(let a) = value, let f = a.floats else { throw wrongType(key, value, "an ARRAY of FLOAT32") }
        return f
    }

    private func wrongType(_ key: String, _ value: GGUFValue, _ expected: String) -> LoadError {
        .invalidField(path: path, field: key, detail: "is \(Self.describe(value)); expected \(expected)")
    }
}
