import HamCore
import HamLoad

/// What can stop `CheckpointConverter` besides an unreadable input (those are `LoadError`s).
/// Each message is one line naming the file or tensor.
public enum ConvertError: Error, CustomStringConvertible, Equatable {
    case outputExists(path: String)
    case cannotWrite(path: String, reason: String)
    /// The disk (or the user's quota) is full.
    case noSpace(path: String)
    /// A tensor of the base model or of a HAMburger module that the layout for this config does
    /// not have: a checkpoint for another base model, or biases the config does not enable.
    case unexpectedTensor(path: String, tensor: String)
    /// A tensor the format stores once (tied or shared weights) holds other values than the one kept.
    case sharedTensorDiffers(path: String, tensor: String, keptTensor: String, reason: String)

    public var description: String {
        switch self {
        case .outputExists(let path):
            "\(path): already exists and is not empty; pass --force to replace it"
        case .cannotWrite(let path, let reason):
            "\(path): cannot write: \(reason)"
        case .noSpace(let path):
            "no space left on device while writing \(path)"
        case .unexpectedTensor(let path, let tensor):
            "\(path): tensor '\(tensor)' is not part of the HAMburger layout for the base config (docs/MODEL_FORMAT.md); is the checkpoint for another base model?"
        case .sharedTensorDiffers(let path, let tensor, let kept, let reason):
            "\(path): tensor '\(tensor)' differs from '\(kept)', but \(reason)"
        }
    }
}

extension ConvertError {
    /// The same error about the file as it will be named once in place: a staging directory
    /// is an implementation detail, the user asked for `output`.
    func naming(_ staging: String, as output: String) -> ConvertError {
        func rename(_ path: String) -> String {
            path.hasPrefix(staging) ? output + path.dropFirst(staging.count) : path
        }
        switch self {
        case .outputExists(let path): return .outputExists(path: rename(path))
        case .cannotWrite(let path, let reason): return .cannotWrite(path: rename(path), reason: reason)
        case .noSpace(let path): return .noSpace(path: rename(path))
        case .unexpectedTensor(let path, let tensor): return .unexpectedTensor(path: rename(path), tensor: tensor)
        case .sharedTensorDiffers(let path, let tensor, let kept, let reason):
            return .sharedTensorDiffers(path: rename(path), tensor: tensor, keptTensor: kept, reason: reason)
        }
    }
}
