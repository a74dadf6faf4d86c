/// Where a model's tensors come from (a safetensors directory, a GGUF file): the model code asks
/// for each tensor by its Hugging Face name and shape, and a source answers with the tensor in its
/// stored dtype or an error naming its file and the tensor.
public protocol WeightSource: AnyObject, Sendable {
    /// The file or index that errors name.
    var sourcePath: String { get }
    var names: [String] { get }
    func contains(_ name: String) -> Bool
    func dtype(of name: String) -> DType?
    /// The tensor `name`, which must have `shape`.
    func tensor(_ name: String, shape: [Int]) throws -> HostTensor
}
