/// A parsed JSON text: the source bytes and one flat array of nodes, in document order.
///
/// Strings and numbers stay byte ranges into the source until someone asks for them: the
/// Llama 3 tokenizer.json has 128k vocabulary keys and 280k merges, and turning each into a
/// Swift `String` while parsing costs more than the whole load. Validation (syntax, escapes,
/// UTF-8) is complete at parse time, so reading a value later cannot fail on the bytes, only on
/// what the caller expected of them.
///
/// Bounds, so that hostile input costs no more than its size: the parser is iterative (no
/// recursion, whatever the nesting), nesting deeper than `maxDepth` is refused, and there is at
/// most one node (16 bytes) per input byte.
public final class JSONDocument: Sendable {
    /// What messages call the text: a file path, or something like "stdin line 3".
    public let source: String
    public let bytes: [UInt8]
    let nodes: [JSONNode]

    /// Real files nest a handful of levels; this is far beyond any of them.
    public static let defaultMaxDepth = 512

    /// Parses `bytes` (UTF-8, a byte order mark allowed) as one JSON value.
    public init(bytes: [UInt8], source: String, maxDepth: Int = JSONDocument.defaultMaxDepth) throws {
        self.source = source
        self.bytes = bytes
        var parser = JSONParser(source: source, maxDepth: maxDepth)
        nodes = try bytes.withUnsafeBufferPointer { try parser.parse($0) }
    }

    public convenience init<Bytes: Collection>(_ data: Bytes, source: String,
                                               maxDepth: Int = JSONDocument.defaultMaxDepth) throws where Bytes.Element == UInt8 {
        try self.init(bytes: Array(data), source: source, maxDepth: maxDepth)
    }

    /// The top-level value.
    public var root: JSONValue { JSONValue(document: self, index: 0) }
}

/// One value of the tape. Containers are followed by their children (an object's as key,
/// value, key, value...), so a subtree is the range `index..<end`.
struct JSONNode: Sendable {
    enum Kind: UInt8 { case null, bool, number, string, array, object }

    var kind: Kind
    /// Strings: the content has escapes. Numbers: the literal has no fraction or exponent.
    /// Booleans: true.
    var flag: Bool
    /// Containers: the number of elements or members.
    var count: UInt32
    /// Scalars: the first byte of the literal (strings: after the opening quote).
    /// Containers: the opening bracket.
    var start: UInt32
    /// Scalars: one past the literal's last byte (strings: the closing quote).
    /// Containers: the node index one past the subtree.
    var end: UInt32
}
