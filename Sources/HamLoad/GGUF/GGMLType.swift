import HamCore

/// A tensor type code of ggml, as a GGUF tensor info stores it, with ggml's block geometry. The
/// table lists every type ggml defines (so that any valid file can be parsed and bounds-checked);
/// which of them hamrun computes with is `dtype`.
public struct GGMLType: Sendable, Equatable, CustomStringConvertible {
    public let code: UInt32
    /// ggml's name (`ggml_type_name`), upper case: "Q4_K".
    public let name: String
    public let blockElements: Int
    public let blockBytes: Int

    /// ggml's `type_traits` (ggml.c): codes 4, 5 (Q4_2, Q4_3) and 31-33 (the repacked Q4_0
    /// variants) are no longer valid in files.
    private static let table: [GGMLType] = [
        .init(code: 0, name: "F32", blockElements: 1, blockBytes: 4),
        .init(code: 1, name: "F16", blockElements: 1, blockBytes: 2),
        .init(code: 2, name: "Q4_0", blockElements: 32, blockBytes: 18),
        .init(code: 3, name: "Q4_1", blockElements: 32, blockBytes: 20),
        .init(code: 6, name: "Q5_0", blockElements: 32, blockBytes: 22),
        .init(code: 7, name: "Q5_1", blockElements: 32, blockBytes: 24),
        .init(code: 8, name: "Q8_0", blockElements: 32, blockBytes: 34),
        .init(code: 9, name: "Q8_1", blockElements: 32, blockBytes: 36),
        .init(code: 10, name: "Q2_K", blockElements: 256, blockBytes: 84),
        .init(code: 11, name: "Q3_K", blockElements: 256, blockBytes: 110),
        .init(code: 12, name: "Q4_K", blockElements: 256, blockBytes: 144),
        .init(code: 13, name: "Q5_K", blockElements: 256, blockBytes: 176),
        .init(code: 14, name: "Q6_K", blockElements: 256, blockBytes: 210),
        .init(code: 15, name: "Q8_K", blockElements: 256, blockBytes: 292),
        .init(code: 16, name: "IQ2_XXS", blockElements: 256, blockBytes: 66),
        .init(code: 17, name: "IQ2_XS", blockElements: 256, blockBytes: 74),
        .init(code: 18, name: "IQ3_XXS", blockElements: 256, blockBytes: 98),
        .init(code: 19, name: "IQ1_S", blockElements: 256, blockBytes: 50),
        .init(code: 20, name: "IQ4_NL", blockElements: 32, blockBytes: 18),
        .init(code: 21, name: "IQ3_S", blockElements: 256, blockBytes: 110),
        .init(code: 22, name: "IQ2_S", blockElements: 256, blockBytes: 82),
        .init(code: 23, name: "IQ4_XS", blockElements: 256, blockBytes: 136),
        .init(code: 24, name: "I8", blockElements: 1, blockBytes: 1),
        .init(code: 25, name: "I16", blockElements: 1, blockBytes: 2),
        .init(code: 26, name: "I32", blockElements: 1, blockBytes: 4),
        .init(code: 27, name: "I64", blockElements: 1, blockBytes: 8),
        .init(code: 28, name: "F64", blockElements: 1, blockBytes: 8),
        .init(code: 29, name: "IQ1_M", blockElements: 256, blockBytes: 56),
        .init(code: 30, name: "BF16", blockElements: 1, blockBytes: 2),
        .init(code: 34, name: "TQ1_0", blockElements: 256, blockBytes: 54),
        .init(code: 35, name: "TQ2_0", blockElements: 256, blockBytes: 66),
        .init(code: 39, name: "MXFP4", blockElements: 32, blockBytes: 17),
    ]

    private static let byCode: [UInt32: GGMLType] = Dictionary(uniqueKeysWithValues: table.map { ($0.code, $0) })

    /// The type of `code`, or nil for a code ggml does not define.
    public init?(code: UInt32) {
        guard let known = Self.byCode[code] else { return nil }
        self = known
    }

    private init(code: UInt32, name: String, blockElements: Int, blockBytes: Int) {
        self.code = code
        self.name = name
        self.blockElements = blockElements
        self.blockBytes = blockBytes
    }

    public static func named(_ name: String) -> GGMLType? { table.first { $0.name == name } }

    /// The weight dtype hamrun computes this type as, kept as stored: hamrun's dtypes that hold
    /// weights are named after ggml's types and share their block layouts (checked by the tests).
    public var dtype: DType? {
        guard let dtype = DType(rawValue: name.lowercased()), dtype != .i32, dtype != .u8 else { return nil }
        return dtype
    }

    /// The ggml names of the types hamrun computes with, for error messages.
    public static var supportedNames: String {
        table.filter { $0.dtype != nil }.map(\.name).joined(separator: ", ")
    }

    public var description: String { name }
}
