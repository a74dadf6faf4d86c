import Foundation
import HamCore
import HamLoad

/// A PyTorch Lightning checkpoint as `torch.save` writes it: a zip holding `<archive>/data.pkl`
/// (the pickled checkpoint dict), one record `<archive>/data/<key>` per storage, and
/// `<archive>/byteorder`. The pickle is read without running any Python: only the torch and
/// collections callables a state dict is made of are understood; everything else (optimizer state,
/// callbacks, loops, DeepSpeed bookkeeping) becomes opaque objects that are never looked into.
/// A state-dict entry that is not a plain tensor is an error when it is asked for, naming it.
public final class TorchCheckpoint: @unchecked Sendable {
    public let path: String
    /// The zip's top-level folder: torch.save names it after the file ("hamburger" for hamburger.ckpt).
    public let archiveName: String
    /// The unpickled checkpoint dict.
    public let root: PickleValue
    /// `state_dict` in the order it was saved.
    public let stateDict: [(name: String, value: PickleValue)]
    private let stateIndex: [String: Int]
    private let archive: CheckpointArchive
    /// Owns every container of `root`, so that freeing a hostile, deeply nested pickle never
    /// recurses (see `PickleArena`).
    private let arena: PickleArena

    public init(path: String) throws {
        let archive = try CheckpointArchive(path: path)
        self.archive = archive
        self.path = path

        let pickles = archive.directory.entries.map(\.name).filter { name in
            let parts = name.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 2 && parts[1] == "data.pkl" && !parts[0].isEmpty
        }
        guard let pickleName = pickles.first else {
            throw LoadError.malformed(path: path, detail: "zip has no '<name>/data.pkl'; expected a PyTorch checkpoint as torch.save writes it")
        }
        guard pickles.count == 1 else {
            throw LoadError.malformed(path: path, detail: "zip has \(pickles.count) data.pkl records (\(pickles.joined(separator: ", "))); expected one")
        }
        archiveName = String(pickleName.dropLast("/data.pkl".count))

        // Storages are raw memory; torch records the writer's byte order (absent before torch 1.11,
        // when little-endian was implied).
        let byteorderName = "\(archiveName)/byteorder"
        if archive.directory[byteorderName] != nil {
            let (bytes, _) = try archive.contents(of: byteorderName)
            let order = String(decoding: bytes, as: UTF8.self)
            guard order == "little" else {
                throw LoadError.malformed(path: path, detail: "'\(byteorderName)' is '\(order)'; hamrun reads only little-endian checkpoints")
            }
        }

        let (pickle, owner) = try archive.contents(of: pickleName)
        var unpickler = Unpickler(bytes: pickle, path: path, entry: pickleName,
                                  persistentLoad: Self.persistentLoad, call: Self.call)
        let root = try withExtendedLifetime(owner) { try unpickler.load() }
        self.root = root
        arena = unpickler.arena
        do {
            (stateDict, stateIndex) = try Self.readStateDict(root, path: path, pickleName: pickleName)
        } catch {
            arena.removeAllChildren()
            throw error
        }
    }

    deinit { arena.removeAllChildren() }

    private static func readStateDict(_ root: PickleValue, path: String, pickleName: String) throws -> ([(name: String, value: PickleValue)], [String: Int]) {
        guard let top = root.dictionary else {
            throw LoadError.malformed(path: path, detail: "\(pickleName) holds \(root.kind); expected the checkpoint dict of PyTorch Lightning")
        }
        guard let state = top["state_dict"] else {
            let keys = top.entries.compactMap { entry -> String? in
                if case .string(let key) = entry.key { return "'\(key)'" }
                return nil
            }
            let shown = keys.prefix(8).joined(separator: ", ") + (keys.count > 8 ? ", ..." : "")
            throw LoadError.malformed(path: path, detail: "checkpoint has no 'state_dict' (its keys: \(shown.isEmpty ? "none" : shown)); expected a PyTorch Lightning checkpoint")
        }
        guard let stateDict = state.dictionary else {
            throw LoadError.malformed(path: path, detail: "'state_dict' is \(state.kind); expected a dict of tensors")
        }
        var entries: [(name: String, value: PickleValue)] = []
        var index: [String: Int] = [:]
        for (key, value) in stateDict.entries {
            guard case .string(let name) = key else {
                throw LoadError.malformed(path: path, detail: "'state_dict' has a key that is \(key.kind); expected tensor names")
            }
            index[name] = entries.count
            entries.append((name, value))
        }
        return (entries, index)
    }

