#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CHamKernels
import Synchronization

/// Persistent worker threads for the CPU kernels. A decode step runs ~100 small parallel loops,
/// so workers spin briefly before sleeping: waking a sleeping thread costs more than most loops.
///
/// Work is handed out in chunks that threads take from a shared counter, the calling thread
/// included. A worker the OS has not scheduled yet (another process is busy on the machine) then
/// costs nothing: the others take its chunks, instead of everyone spinning until it runs.
public final class ThreadPool: @unchecked Sendable {
    public let threadCount: Int

    /// Even: a job is published. Odd: no job (between runs, and while one is set up).
    private let generation = Atomic<Int>(1)
    /// Workers between announcing themselves for the current job and leaving it.
    private let inside = Atomic<Int>(0)
    private let nextChunk = Atomic<Int>(0)
    private let chunksDone = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var job: ((Int, Int) -> Void)?
    private var chunkCount = 0
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var threads: [pthread_t] = []
    private static let spinIterations = 20_000

    public init(threadCount: Int) {
        self.threadCount = max(1, threadCount)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        for index in 1..<self.threadCount {
            // Workers hold the pool unretained: deinit joins them before the memory goes away.
            let context = Unmanaged.passRetained(WorkerContext(pool: self, index: index)).toOpaque()
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, { raw in
                guard let raw else { return nil }
                let context = Unmanaged<WorkerContext>.fromOpaque(raw).takeRetainedValue()
                context.pool.workerLoop(index: context.index)
                return nil
            }, context)
            if status == 0 { threads.append(thread) } else { Unmanaged<WorkerContext>.fromOpaque(context).release() }
        }
    }

    deinit {
        stopping.store(true, ordering: .releasing)
        pthread_mutex_lock(&mutex)
        generation.add(1, ordering: .releasing)
        pthread_cond_broadcast(&wake)
        pthread_mutex_unlock(&mutex)
        for thread in threads { pthread_join(thread, nil) }
        pthread_cond_destroy(&wake)
        pthread_mutex_destroy(&mutex)
    }

    /// Runs `body(chunk, threadIndex)` for every chunk in `0..<chunks`, on whichever threads get
    /// to it first (the caller always takes part), and returns when all are done.
    public func run(chunks: Int, _ body: (Int, Int) -> Void) {
        guard chunks > 1, !threads.isEmpty else {
            for chunk in 0..<max(chunks, 0) { body(chunk, 0) }
            return
        }
        withoutActuallyEscaping(body) { escaping in
            job = escaping
            chunkCount = chunks
            nextChunk.store(0, ordering: .relaxed)
            chunksDone.store(0, ordering: .relaxed)
            pthread_mutex_lock(&mutex)
            generation.add(1, ordering: .releasing)
            pthread_cond_broadcast(&wake)
            pthread_mutex_unlock(&mutex)

            takeChunks(escaping, chunks: chunks, threadIndex: 0)
            while chunksDone.load(ordering: .acquiring) < chunks { spinPause() }
            // Close the job: from here on no worker enters it, and the ones inside (finding no
            // chunk left) leave. Sequentially consistent, with the workers' announce-then-check:
            // either a worker sees the job closed, or this sees it inside (Dekker's handshake).
            // Then nothing holds the closure any more, and it may go.
            generation.add(1, ordering: .sequentiallyConsistent)
            while inside.load(ordering: .sequentiallyConsistent) > 0 { spinPause() }
            job = nil
        }
    }

    /// Splits `0..<count` into ranges of whole `grain`s (a few per thread, so threads that start
    /// late leave theirs to the others) and runs `body(range, threadIndex)` on each; loops under
    /// `minimumPerThread` items per thread run on the calling thread alone.
    public func parallelFor(_ count: Int, grain: Int = 1, minimumPerThread: Int = 1, _ body: (Range<Int>, Int) -> Void) {
        guard count > 0 else { return }
        let grain = max(grain, 1)
        let units = (count + grain - 1) / grain
        let useThreads = min(threadCount, units, max(1, count / max(minimumPerThread, 1)))
        if useThreads <= 1 {
            body(0..<count, 0)
            return
        }
        let chunks = min(units, useThreads * 4)
        run(chunks: chunks) { chunk, thread in
            let lo = min(count, (units * chunk / chunks) * grain)
            let hi = min(count, (units * (chunk + 1) / chunks) * grain)
            if lo < hi { body(lo..<hi, thread) }
        }
    }

    private func takeChunks(_ body: (Int, Int) -> Void, chunks: Int, threadIndex: Int) {
        while true {
            let chunk = nextChunk.add(1, ordering: .relaxed).oldValue
            guard chunk < chunks else { return }
            body(chunk, threadIndex)
            chunksDone.add(1, ordering: .releasing)
        }
    }

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            var current = generation.load(ordering: .acquiring)
            var spins = 0
            while (current == seen || current & 1 == 1) && spins < Self.spinIterations {
                spinPause()
                spins += 1
                current = generation.load(ordering: .acquiring)
            }
            if current == seen || current & 1 == 1 {
                pthread_mutex_lock(&mutex)
                current = generation.load(ordering: .acquiring)
                while current == seen || current & 1 == 1 {
                    pthread_cond_wait(&wake, &mutex)
                    current = generation.load(ordering: .acquiring)
                }
                pthread_mutex_unlock(&mutex)
            }
            seen = current
            if stopping.load(ordering: .acquiring) { return }
            // Announce, then check the job is still the one seen: if it was closed meanwhile,
            // its closure may already be replaced.
            inside.add(1, ordering: .sequentiallyConsistent)
            if generation.load(ordering: .sequentiallyConsistent) == current, let job {
                takeChunks(job, chunks: chunkCount, threadIndex: index)
            }
            inside.subtract(1, ordering: .releasing)
        }
    }
}

private final class WorkerContext {
    unowned(unsafe) let pool: ThreadPool
    let index: Int
    init(pool: ThreadPool, index: Int) {
        self.pool = pool
        self.index = index
    }
}

@inline(__always)
private func spinPause() {
    // Without a pause instruction the spinning core starves its hyper-thread sibling.
    ham_cpu_relax()
}
