import Foundation
@testable import HamCore
@testable import HamLoad

/// GGUF bytes for the tests: a parsed file written back (byte for byte what the `gguf` package
/// wrote, which checks the reader), or with changes, or made from scratch with fields that lie.
struct GGUFTestFile {
    struct Tensor {
        var name: String
        var dims: [UInt64]
        var typeCode: UInt32
        var offset: UInt64
    }

    var magic: [UInt8] = Array("GGUF".utf8)
    var version: UInt32 = 3
    var metadata: [(key: String, value: GGUFValue)] = []
    var tensors: [Tensor] = []
    /// The data section (after the padding), as it is.
    var data: [UInt8] = []
    var alignment = 32
    /// Counts written in the header; nil: the real ones.
    var tensorCountOverride: UInt64?
    var keyCountOverride: UInt64?

    init() {}

    /// A file as `GGUFFile` read it.
    init(_ file: GGUFFile, bytes: [UInt8]) {
        version = file.version
        metadata = file.metadataKeys.compactMap { key in file.metadata[key].map { (key, $0) } }
        tensors = file.tensorNames.compactMap { name in
            file.tensors[name].map { Tensor(name: name, dims: $0.dims.map(UInt64.init), typeCode: $0.type.code, offset: UInt64($0.offset)) }
        }
        alignment = file.alignment
        data = Array(bytes[file.dataOffset...])
    }

    static func read(_ path: String) throws -> (GGUFFile, [UInt8]) {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        return (try GGUFFile(path: path), bytes)
    }

    /// A small valid file: a few metadata entries and two F32 tensors.
    static func small() -> GGUFTestFile {
        var f = GGUFTestFile()
        f.metadata = [("general.architecture", .string("test")), ("n", .uint32(7)),
                      ("list", .array(.int32([1, 2, 3])))]
        f.tensors = [Tensor(name: "a", dims: [4, 2], typeCode: 0, offset: 0),
                     Tensor(name: "b", dims: [8], typeCode: 0, offset: 32)]
        f.data = [UInt8](repeating: 0x3F, count: 64)
        return f
    }

    var bytes: [UInt8] {
        var out = magic
        out.append(le: version)
        out.append(le: tensorCountOverride ?? UInt64(tensors.count))
        out.append(le: keyCountOverride ?? UInt64(metadata.count))
        for (key, value) in metadata {
            out.append(string: key)
            out.append(le: value.typeCode.rawValue)
            out.append(value: value)
        }
        for t in tensors {
            out.append(string: t.name)
            out.append(le: UInt32(t.dims.count))
            for d in t.dims { out.append(le: d) }
            out.append(le: t.typeCode)
            out.append(le: t.offset)
        }
        while out.count % alignment != 0 { out.append(0) }
        return out + data
    }

    /// The file written to `directory` as `name`.
    func write(_ name: String, in directory: String) throws -> String {
        let path = directory + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

extension [UInt8] {
    mutating func append<T: FixedWidthInteger>(le value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    mutating func append(string: String) {
        append(le: UInt64(string.utf8.count))
        append(contentsOf: string.utf8)
    }

    mutating func append(value: GGUFValue) {
        switch value {
        case .uint8(let v): append(le: v)
        case .int8(let v): append(le: v)
        case .uint16(let v): append(le: v)
        case .int16(let v): append(le: v)
        case .uint32(let v): append(le: v)
        case .int32(let v): append(le: v)
        case .uint64(let v): append(le: v)
        case .int64(let v): append(le: v)
        case .float32(let v): append(le: v.bitPattern)
        case .float64(let v): append(le: v.bitPattern)
        case .bool(let v): append(v ? 1 : 0)
        case .string(let v): append(string: v)
        case .array(let a): append(array: a)
        }
    }

    mutating func append(array a: GGUFArray) {
        append(le: a.elementType.rawValue)
        append(le: UInt64(a.count))
        switch a {
        case .uint8(let v): v.forEach { append(le: $0) }
        case .int8(let v): v.forEach { append(le: $0) }
        case .uint16(let v): v.forEach { append(le: $0) }
        case .int16(let v): v.forEach { append(le: $0) }
        case .uint32(let v): v.forEach { append(le: $0) }
        case .int32(let v): v.forEach { append(le: $0) }
        case .uint64(let v): v.forEach { append(le: $0) }
        case .int64(let v): v.forEach { append(le: $0) }
        case .float32(let v): v.forEach { append(le: $0.bitPattern) }
        case .float64(let v): v.forEach { append(le: $0.bitPattern) }
        case .bool(let v): v.forEach { append($0 ? 1 : 0) }
        case .string(let v): v.forEach { append(string: $0) }
        case .array(let v): v.forEach { append(array: $0) }
        }
    }
}
