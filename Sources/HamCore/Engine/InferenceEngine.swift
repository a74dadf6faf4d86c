/// An engine whatever backend runs it: what front ends (generate, chat, batch, bench, serve)
/// see. One thread drives it: `submit`, `cancel` and `release` take effect at the next `step`.
public protocol InferenceEngine: AnyObject {
    var config: ModelConfig { get }
    var isHAMburger: Bool { get }
    var backendName: String { get }
    var options: EngineOptions { get }
    var weightBytes: WeightBytes { get }
    /// Whether a `step` has anything to do.
    var hasWork: Bool { get }
    var runningCount: Int { get }
    var waitingCount: Int { get }
    /// KV held by sequences (running, queued, kept); the prefix cache's blocks are apart.
    var kvBytesInUse: Int { get }
    /// KV the prefix cache holds: free for the taking whenever a sequence needs it.
    var kvBytesCached: Int { get }
    var kvBudgetBytes: Int { get }

    /// Queues a sequence; it joins the running ones at a following tick. Throws for a request
    /// that can never run (bad tokens or options, a prompt longer than the context or the budget).
    func submit(_ request: GenerationRequest) throws -> SequenceID
    func cancel(_ id: SequenceID)
    func release(_ id: SequenceID)
    /// One tick: every running sequence advances by one unit of work.
    func step() throws -> [EngineEvent]
}

extension InferenceEngine {
    /// Runs one sequence to its end (alongside whatever else is running), calling `onEvent` with
    /// its events. A sequence that fails throws, after its events were delivered.
    public func generate(_ request: GenerationRequest, onEvent: (EngineEvent) -> Void = { _ in }) throws -> GenerationResult {
        let id = try submit(request)
        while true {
            for event in try step() where event.sequence == id {
                onEvent(event)
                switch event {
                case .finished(_, let result): return result
                case .failed(_, let error, _): throw error
                default: break
                }
            }
        }
    }
}
