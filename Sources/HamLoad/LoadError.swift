import HamCore

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
