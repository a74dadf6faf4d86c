import HamCore
import HamLoad

/// A pickle reader that builds `PickleValue`s and never runs Python: the opcodes of protocols 2 to 5
/// (what `torch.save` writes, with pickle protocol 2 by default), plus the protocol 0/1 opcodes
/// that do not need Python's string escapes. GLOBAL only names a callable; what REDUCE and NEWOBJ
/// make of it is up to `call`, which knows the few torch and collections callables a checkpoint
/// needs and returns opaque objects for the rest.
struct Unpickler {
    /// Resolves BINPERSID/PERSID ids; torch uses them for storages.
    typealias PersistentLoad = (PickleValue) throws -> PickleValue
    /// Applies REDUCE/NEWOBJ: the callable and its positional arguments.
    typealias Call = (PickleGlobal, [PickleValue]) throws -> PickleValue

    private let bytes: UnsafeRawBufferPointer
    private let path: String
    private let entry: String
    private let persistentLoad: PersistentLoad
    private let call: Call

    private var position = 0
    /// Where the opcode being run starts, for error messages.
    private var opcodeStart = 0
    private var stack: [PickleValue] = []
    /// How deeply nested in tuples each stack entry is (lists, dicts and objects count 0: the
    /// arena takes them apart), so that freeing a value never recurses deeper than `maxDepth`.
    private var depths: [Int] = []
    private var marks: [Int] = []
    private var memo: [Int: (value: PickleValue, depth: Int)] = [:]
    /// Every container made, freed one level at a time (see `PickleArena`).
    let arena = PickleArena()

    /// torch.save nests a handful of levels.
    static let maxDepth = 1000
    /// Containers per pickle: far more than any checkpoint has (a few per tensor), and a bound
    /// on the memory a hostile pickle can make this reader use.
    static let maxContainers = 20_000_000

    /// `path` and `entry` name the file and the zip entry in errors.
    init(bytes: UnsafeRawBufferPointer, path: String, entry: String,
         persistentLoad: @escaping PersistentLoad, call: @escaping Call) {
        self.bytes = bytes
        self.path = path
        self.entry = entry
        self.persistentLoad = persistentLoad
        self.call = call
    }

    /// The pickled value. On an error, everything read so far is taken apart first.
    mutating func load() throws -> PickleValue {
        do {
            return try run()
        } catch {
            arena.removeAllChildren()
            throw error
        }
    }

