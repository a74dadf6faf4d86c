/// A GGUF metadata value: one of the format's 13 types. Arrays hold their elements as typed Swift
/// arrays (a 49,152-token vocabulary is one `[String]`, not 49,152 enum values).
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16)
    case uint32(UInt32), int32(Int32), uint64(UInt64), int64(Int64)
    case float32(Float), float64(Double)
    case bool(Bool)
    case string(String)
    case array(GGUFArray)

    /// The format's type code (`gguf_type`).
    public enum TypeCode: UInt32, Sendable {
        case uint8 = 0, int8, uint16, int16, uint32, int32, float32, bool, string, array, uint64, int64, float64

        /// Bytes of one value on disk: fixed, or at least this many (string: its length; array:
        /// its element type and count).
        var minimumBytes: Int {
            switch self {
            case .uint8, .int8, .bool: 1
            case .uint16, .int16: 2
            case .uint32, .int32, .float32: 4
            case .uint64, .int64, .float64, .string: 8
            case .array: 12
            }
        }

        public var name: String {
            switch self {
            case .uint8: "UINT8"
            case .int8: "INT8"
            case .uint16: "UINT16"
            case .int16: "INT16"
            case .uint32: "UINT32"
            case .int32: "INT32"
            case .float32: "FLOAT32"
            case .bool: "BOOL"
            case .string: "STRING"
            case .array: "ARRAY"
            case .uint64: "UINT64"
            case .int64: "INT64"
            case .float64: "FLOAT64"
            }
        }
    }

    public var typeCode: TypeCode {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .uint64: .uint64
        case .int64: .int64
        case .float32: .float32
        case .float64: .float64
        case .bool: .bool
        case .string: .string
        case .array: .array
        }
    }

    /// The value's type, as error messages name it: "UINT32", "ARRAY of STRING".
    public var typeName: String {
        if case .array(let a) = self { return "ARRAY of \(a.elementType.name)" }
        return typeCode.name
    }

    /// Any integer type, as an `Int` when it fits.
    public var integer: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        default: nil
        }
    }

    /// A float type (or an integer, which converters sometimes write for round values).
    public var number: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: integer.map(Double.init)
        }
    }

    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
}

/// The elements of a GGUF array, in their stored type.
public enum GGUFArray: Sendable, Equatable {
    case uint8([UInt8]), int8([Int8]), uint16([UInt16]), int16([Int16])
    case uint32([UInt32]), int32([Int32]), uint64([UInt64]), int64([Int64])
    case float32([Float]), float64([Double])
    case bool([Bool])
    case string([String])
    case array([GGUFArray])

    public var count: Int {
        switch self {
        case .uint8(let a): a.count
        case .int8(let a): a.count
        case .uint16(let a): a.count
        case .int16(let a): a.count
        case .uint32(let a): a.count
        case .int32(let a): a.count
        case .uint64(let a): a.count
        case .int64(let a): a.count
        case .float32(let a): a.count
        case .float64(let a): a.count
        case .bool(let a): a.count
        case .string(let a): a.count
        case .array(let a): a.count
        }
    }

    public var elementType: GGUFValue.TypeCode {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .uint64: .uint64
        case .int64: .int64
        case .float32: .float32
        case .float64: .float64
        case .bool: .bool
        case .string: .string
        case .array: .array
        }
    }

    /// Integer elements of any integer type as `Int`s (nil if one does not fit, or not integers).
    public var integers: [Int]? {
        func all<T: BinaryInteger>(_ a: [T]) -> [Int]? {
            var out: [Int] = []
            out.reserveCapacity(a.count)
            for v in a {
                guard let i = Int(exactly: v) else { return nil }
                out.append(i)
            }
            return out
        }
        switch self {
        case .uint8(let a): return all(a)
        case .int8(let a): return all(a)
        case .uint16(let a): return all(a)
        case .int16(let a): return all(a)
        case .uint32(let a): return all(a)
        case .int32(let a): return all(a)
        case .uint64(let a): return all(a)
        case .int64(let a): return all(a)
        default: return nil
        }
    }

    public var floats: [Float]? {
        switch self {
        case .float32(let a): a
        case .float64(let a): a.map { Float($0) }
        default: nil
        }
    }

    public var strings: [String]? {
        if case .string(let a) = self { return a }
        return nil
    }
}
