import HamCore
import HamLoad

/// A value read from a Python pickle. Only plain data is modelled: whatever a pickle would build by
/// calling into Python is either one of the few torch constructions hamrun understands (storages,
/// tensors, ordered dicts) or a `PickleObject` that records which callable it names. Nothing a
/// pickle names is ever executed.
public enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer wider than 64 bits: checkpoints only hold these in bookkeeping, so only the
    /// width is kept.
    case bigInt(byteCount: Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    /// Lists and dicts are references because pickles fill them after memoizing them, and every
    /// later reference through the memo must see the same, filled object.
    case list(PickleList)
    case dict(PickleDict)
    /// A class or function named by GLOBAL or STACK_GLOBAL.
    case global(PickleGlobal)
    case storage(TorchStorageRef)
    case tensor(TorchTensorRef)
    case object(PickleObject)

    /// The entries of a dict, or of an unknown object pickled as a dict subclass.
    public var dictionary: PickleDict? {
        switch self {
        case .dict(let d): d
        case .object(let o): o.items.isEmpty ? nil : o.items
        default: nil
        }
    }

    /// What this value is, for error messages: a type name, never the (possibly huge) contents.
    public var kind: String {
        switch self {
        case .none: "None"
        case .bool: "a bool"
        case .int, .bigInt: "an int"
        case .float: "a float"
        case .string: "a string"
        case .bytes: "bytes"
        case .tuple: "a tuple"
        case .list: "a list"
        case .dict: "a dict"
        case .global(let g): "the global \(g)"
        case .storage: "a storage"
        case .tensor: "a tensor"
        case .object(let o): "an object built by \(o.callable)" + (o.problem.map { " (\($0))" } ?? "")
        }
    }
}

/// `module.name` of a GLOBAL, with Python 2 module names as Python 3 knows them.
public struct PickleGlobal: Hashable, CustomStringConvertible, Sendable {
    public let module: String
    public let name: String

    public init(module: String, name: String) {
        switch module {
        case "__builtin__": self.module = "builtins"
        case "copy_reg": self.module = "copyreg"
        default: self.module = module
        }
        self.name = name
    }

    public var description: String { "\(module).\(name)" }
}

public final class PickleList {
    public internal(set) var items: [PickleValue]
    public init(_ items: [PickleValue] = []) { self.items = items }
}

/// Every list, dict and object of one pickle, so that they can be taken apart one level at a
/// time. Swift frees nested values recursively; a hostile pickle nesting lists 50,000 deep
/// would overflow the stack when its values are freed. `removeAllChildren()` empties every
/// container while the arena still holds them all, so each is then freed with nothing inside:
/// whoever drops a pickle's values calls it first (`TorchCheckpoint` when it goes, the
/// unpickler when it fails). Tuples are values, not objects: the unpickler bounds their nesting.
public final class PickleArena {
    private var lists: [PickleList] = []
    private var dicts: [PickleDict] = []
    private var objects: [PickleObject] = []

    public init() {}

    var count: Int { lists.count + dicts.count + objects.count }

    /// Remembers the container `value` is, if it is one.
    func keep(_ value: PickleValue) {
        switch value {
        case .list(let l): lists.append(l)
        case .dict(let d): dicts.append(d)
        case .object(let o): objects.append(o)
        default: break
        }
    }

    /// Empties every container; values read from the pickle are not usable afterwards.
    public func removeAllChildren() {
        for l in lists { l.items = [] }
        for d in dicts { d.removeAll() }
        for o in objects {
            o.items.removeAll()
            o.elements.items = []
        }
    }

}

/// A dict in insertion order. String keys are indexed, since checkpoints look their entries up
/// by name; a repeated key replaces the value, as in Python.
public final class PickleDict {
    public private(set) var entries: [(key: PickleValue, value: PickleValue)] = []
    private var stringIndex: [String: Int] = [:]

    public init() {}

    public var isEmpty: Bool { entries.isEmpty }

    func set(_ key: PickleValue, _ value: PickleValue) {
        if case .string(let s) = key {
            if let i = stringIndex[s] {
                entries[i].value = value
                return
            }
            stringIndex[s] = entries.count
        }
        entries.append((key, value))
    }

    public subscript(key: String) -> PickleValue? {
        stringIndex[key].map { entries[$0].value }
    }

    func removeAll() {
        entries = []
        stringIndex = [:]
    }
}

/// An instance of a class hamrun does not model, or the result of calling a function it does not
/// run. It keeps the items a dict or list subclass was filled with, so hyper-parameters saved as,
/// say, Lightning's `AttributeDict` can still be read.
public final class PickleObject {
    public let callable: PickleGlobal
    /// Why a known callable could not be applied, when that was the reason this is opaque.
    public let problem: String?
    public let items = PickleDict()
    public let elements = PickleList()

    public init(callable: PickleGlobal, problem: String? = nil) {
        self.callable = callable
        self.problem = problem
    }
}