    private mutating func run() throws -> PickleValue {
        while true {
            opcodeStart = position
            let opcode = try readByte()
            switch opcode {
            case 0x80: // PROTO
                let version = try readByte()
                guard version <= 5 else { throw error("pickle protocol \(version); expected 2 to 5") }
            case 0x95: // FRAME: a length hint only
                _ = try read(8)
            case 0x2E: // STOP
                let result = try pop()
                return result
            case 0x28: // MARK
                marks.append(stack.count)
            case 0x30: // POP
                if stack.count > (marks.last ?? 0) {
                    _ = try pop()
                } else {
                    _ = try popMark()
                }
            case 0x31: // POP_MARK
                _ = try popMark()
            case 0x32: // DUP
                let depth = depths.last ?? 0
                try push(try top(), depth: depth)

            case 0x4E: try push0(.none) // NONE
            case 0x88: try push0(.bool(true)) // NEWTRUE
            case 0x89: try push0(.bool(false)) // NEWFALSE
            case 0x4A: // BININT
                try push0(.int(Int(Int32(bitPattern: UInt32(try readLittleEndian(4))))))
            case 0x4B: // BININT1
                try push0(.int(Int(try readByte())))
            case 0x4D: // BININT2
                try push0(.int(Int(try readLittleEndian(2))))
            case 0x8A: // LONG1
                let count = Int(try readByte())
                try push0(try readLong(count))
            case 0x8B: // LONG4
                let count = Int(Int32(bitPattern: UInt32(try readLittleEndian(4))))
                guard count >= 0 else { throw error("LONG4 with negative length \(count)") }
                try push0(try readLong(count))
            case 0x49: // INT (text); protocol 0 spells booleans as 00 and 01
                let line = try readLine()
                switch line {
                case "00": try push0(.bool(false))
                case "01": try push0(.bool(true))
                default: try push0(try textInteger(line))
                }
            case 0x4C: // LONG (text)
                let line = try readLine()
                try push0(try textInteger(line.hasSuffix("L") ? String(line.dropLast()) : line))
            case 0x47: // BINFLOAT: big-endian, unlike every other number in a pickle
                let raw = try read(8)
                let bits = raw.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                try push0(.float(Double(bitPattern: bits)))
            case 0x46: // FLOAT (text)
                let line = try readLine()
                guard let value = Double(line) else { throw error("FLOAT '\(line)' is not a number") }
                try push0(.float(value))

            case 0x58: // BINUNICODE
                try push0(.string(try readUTF8(count: try readLength(4))))
            case 0x8C: // SHORT_BINUNICODE
                try push0(.string(try readUTF8(count: Int(try readByte()))))
            case 0x8D: // BINUNICODE8
                try push0(.string(try readUTF8(count: try readLength(8))))
            case 0x54: // BINSTRING: Python 2 str, read as Latin-1 like Python 3's default
                try push0(.string(latin1(try read(try readLength(4)))))
            case 0x55: // SHORT_BINSTRING
                try push0(.string(latin1(try read(Int(try readByte())))))
            case 0x42: // BINBYTES
                try push0(.bytes(Array(try read(try readLength(4)))))
            case 0x43: // SHORT_BINBYTES
                try push0(.bytes(Array(try read(Int(try readByte())))))
            case 0x8E, 0x96: // BINBYTES8, BYTEARRAY8
                try push0(.bytes(Array(try read(try readLength(8)))))

            case 0x29: stack.append(.tuple([])); depths.append(1) // EMPTY_TUPLE
            case 0x74: try pushTuple(count: try markedCount()) // TUPLE
            case 0x85: try pushTuple(count: 1) // TUPLE1
            case 0x86: try pushTuple(count: 2) // TUPLE2
            case 0x87: try pushTuple(count: 3) // TUPLE3
            case 0x5D: try push(made: .list(PickleList())) // EMPTY_LIST
            case 0x6C: try push(made: .list(PickleList(try popMark()))) // LIST
            case 0x61: // APPEND
                let item = try pop()
                try append([item], to: try top())
            case 0x65: // APPENDS
                let items = try popMark()
                try append(items, to: try top())
            case 0x7D: try push(made: .dict(PickleDict())) // EMPTY_DICT
            case 0x64: // DICT
                let items = try popMark()
                let dict = PickleDict()
                try setItems(items, in: .dict(dict))
                try push(made: .dict(dict))
            case 0x73: // SETITEM
                let value = try pop(), key = try pop()
                try setItems([key, value], in: try top())
            case 0x75: // SETITEMS
                let items = try popMark()
                try setItems(items, in: try top())
            case 0x8F: try push(made: .list(PickleList())) // EMPTY_SET, kept as a list
            case 0x90: // ADDITEMS
                let items = try popMark()
                try append(items, to: try top())
            case 0x91: try push(made: .list(PickleList(try popMark()))) // FROZENSET

            case 0x63: // GLOBAL
                let module = try readLine()
                let name = try readLine()
                try push0(.global(PickleGlobal(module: module, name: name)))
            case 0x93: // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard case .string(let n) = name, case .string(let m) = module else {
                    throw error("STACK_GLOBAL needs two strings; found \(module.kind) and \(name.kind)")
                }
                try push0(.global(PickleGlobal(module: m, name: n)))
            case 0x52: // REDUCE
                let arguments = try pop(), callable = try pop()
                try push(made: try apply(callable, arguments))
            case 0x81: // NEWOBJ: cls.__new__(cls, *args)
                let arguments = try pop(), cls = try pop()
                try push(made: try apply(cls, arguments))
            case 0x92: // NEWOBJ_EX: keyword arguments cannot matter to anything hamrun models
                _ = try pop()
                let arguments = try pop(), cls = try pop()
                try push(made: try apply(cls, arguments))
            case 0x69: // INST (protocol 0): module and name lines, arguments from the mark
                let module = try readLine()
                let name = try readLine()
                _ = try popMark()
                try push(made: .object(PickleObject(callable: PickleGlobal(module: module, name: name))))
            case 0x6F: // OBJ (protocol 1): class and arguments from the mark
                let items = try popMark()
                guard case .global(let cls)? = items.first else {
                    throw error("OBJ without a class after the mark")
                }
                try push(made: .object(PickleObject(callable: cls)))
            case 0x62: // BUILD: sets an object's state, which nothing hamrun reads depends on
                _ = try pop()
                _ = try top()

            case 0x51: // BINPERSID
                try push(made: try persistentLoad(try pop()))
            case 0x50: // PERSID
                try push(made: try persistentLoad(.string(try readLine())))

            case 0x71: memo[Int(try readByte())] = try topEntry() // BINPUT
            case 0x72: memo[Int(try readLittleEndian(4))] = try topEntry() // LONG_BINPUT
            case 0x70: memo[try textIndex(try readLine())] = try topEntry() // PUT
            case 0x94: memo[memo.count] = try topEntry() // MEMOIZE
            case 0x68: try recall(Int(try readByte())) // BINGET
            case 0x6A: try recall(Int(try readLittleEndian(4))) // LONG_BINGET
            case 0x67: try recall(try textIndex(try readLine())) // GET

            case 0x82, 0x83, 0x84:
                throw error("extension-registry opcode 0x\(hex(opcode)); torch.save never writes these")
            case 0x97, 0x98:
                throw error("out-of-band buffer opcode 0x\(hex(opcode)); torch.save never writes these")
            case 0x53, 0x56:
                throw error("protocol-0 text string opcode 0x\(hex(opcode)); expected a protocol 2+ pickle as torch.save writes")
            default:
                throw error("unknown pickle opcode 0x\(hex(opcode))")
            }
        }
    }

    // MARK: Stack

    private mutating func pop() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0), let value = stack.popLast() else {
            throw error("pickle stack underflow")
        }
        depths.removeLast()
        return value
    }

    private func top() throws -> PickleValue {
        try topEntry().value
    }

    private func topEntry() throws -> (value: PickleValue, depth: Int) {
        guard stack.count > (marks.last ?? 0), let value = stack.last, let depth = depths.last else {
            throw error("pickle stack underflow")
        }
        return (value, depth)
    }

    /// Pushes a scalar.
    private mutating func push0(_ value: PickleValue) throws {
        try push(value, depth: 0)
    }

    /// Pushes a value that is already counted (a scalar, or a container seen before).
    private mutating func push(_ value: PickleValue, depth: Int) throws {
        guard depth <= Self.maxDepth else { throw error("values nested deeper than \(Self.maxDepth) levels") }
        stack.append(value)
        depths.append(depth)
    }

    /// Pushes a value just made: a container joins the arena.
    private mutating func push(made value: PickleValue) throws {
        arena.keep(value)
        guard arena.count <= Self.maxContainers else { throw error("more than \(Self.maxContainers) lists, dicts and objects") }
        try push(value, depth: 0)
    }

    /// The tuple of the top `count` entries.
    private mutating func pushTuple(count: Int) throws {
        guard count <= stack.count - (marks.last ?? 0) else { throw error("pickle stack underflow") }
        let items = Array(stack.suffix(count))
        let depth = 1 + (depths.suffix(count).max() ?? 0)
        stack.removeLast(count)
        depths.removeLast(count)
        try push(.tuple(items), depth: depth)
    }

    /// How many entries lie above the last MARK, which is removed (for TUPLE).
    private mutating func markedCount() throws -> Int {
        guard let mark = marks.popLast() else { throw error("no MARK for an opcode that needs one") }
        return stack.count - mark
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw error("no MARK for an opcode that needs one") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        depths.removeSubrange(mark...)
        return items
    }

    private mutating func recall(_ index: Int) throws {
        guard let entry = memo[index] else { throw error("memo slot \(index) read before it was written") }
        try push(entry.value, depth: entry.depth)
    }

    private func append(_ items: [PickleValue], to target: PickleValue) throws {
        switch target {
        case .list(let list): list.items.append(contentsOf: items)
        case .object(let object): object.elements.items.append(contentsOf: items)
        default: throw error("APPEND to \(target.kind)")
        }
    }

    private func setItems(_ items: [PickleValue], in target: PickleValue) throws {
        guard items.count % 2 == 0 else { throw error("SETITEMS with an odd number of items") }
        let dict: PickleDict
        switch target {
        case .dict(let d): dict = d
        case .object(let o): dict = o.items
        default: throw error("SETITEM on \(target.kind)")
        }
        for i in stride(from: 0, to: items.count, by: 2) { dict.set(items[i], items[i + 1]) }
    }

    private func apply(_ callable: PickleValue, _ arguments: PickleValue) throws -> PickleValue {
        guard case .global(let function) = callable else {
            throw error("REDUCE calls \(callable.kind); expected a global")
        }
        guard case .tuple(let args) = arguments else {
            // Python requires a tuple too; anything else is a malformed pickle.
            throw error("REDUCE of \(function) with \(arguments.kind) for arguments; expected a tuple")
        }
        return try call(function, args)
    }

    // MARK: Reading

    private mutating func readByte() throws -> UInt8 {
        guard position < bytes.count else { throw truncated() }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func read(_ count: Int) throws -> UnsafeRawBufferPointer.SubSequence {
        guard count >= 0, count <= bytes.count - position else { throw truncated() }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    private mutating func readLittleEndian(_ count: Int) throws -> UInt64 {
        try read(count).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// A length field; it must fit what is left, so a corrupt length is an error and never a huge
    /// allocation.
    private mutating func readLength(_ count: Int) throws -> Int {
        let value = try readLittleEndian(count)
        guard value <= UInt64(bytes.count - position) else { throw truncated() }
        return Int(value)
    }

    /// Two's-complement little-endian integer of `count` bytes.
    private mutating func readLong(_ count: Int) throws -> PickleValue {
        let raw = try read(count)
        if count == 0 { return .int(0) }
        guard count <= 8 else { return .bigInt(byteCount: count) }
        var value = raw.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        if count < 8, let last = raw.last, last & 0x80 != 0 {
            value |= UInt64.max << (UInt64(count) * 8)
        }
        return .int(Int(Int64(bitPattern: value)))
    }

    private mutating func readUTF8(count: Int) throws -> String {
        let raw = try read(count)
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw error("string of \(count) bytes is not valid UTF-8")
        }
        return string
    }

    private mutating func readLine() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else { throw truncated() }
        let line = latin1(bytes[position..<end])
        position = end + 1
        return line
    }

    private func latin1(_ raw: UnsafeRawBufferPointer.SubSequence) -> String {
        String(String.UnicodeScalarView(raw.map { Unicode.Scalar($0) }))
    }

    private func textInteger(_ line: String) throws -> PickleValue {
        if let value = Int(line) { return .int(value) }
        let digits = line.drop { $0 == "-" || $0 == "+" }
        guard !digits.isEmpty, digits.allSatisfy(\.isNumber) else { throw error("'\(line)' is not an integer") }
        return .bigInt(byteCount: digits.count / 2 + 1)
    }

    private func textIndex(_ line: String) throws -> Int {
        guard let index = Int(line), index >= 0 else { throw error("memo index '\(line)' is not a number") }
        return index
    }

    // MARK: Errors

    private func error(_ detail: String) -> LoadError {
        .malformed(path: path, detail: "\(entry): byte \(opcodeStart): \(detail)")
    }

    private func truncated() -> LoadError {
        .truncated(path: path, detail: "\(entry) ends in the middle of the opcode at byte \(opcodeStart)")
    }

    private func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return byte < 16 ? "0" + digits : digits
    }
}
