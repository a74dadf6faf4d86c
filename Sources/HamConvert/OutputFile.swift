import HamCore
import HamFiles
import HamLoad

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file being written: every write checked, flushed to disk before it counts as written, and
/// errors that name the file (`no space left on device while writing X`).
struct OutputFile {
    let path: String
    private let descriptor: Int32

    /// Creates `path`, which must not exist yet.
    init(creating path: String) throws {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw ConvertError(writing: path, errno: errno) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            // Linux writes at most about 2 GiB per call; smaller calls also keep EINTR cheap.
            let count = systemWrite(descriptor, base + done, min(bytes.count - done, 1 << 30))
            if count < 0 {
                if errno == EINTR { continue }
                throw ConvertError(writing: path, errno: errno)
            }
            done += count
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Flushes to disk and closes: a model directory is renamed into place only once its
    /// files are really written (a crash after the rename must not leave empty files).
    func finish() throws {
        guard fsync(descriptor) == 0 || errno == EINVAL else {
            let code = errno
            close(descriptor)
            throw ConvertError(writing: path, errno: code)
        }
        guard close(descriptor) == 0 else { throw ConvertError(writing: path, errno: errno) }
    }

    /// Closes after a failure; the caller removes the file.
    func abandon() {
        close(descriptor)
    }

    /// Writes a whole new file at `path`.
    static func write(_ bytes: [UInt8], to path: String) throws {
        let file = try OutputFile(creating: path)
        do {
            try file.write(bytes)
            try file.finish()
        } catch {
            file.abandon()
            unlink(path)
            throw error
        }
    }

    /// Copies the regular file `source` to a new file `path` (a FIFO or device is refused
    /// rather than read forever).
    static func copy(_ source: String, to path: String) throws {
        try write(try readFile(source), to: path)
    }
}

private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }

extension ConvertError {
    /// The error of a failed write: a full disk said in plain words.
    init(writing path: String, errno code: Int32) {
        switch code {
        case ENOSPC, EDQUOT: self = .noSpace(path: path)
        case EEXIST: self = .cannotWrite(path: path, reason: "it already exists")
        default: self = .cannotWrite(path: path, reason: String(cString: strerror(code)))
        }
    }
}
