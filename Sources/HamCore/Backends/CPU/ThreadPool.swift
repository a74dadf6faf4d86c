#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import CHamKernels

/// Persistent worker threads for the CPU kernels. A decode step runs ~100 small parallel loops,
/// so workers spin briefly before sleeping: waking a sleeping thread costs more than most loops.
public final class ThreadPool: @unchecked Sendable {
    public let threadCount: Int

    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var job: ((Int) -> Void)?
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

    /// Runs `body(i)` for every `i` in `0..<threadCount` (the caller takes `i == 0`) and returns
    /// when all are done.
    public func run(_ body: (Int) -> Void) {
        if threads.isEmpty {
            body(0)
            return
        }
        withoutActuallyEscaping(body) { escaping in
            job = escaping
            pending.store(threads.count, ordering: .relaxed)
            pthread_mutex_lock(&mutex)
            generation.add(1, ordering: .releasing)
            pthread_cond_broadcast(&wake)
            pthread_mutex_unlock(&mutex)
            escaping(0)
            while pending.load(ordering: .acquiring) > 0 { spinPause() }
            job = nil
        }
    }

    /// Splits `0..<count` into one contiguous chunk per thread (multiples of `grain`) and runs
    /// `body(chunk, threadIndex)` on each; loops under `minimumPerThread` items per thread run on
    /// the calling thread alone.
    public func parallelFor(_ count: Int, grain: Int = 1, minimumPerThread: Int = 1, _ body: (Range<Int>, Int) -> Void) {
        let units = (count + grain - 1) / grain
        let useThreads = min(threadCount, units, max(1, count / max(minimumPerThread, 1)))
        if useThreads <= 1 {
            if count > 0 { body(0..<count, 0) }
            return
        }
        run { index in
            guard index < useThreads else { return }
            let lo = min(count, (units * index / useThreads) * grain)
            let hi = min(count, (units * (index + 1) / useThreads) * grain)
            if lo < hi { body(lo..<hi, index) }
        }
    }

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen && spins < Self.spinIterations {
                spinPause()
                spins += 1
            }
            if generation.load(ordering: .acquiring) == seen {
                pthread_mutex_lock(&mutex)
                while generation.load(ordering: .acquiring) == seen {
                    pthread_cond_wait(&wake, &mutex)
                }
                pthread_mutex_unlock(&mutex)
            }
            seen = generation.load(ordering: .acquiring)
            if stopping.load(ordering: .acquiring) { return }
            job?(index)
            pending.subtract(1, ordering: .releasing)
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
