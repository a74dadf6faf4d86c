import Foundation
import HamCore
import Logging

/// What a request's handler hears about its sequence.
enum JobEvent: Sendable {
    case token(Int32)
    /// The sequence ended (stop, length, context full); `queueSeconds` is its time before it ran.
    case finished(GenerationResult, queueSeconds: Double)
    /// It never ran (queue full, shutting down, a request the engine refuses), or stopped early (a
    /// timeout, an engine error); `partial` holds what it had generated.
    case failed(APIError, partial: GenerationResult)
}

/// A request the loop has taken: its id (to cancel it) and its events.
struct Job: Sendable {
    let id: Int
    let events: AsyncStream<JobEvent>
}

/// The scheduler: one thread that owns the engine and drives its batched `step()` for every
/// connected client. HTTP handlers hand it requests and cancellations through a lock-protected
/// inbox; between two ticks it takes them in (new sequences join the running batch, cancelled
/// ones leave and free their KV blocks at the next tick), enforces the bounded queue and the
/// per-request timeout, and delivers each tick's tokens to the requests' streams. The engine is
/// never touched from any other thread.
public final class EngineLoop: @unchecked Sendable {
    public struct Limits: Sendable {
        /// Sequences decoding together (the engine's `maxSequences`).
        public var parallel: Int
        /// Requests that may wait for a slot or for KV memory; more get 503.
        public var maxQueue: Int
        /// Seconds a request may take from arrival to its last token.
        public var timeout: Double?
        /// Seconds in-flight requests get to finish after SIGTERM before they are cancelled.
        public var shutdownGrace: Double

        public init(parallel: Int, maxQueue: Int, timeout: Double?, shutdownGrace: Double) {
            self.parallel = parallel
            self.maxQueue = maxQueue
            self.timeout = timeout
            self.shutdownGrace = shutdownGrace
        }
    }

    public enum Phase: Sendable, Equatable {
        case loading, ready, draining, stopped
        case failed(String)
    }

    /// The engine's state after the last tick: what /health and /metrics report.
    public struct Snapshot: Sendable {
        public var phase: Phase = .loading
        public var running = 0
        public var waiting = 0
        public var kvBytesInUse = 0
        public var kvBytesCached = 0
        public var kvBudgetBytes = 0
        public var ticks = 0
    }

    private struct Submission {
        let id: Int
        let request: GenerationRequest
        let continuation: AsyncStream<JobEvent>.Continuation
        let arrived: ContinuousClock.Instant
    }

    public let limits: Limits
    private let logger: Logger
    private let metrics: ServerMetrics

    // The inbox and the snapshot, under `condition`.
    private let condition = NSCondition()
    private var incoming: [Submission] = []
    /// Jobs to cancel, and whether their client left (rather than a stop string ending them).
    private var cancellations: [(job: Int, clientLeft: Bool)] = []
    private var stopRequested = false
    private var drainDeadline: ContinuousClock.Instant?
    private var state = Snapshot()
    private var nextJob = 0
    private var exited = false
    private var exitWaiters: [CheckedContinuation<Void, Never>] = []
    private var loadWaiters: [CheckedContinuation<Phase, Never>] = []

    init(limits: Limits, metrics: ServerMetrics, logger: Logger) {
        self.limits = limits
        self.metrics = metrics
        self.logger = logger
    }

    public var snapshot: Snapshot { condition.withLock { state } }

    /// Starts the thread; it loads the model (`load` builds the engine on it, so the engine never
    /// crosses threads), then serves until `stop()`.
    func start(load: @escaping @Sendable () throws -> any InferenceEngine) {
        let thread = Thread { [self] in
            self.serve(load: load)
            let waiters = self.condition.withLock {
                self.exited = true
                return self.exitWaiters
            }
            for waiter in waiters { waiter.resume() }
        }
        thread.name = "hamrun-engine"
        thread.stackSize = 16 << 20
        thread.start()
    }

    // MARK: From request handlers

    /// Hands a request to the engine. Its first event says whether it was taken; dropping the
    /// stream (the client went away) cancels it.
    func submit(_ request: GenerationRequest) -> Job {
        let (events, continuation) = AsyncStream<JobEvent>.makeStream()
        let id: Int? = condition.withLock {
            switch state.phase {
            case .ready:
                let id = nextJob
                nextJob += 1
                return id
            default:
                return nil
            }
        }
        guard let id else {
            continuation.yield(.failed(refusal(), partial: GenerationResult()))
            continuation.finish()
            return Job(id: -1, events: events)
        }
        continuation.onTermination = { [weak self] termination in
            if case .cancelled = termination { self?.cancel(id) }
        }
        condition.withLock {
            incoming.append(Submission(id: id, request: request, continuation: continuation, arrived: .now))
            condition.signal()
        }
        return Job(id: id, events: events)
    }

