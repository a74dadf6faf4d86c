import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Staging directories are removed when SIGINT, SIGTERM or SIGHUP ends the process, so an
/// interrupted `convert`, `quantize` or `random-model` leaves nothing beside `--out`.
///
/// The signal handler only writes the signal number to a pipe (all it may safely do); a thread
/// waiting on the pipe removes the registered directories under `lock`, then lets the signal
/// end the process as it would have (status 128 + signal). `OutputDirectory.install` renames
/// under the same lock, so an interrupt lands either before the swap or after it, never
/// between its two renames. A SIGKILL cannot be caught; `OutputDirectory` removes what such a
/// run left the next time the same output is written.
enum InterruptCleanup {
    static let lock = NSLock()
    nonisolated(unsafe) private static var paths: Set<String> = []
    nonisolated(unsafe) private static var pipeWrite: Int32 = -1
    static let signals = [SIGINT, SIGTERM, SIGHUP]

    private static let installed: Void = {
        // A parent may hand its blocked-signal mask down (Foundation's Process started from a
        // thread that blocks them does): the interrupts must reach this process to be acted on.
        var set = sigset_t()
        sigemptyset(&set)
        for number in signals { sigaddset(&set, number) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        pipeWrite = fds[1]
        let reader = fds[0]
        let thread = Thread {
            var byte: UInt8 = 0
            while read(reader, &byte, 1) < 0 && errno == EINTR {}
            let number = Int32(byte)
            lock.lock()  // held until the process ends: nothing is installed after this
            for path in paths { try? FileManager.default.removeItem(atPath: path) }
            signal(number, SIG_DFL)
            var own = sigset_t()
            sigemptyset(&own)
            sigaddset(&own, number)
            pthread_sigmask(SIG_UNBLOCK, &own, nil)
            raise(number)
        }
        thread.start()
        for number in signals {
            var current = sigaction()
            sigaction(number, nil, &current)
            // A signal the parent ignores (nohup) stays ignored.
            if unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signal in
                var byte = UInt8(truncatingIfNeeded: signal)
                _ = write(InterruptCleanup.pipeWrite, &byte, 1)
            }
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, nil)
        }
    }()

    /// Removes `path` if the process is interrupted while it is registered.
    static func register(_ path: String) {
        _ = installed
        lock.lock()
        paths.insert(path)
        lock.unlock()
    }

    static func unregister(_ path: String) {
        lock.lock()
        paths.remove(path)
        lock.unlock()
    }
}