    /// The `hyper_parameters` dict Lightning saves (the module's `save_hyperparameters()`).
    public var hyperParameters: PickleDict? { root.dictionary?["hyper_parameters"]?.dictionary }

    public func contains(_ name: String) -> Bool { stateIndex[name] != nil }

    /// What `state_dict[name]` is, checked down to its storage record without reading any
    /// weights: an error names the tensor and says what is wrong with it.
    public func describe(_ name: String) throws -> (dtype: DType, shape: [Int]) {
        let (ref, dtype, _) = try check(name)
        return (dtype, ref.shape)
    }

    /// The view `state_dict[name]` is, whatever its element type.
    public func tensorRef(_ name: String) throws -> TorchTensorRef {
        guard let i = stateIndex[name] else { throw LoadError.missingTensor(path: path, tensor: name) }
        let value = stateDict[i].value
        guard case .tensor(let ref) = value else {
            throw LoadError.malformed(path: path, detail: "state_dict entry '\(name)' is \(value.kind), not a tensor; hamrun never runs code from a checkpoint")
        }
        return ref
    }

    /// `state_dict[name]`, contiguous, in its stored dtype: a view of the mapped file when it is
    /// stored contiguously, else a copy.
    public func tensor(_ name: String) throws -> HostTensor {
        let (ref, dtype, record) = try check(name)
        let elementSize = dtype.blockBytes
        let count = ref.count
        if count == 0 {
            return HostTensor(dtype: dtype, shape: ref.shape, copying: UnsafeRawBufferPointer(start: nil, count: 0))
        }
        let (bytes, owner) = try archive.contents(of: record)
        guard let base = bytes.baseAddress, bytes.count >= ref.storage.count * elementSize else {
            throw LoadError.truncated(path: path, detail: "record '\(record)' has \(bytes.count) bytes; the storage of tensor '\(name)' needs \(ref.storage.count * elementSize)")
        }
        if ref.isContiguous {
            return HostTensor(dtype: dtype, shape: ref.shape, data: base + ref.offset * elementSize, owner: owner)
        }
        let buffer = OwnedBytes(byteCount: count * elementSize)
        ref.gather(from: base, into: buffer.pointer, elementSize: elementSize)
        return HostTensor(dtype: dtype, shape: ref.shape, data: UnsafeRawPointer(buffer.pointer), owner: buffer)
    }

    /// Whether two state-dict tensors hold the same values: views of the same elements of one
    /// storage (tied weights) are equal without reading them.
    public func sameContents(_ a: String, _ b: String) throws -> Bool {
        let (ra, da, _) = try check(a)
        let (rb, db, _) = try check(b)
        guard da == db, ra.shape == rb.shape else { return false }
        if ra.storage.key == rb.storage.key, ra.offset == rb.offset, ra.strides == rb.strides { return true }
        let ta = try tensor(a), tb = try tensor(b)
        return withExtendedLifetime((ta, tb)) { memcmp(ta.data, tb.data, ta.byteCount) == 0 }
    }

    private func check(_ name: String) throws -> (TorchTensorRef, DType, String) {
        let ref = try tensorRef(name)
        let type = ref.storage.type
        guard let dtype = type.dtype else {
            throw LoadError.dtypeNotAllowed(path: path, tensor: name, dtype: type.dtypeName, expected: "bfloat16, float16 or float32")
        }
        switch ref.validatedCount() {
        case .success: break
        case .failure(.rankMismatch):
            throw LoadError.malformed(path: path, detail: "tensor '\(name)' has size \(ref.shape) but stride \(ref.strides)")
        case .failure(.negative):
            throw LoadError.malformed(path: path, detail: "tensor '\(name)' has a negative offset, size or stride (offset \(ref.offset), size \(ref.shape), stride \(ref.strides))")
        case .failure(.tooLarge):
            throw LoadError.malformed(path: path, detail: "tensor '\(name)' has size \(ref.shape) and stride \(ref.strides), too large to address")
        case .failure(.outOfBounds(let last)):
            throw LoadError.malformed(path: path, detail: "tensor '\(name)' reaches element \(last) of its storage '\(ref.storage.key)', which has \(ref.storage.count)")
        }
        let record = "\(archiveName)/data/\(ref.storage.key)"
        guard let entry = archive.directory[record] else {
            throw LoadError.malformed(path: path, detail: "record '\(record)' holding the storage of tensor '\(name)' is missing from the zip")
        }
        let (needed, overflow) = ref.storage.count.multipliedReportingOverflow(by: dtype.blockBytes)
        guard !overflow, entry.uncompressedSize >= needed else {
            throw LoadError.truncated(path: path, detail: "record '\(record)' has \(entry.uncompressedSize) bytes; the storage of tensor '\(name)' needs \(ref.storage.count) \(type.dtypeName) elements")
        }
        return (ref, dtype, record)
    }

