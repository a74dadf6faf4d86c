/// What the generator needs from a model graph, whatever backend runs it: the graph enqueues,
/// the reads are the sync points.
public protocol InferenceGraph: AnyObject {
    var config: ModelConfig { get }
    var hamburger: ModelConfig.HAMburgerConfig? { get }
    var backendName: String { get }
    var prefersRunAhead: Bool { get }
    var slotsUsed: Int { get }
    var position: Int { get }
    var baseBytesPerForward: Int { get }
    var microBytesPerStep: Int { get }
    var stopHeadBytes: Int { get }
    var mergerBytes: Int { get }
    var kvCacheBytes: Int { get }

    func reset()
    func forward(tokens: [Int32]) throws
    func forward(mergedStep tokens: [Int32]) throws
    func baseNextToken()
    func microStep(_ i: Int)
    func setMicroToken(_ i: Int, _ token: Int32)

    /// Waits until everything enqueued has run.
    func synchronize() throws
    func readLogits() throws -> [Float]
    func readNextToken() throws -> Int32
    /// Tokens and stop probabilities of micro steps `0 ..< count` of the current macro step.
    func readMicroSteps(_ count: Int) throws -> (tokens: [Int32], stopProbabilities: [Float])
}

extension HAMburgerGraph: InferenceGraph {
    public var backendName: String { backend.name }
    public var prefersRunAhead: Bool { backend.prefersRunAhead }

    public func synchronize() throws { try backend.synchronize() }

    public func readLogits() throws -> [Float] { try backend.read(logits) }

    public func readNextToken() throws -> Int32 {
        try backend.readTokens(nextToken).first ?? 0
    }

    public func readMicroSteps(_ count: Int) throws -> (tokens: [Int32], stopProbabilities: [Float]) {
        guard let microTokens, let stopProbabilities else { return ([], []) }
        let read = try backend.read([microTokens.rows(0..<count), stopProbabilities.rows(0..<count)])
        return (read[0].ids(), read[1].floats())
    }
}