    /// Stops a job at the next tick, wherever it is (queued or running); its memory is freed then.
    /// Cancelling a job that has ended does nothing. `clientLeft`: the client went away (counted as
    /// an abort), not a stop string that ended the reply.
    func cancel(_ id: Int, clientLeft: Bool = true) {
        guard id >= 0 else { return }
        condition.withLock {
            cancellations.append((id, clientLeft))
            condition.signal()
        }
    }

    /// SIGTERM: new requests get 503 from now on; the ones in flight have `shutdownGrace` seconds
    /// to finish, then they are cancelled.
    func beginDraining() {
        condition.withLock {
            if state.phase == .ready { state.phase = .draining }
            drainDeadline = .now + .milliseconds(Int(limits.shutdownGrace * 1000))
            condition.signal()
        }
        logger.notice("shutting down: no new requests; \(limits.shutdownGrace) s for the ones in flight")
    }

    /// Waits until the model is loaded: `.ready`, or `.failed` with the reason.
    func loaded() async -> Phase {
        await withCheckedContinuation { (waiter: CheckedContinuation<Phase, Never>) in
            let phase: Phase? = condition.withLock {
                if state.phase == .loading {
                    loadWaiters.append(waiter)
                    return nil
                }
                return state.phase
            }
            if let phase { waiter.resume(returning: phase) }
        }
    }

