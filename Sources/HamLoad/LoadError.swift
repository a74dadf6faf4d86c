import HamCore
import HamFiles
import HamJSON

/// Everything that can be wrong with a model directory, a checkpoint or a weight file.
/// Each message names the file, field or value and says what was expected.
public enum LoadError: Error, CustomStringConvertible, Equatable {
    case fileNotFound(path: String)
    case unreadable(path: String, reason: String)
    case truncated(path: String, detail: String)
    case malformed(path: String, detail: String)
    case unknownDType(path: String, tensor: String, dtype: String)
    case missingTensor(path: String, tensor: String)
    case shapeMismatch(path: String, tensor: String, expected: [Int], found: [Int])
    case dtypeNotAllowed(path: String, tensor: String, dtype: String, expected: String)
    case missingField(path: String, field: String)
    case invalidField(path: String, field: String, detail: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            "\(path): file not found"
        case .unreadable(let path, let reason):
            "\(path): cannot read: \(reason)"
        case .truncated(let path, let detail):
            "\(path): truncated: \(detail)"
        case .malformed(let path, let detail):
            "\(path): \(detail)"
        case .unknownDType(let path, let tensor, let dtype):
            "\(path): tensor '\(tensor)' has dtype '\(dtype)'; expected F32, F16 or BF16"
        case .missingTensor(let path, let tensor):
            "\(path): missing tensor '\(tensor)'"
        case .shapeMismatch(let path, let tensor, let expected, let found):
            "\(path): tensor '\(tensor)' has shape \(found); expected \(expected)"
        case .dtypeNotAllowed(let path, let tensor, let dtype, let expected):
            "\(path): tensor '\(tensor)' has dtype \(dtype); expected \(expected)"
        case .missingField(let path, let field):
            "\(path): missing field '\(field)'"
        case .invalidField(let path, let field, let detail):
            "\(path): field '\(field)' \(detail)"
        }
    }
}

extension LoadError {
    /// A JSON file's error in the loader's terms (the messages stay the same).
    public init(_ error: JSONError) {
        switch error {
        case let .syntax(source, line, column, detail):
            self = .malformed(path: source, detail: "not valid JSON at line \(line), column \(column): \(detail)")
        case let .missingField(source, field):
            self = .missingField(path: source, field: field)
        case let .invalidValue(source, field, value, expected):
            self = field.isEmpty ? .malformed(path: source, detail: "the top-level value is \(value); expected \(expected)")
                : .invalidField(path: source, field: field, detail: "is \(value); expected \(expected)")
        }
    }

    /// A file that could not be opened, in the loader's terms.
    public init(_ error: FileError) {
        self = error.reason == .notFound ? .fileNotFound(path: error.path) : .unreadable(path: error.path, reason: error.detail)
    }
}
