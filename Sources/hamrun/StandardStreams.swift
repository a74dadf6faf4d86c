#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every byte hamrun writes to stdout or stderr, checked.
///
/// Foundation's `FileHandle.write` traps when a write fails (a closed stream, EPIPE with SIGPIPE
/// ignored by the parent) and `print` drops the error, so a command could crash or exit 0 with
/// its output lost. Here a failed write to stdout throws `OutputError`, which ends the command
/// with one line on stderr and a non-zero status (quietly, as Unix tools do, on a broken pipe).
/// Messages to stderr cannot report their own failure; a failed one is remembered and makes the
/// exit status non-zero.
enum StandardStreams {
    /// Whether a write to stderr failed (the exit status must then say so).
    nonisolated(unsafe) static var standardErrorFailed = false

    /// A process started with stdout or stderr closed would hand that descriptor number to the
    /// next file it opens, and then its output would land in a model file. Closed ones are
    /// given /dev/null opened the other way round, so writing to them still fails, visibly.
    static func guardClosedDescriptors() {
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
            let opened = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY)
            if opened >= 0 && opened != fd {
                _ = dup2(opened, fd)
                close(opened)
            }
        }
    }

    /// Writes `text` to stdout in full.
    static func out(_ text: String) throws {
        var text = text
        try text.withUTF8 { try write(1, UnsafeRawBufferPointer($0)) }
    }

    static func out(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write(1, $0) }
    }

    /// `text` and a newline on stdout.
    static func outLine(_ text: String) throws {
        try out(text + "\n")
    }

    /// Writes text streamed from a callback that cannot throw (the generator's `onStep`): a
    /// failure ends the process at once, as a thrown `OutputError` would.
    static func stream(_ text: String) {
        do {
            try out(text)
        } catch let error as OutputError {
            exit(after: error)
        } catch {}
    }

    /// Ends the process after stdout failed: quietly on a broken pipe (the reader is gone, as
    /// with `| head`; 141 is what a shell reports for a process killed by SIGPIPE), else with
    /// one line on stderr.
    static func exit(after error: OutputError) -> Never {
        if error.isBrokenPipe { Glibc.exit(141) }
        err("hamrun: error: \(error)\n")
        Glibc.exit(1)
    }

    /// Writes `text` to stderr; a failure is remembered, not thrown.
    static func err(_ text: String) {
        var text = text
        do {
            try text.withUTF8 { try write(2, UnsafeRawBufferPointer($0)) }
        } catch {
            standardErrorFailed = true
        }
    }

    private static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = systemWrite(fd, base + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw OutputError(stream: fd == 1 ? "standard output" : "standard error", code: errno)
            }
            done += n
        }
    }

    /// All of standard input, or an error naming why it could not be read.
    static func readInput() throws -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CLIError("cannot read standard input: \(String(cString: strerror(errno)))")
            }
            if n == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }
}

// At file scope, where `write` is the system's.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }

/// stdout (or stderr) could not be written: it is closed, full, or its reader has gone.
struct OutputError: Error, CustomStringConvertible {
    let stream: String
    let code: Int32

    /// The reader went away (`hamrun ... | head`): not worth a message.
    var isBrokenPipe: Bool { code == EPIPE }

    var description: String {
        let reason = code == EBADF ? "it is closed" : String(cString: strerror(code))
        return "cannot write to \(stream): \(reason)"
    }
}

/// Collects output and writes it in large blocks; writing line by line is slow for the
/// hundred-thousand-line files the comparison scripts send.
struct OutputBuffer {
    private var bytes: [UInt8] = []

    mutating func write(_ s: String) throws {
        bytes.append(contentsOf: s.utf8)
        if bytes.count >= 1 << 16 { try flush() }
    }

    mutating func flush() throws {
        if bytes.isEmpty { return }
        try StandardStreams.out(bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}