    /// Ends the thread after cancelling whatever is left, and waits for it.
    func stop() async {
        condition.withLock {
            stopRequested = true
            condition.signal()
        }
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let done = condition.withLock {
                if exited { return true }
                exitWaiters.append(waiter)
                return false
            }
            if done { waiter.resume() }
        }
    }

    private func refusal() -> APIError {
        switch snapshot.phase {
        case .loading: .unavailable("the model is still loading", retryAfter: 1)
        case .draining, .stopped: .unavailable("the server is shutting down", retryAfter: 1)
        case .failed(let why): .unavailable("the model failed to load: \(why)", retryAfter: 60)
        case .ready: .server("refused while ready")
        }
    }

    // MARK: The engine's thread

    /// A request in the engine.
    private struct Running {
        let continuation: AsyncStream<JobEvent>.Continuation
        let arrived: ContinuousClock.Instant
        let submitted: ContinuousClock.Instant
        let sequence: SequenceID
        let deadline: ContinuousClock.Instant?
        /// Why the loop cancelled it (timeout, shutdown); the client hears this instead of a result.
        var stoppedBecause: APIError?
        /// Its client went away: nobody reads its result.
        var abandoned = false
    }

    private func serve(load: () throws -> any InferenceEngine) {
        let engine: any InferenceEngine
        do {
            engine = try load()
        } catch {
            let message = String(describing: error)
            logger.error("the model failed to load: \(message)")
            let (refused, waiters) = condition.withLock {
                state.phase = .failed(message)
                defer { incoming = []; loadWaiters = [] }
                return (incoming, loadWaiters)
            }
            for waiter in waiters { waiter.resume(returning: .failed(message)) }
            for submission in refused {
                submission.continuation.yield(.failed(refusal(), partial: GenerationResult()))
                submission.continuation.finish()
            }
            waitForStop()
            return
        }
        let (phase, waiters) = condition.withLock {
            state.kvBudgetBytes = engine.kvBudgetBytes
            if state.phase == .loading { state.phase = .ready }
            defer { loadWaiters = [] }
            return (state.phase, loadWaiters)
        }
        for waiter in waiters { waiter.resume(returning: phase) }
        metrics.kvBudget(engine.kvBudgetBytes)
        logger.info("engine ready on \(engine.backendName): \(limits.parallel) sequences, \(engine.kvBudgetBytes >> 20) MiB of KV cache")

        var jobs: [Int: Running] = [:]
        var jobOf: [SequenceID: Int] = [:]
        // After a tick, whether sequences were left waiting (for a slot or for KV memory): then a
        // new one queues behind them, whatever slots look free.
        var blocked = false
        var shutdownCancelled = false

        while true {
            condition.lock()
            // Every job is a sequence in the engine, so an idle engine means nothing to time out.
            while incoming.isEmpty && cancellations.isEmpty && !stopRequested && !engine.hasWork {
                condition.wait()
            }
            let arrivals = incoming, cancels = cancellations
            let stopping = stopRequested, draining = state.phase == .draining, drainDeadline = drainDeadline
            incoming = []
            cancellations = []
            condition.unlock()

            // New requests join, or are refused: the queue holds at most `maxQueue` behind the
            // sequences that can run at the next tick.
            for submission in arrivals {
                if draining || stopping {
                    refuse(submission, .unavailable("the server is shutting down", retryAfter: 1))
                    continue
                }
                let runnable = blocked ? 0 : max(0, limits.parallel - engine.runningCount)
                if engine.waitingCount - runnable >= limits.maxQueue {
                    metrics.rejected()
                    refuse(submission, .unavailable("the server is busy: \(engine.runningCount) requests running and \(engine.waitingCount) queued (--max-queue \(limits.maxQueue)); retry later", retryAfter: 1))
                    continue
                }
                do {
                    let sequence = try engine.submit(submission.request)
                    let now = ContinuousClock.now
                    let deadline = limits.timeout.map { submission.arrived + .milliseconds(Int($0 * 1000)) }
                    jobs[submission.id] = Running(continuation: submission.continuation, arrived: submission.arrived,
                                                  submitted: now, sequence: sequence, deadline: deadline)
                    jobOf[sequence] = submission.id
                } catch {
                    refuse(submission, .generation(error))
                }
            }
            for (id, clientLeft) in cancels {
                guard let job = jobs[id] else { continue }
                engine.cancel(job.sequence)
                if clientLeft { jobs[id]?.abandoned = true }
            }
            let now = ContinuousClock.now
            for (id, job) in jobs where job.stoppedBecause == nil {
                if let deadline = job.deadline, now >= deadline {
                    jobs[id]?.stoppedBecause = APIError(
                        status: .requestTimeout, message: "the request ran past the server's --timeout of \(limits.timeout ?? 0) s",
                        type: "timeout_error", code: "timeout")
                    engine.cancel(job.sequence)
                }
            }
            if !shutdownCancelled, stopping || drainDeadline.map({ now >= $0 }) ?? false {
                shutdownCancelled = true
                for (id, job) in jobs where job.stoppedBecause == nil {
                    jobs[id]?.stoppedBecause = .unavailable("the server shut down before this request finished", retryAfter: 1)
                    engine.cancel(job.sequence)
                }
            }

            if engine.hasWork {
                let events: [EngineEvent]
                do {
                    events = try engine.step()
                } catch {
                    // The backend failed mid-tick: every request in the engine ends with that
                    // error, and the engine is asked to drop them all.
                    logger.error("engine step failed: \(error)")
                    for (_, job) in jobs {
                        job.continuation.yield(.failed(.server("the engine failed: \(error)"), partial: GenerationResult()))
                        job.continuation.finish()
                        engine.cancel(job.sequence)
                    }
                    jobs = [:]
                    jobOf = [:]
                    continue
                }
                // The state after the tick is published before its events go out, so a client
                // that has its answer never sees /metrics from before it.
                publish(engine)
                for event in events {
                    switch event {
                    case .token(let sequence, let token):
                        if let id = jobOf[sequence] { jobs[id]?.continuation.yield(.token(token)) }
                    case .finished(let sequence, let result):
                        guard let id = jobOf.removeValue(forKey: sequence), let job = jobs.removeValue(forKey: id) else { continue }
                        if job.abandoned { metrics.aborted() }
                        if let reason = job.stoppedBecause {
                            job.continuation.yield(.failed(reason, partial: result))
                        } else {
                            let waited = seconds(job.submitted - job.arrived) + result.stats.queueSeconds
                            job.continuation.yield(.finished(result, queueSeconds: waited))
                        }
                        job.continuation.finish()
                    case .failed(let sequence, let error, let result):
                        guard let id = jobOf.removeValue(forKey: sequence), let job = jobs.removeValue(forKey: id) else { continue }
                        job.continuation.yield(.failed(.generation(error), partial: result))
                        job.continuation.finish()
                    case .macroStep, .trace:
                        break
                    }
                }
                blocked = engine.waitingCount > 0
            } else {
                blocked = false
                publish(engine)
            }
            if stopping && jobs.isEmpty && !engine.hasWork { break }
        }
        condition.withLock { state.phase = .stopped }
        logger.info("engine stopped")
    }

    /// The engine's counts after a tick, for /health and /metrics.
    private func publish(_ engine: any InferenceEngine) {
        let snapshot = condition.withLock {
            state.running = engine.runningCount
            state.waiting = engine.waitingCount
            state.kvBytesInUse = engine.kvBytesInUse
            state.kvBytesCached = engine.kvBytesCached
            state.ticks += 1
            return state
        }
        metrics.engine(snapshot)
    }

    private func refuse(_ submission: Submission, _ error: APIError) {
        submission.continuation.yield(.failed(error, partial: GenerationResult()))
        submission.continuation.finish()
    }

    /// After a failed load: the thread has nothing to do but wait for the end.
    private func waitForStop() {
        condition.lock()
        while !stopRequested { condition.wait() }
        condition.unlock()
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}