    // MARK: What the pickle may call

    /// torch's persistent ids: `('storage', storage_type, key, location, numel)`.
    static func persistentLoad(_ id: PickleValue) -> PickleValue {
        let unknown = PickleGlobal(module: "torch", name: "persistent_load")
        guard case .tuple(let fields) = id, fields.count >= 5, case .string("storage") = fields[0] else {
            return .object(PickleObject(callable: unknown, problem: "a persistent id that is not a torch storage"))
        }
        guard case .global(let type) = fields[1], case .int(let count) = fields[4], count >= 0 else {
            return .object(PickleObject(callable: unknown, problem: "a storage id without a storage type and element count"))
        }
        let key: String
        switch fields[2] {
        case .string(let s): key = s
        case .int(let i): key = String(i)
        default: return .object(PickleObject(callable: unknown, problem: "a storage id without a key"))
        }
        guard !key.isEmpty, !key.contains("/") else {
            return .object(PickleObject(callable: unknown, problem: "a storage key '\(key)' that is not a record name"))
        }
        return .storage(TorchStorageRef(key: key, type: TorchStorageType(global: type), count: count))
    }

    /// REDUCE and NEWOBJ. The allow-list: how torch pickles tensors, and the dict types state
    /// dicts are. Every other callable yields an opaque object and is never run.
    static func call(_ function: PickleGlobal, _ args: [PickleValue]) -> PickleValue {
        func opaque(_ problem: String? = nil) -> PickleValue {
            .object(PickleObject(callable: function, problem: problem))
        }
        switch (function.module, function.name) {
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard args.count >= 4 else { return opaque("\(args.count) arguments; expected at least 4") }
            guard case .storage(let storage) = args[0] else { return opaque("its storage is \(args[0].kind)") }
            guard case .int(let offset) = args[1], let shape = integers(args[2]), let strides = integers(args[3]) else {
                return opaque("offset, size or stride are not integers")
            }
            return .tensor(TorchTensorRef(storage: storage, offset: offset, shape: shape, strides: strides))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let data = args.first, case .tensor = data else { return opaque("its data is not a tensor") }
            return data
        case ("torch._tensor", "_rebuild_from_type_v2"):
            // (func, new_type, args, state): how tensor subclasses and tensors with state pickle.
            guard args.count >= 3, case .global(let inner) = args[0], case .global(let type) = args[1],
                  case .tuple(let innerArgs) = args[2] else { return opaque("unexpected arguments") }
            let plain: Set<String> = ["torch._tensor.Tensor", "torch.Tensor", "torch.nn.parameter.Parameter"]
            guard plain.contains(type.description) else { return opaque("a tensor subclass \(type)") }
            return call(inner, innerArgs)
        case ("collections", "OrderedDict"), ("builtins", "dict"):
            let dict = PickleDict()
            guard let source = args.first else { return .dict(dict) }
            let pairs: [PickleValue]
            switch source {
            case .list(let l): pairs = l.items
            case .tuple(let t): pairs = t
            default: return opaque("built from \(source.kind)")
            }
            for pair in pairs {
                guard case .tuple(let kv) = pair, kv.count == 2 else { return opaque("built from items that are not pairs") }
                dict.set(kv[0], kv[1])
            }
            return .dict(dict)
        default:
            return opaque()
        }
    }

    private static func integers(_ value: PickleValue) -> [Int]? {
        let items: [PickleValue]
        switch value {
        case .tuple(let t): items = t
        case .list(let l): items = l.items
        default: return nil
        }
        var result: [Int] = []
        for item in items {
            guard case .int(let i) = item else { return nil }
            result.append(i)
        }
        return result
    }
}
