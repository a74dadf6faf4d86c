#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opening the files hamrun reads (model files, configs, tokenizers, checkpoints).
///
/// Only regular files are read. A FIFO given as a model file would block `open()` forever
/// waiting for a writer, and a directory or device is never what the user meant; each is
/// refused before anything waits on it, with a message saying what the path is. The check runs
/// again on the opened descriptor, so a path swapped between the two cannot slip through.
public enum InputFile {
    /// An open descriptor of the regular file at `path` and its size. The caller closes it.
    public static func open(_ path: String) throws -> (descriptor: Int32, size: Int) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw FileError(path: path, errno: errno) }
        try requireRegular(info, path)
        // O_NONBLOCK: if the path became a FIFO since the stat, open returns instead of waiting.
        let fd = posixOpen(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path: path, errno: errno) }
        var opened = stat()
        guard fstat(fd, &opened) == 0 else {
            let code = errno
            close(fd)
            throw FileError(path: path, errno: code)
        }
        do {
            try requireRegular(opened, path)
        } catch {
            close(fd)
            throw error
        }
        // Regular files never block, but reads are clearer without the flag.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return (fd, Int(opened.st_size))
    }

    /// The whole regular file at `path`. Files larger than `limit` bytes are refused before any
    /// memory is allocated for them (a parser needs several times a file's size).
    public static func read(_ path: String, limit: Int = Int.max) throws -> [UInt8] {
        let (fd, size) = try open(path)
        defer { close(fd) }
        guard size <= limit else {
            throw FileError(path: path, reason: .tooLarge(size: size, limit: limit))
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { buf in
                posixRead(fd, buf.baseAddress.map { $0 + done }, size - done)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, errno: errno)
            }
            if n == 0 { break }  // The file shrank while it was read.
            done += n
        }
        if done < size { bytes.removeLast(size - done) }
        return bytes
    }

    /// Whether `path` names a directory (following symbolic links).
    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Whether something exists at `path` (following symbolic links).
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    private static func requireRegular(_ info: stat, _ path: String) throws {
        let type = info.st_mode & S_IFMT
        guard type != S_IFREG else { return }
        if type == S_IFDIR { throw FileError(path: path, reason: .isDirectory) }
        throw FileError(path: path, reason: .notRegular(kind: FileError.kindName(type)))
    }
}

// At file scope, where `open` and `read` are the system's and not `InputFile`'s.
private func posixOpen(_ path: String, _ flags: Int32) -> Int32 { open(path, flags) }
private func posixRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { read(fd, buffer, count) }

/// Why a file could not be read, as one clause for messages (`is a FIFO (named pipe), not a
/// regular file`).
public struct FileError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        case notFound
        case isDirectory
        /// A FIFO, socket or device.
        case notRegular(kind: String)
        case permissionDenied
        case tooLarge(size: Int, limit: Int)
        case other(String)
    }

    public let path: String
    public let reason: Reason

    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    init(path: String, errno code: Int32) {
        self.path = path
        switch code {
        case ENOENT, ENOTDIR: reason = .notFound
        case EACCES, EPERM: reason = .permissionDenied
        case EISDIR: reason = .isDirectory
        default: reason = .other(String(cString: strerror(code)))
        }
    }

    /// What is wrong, without the path: "file not found", "is a directory"...
    public var detail: String {
        switch reason {
        case .notFound: "file not found"
        case .isDirectory: "is a directory, not a file"
        case .notRegular(let kind): "is \(kind), not a regular file"
        case .permissionDenied: "permission denied"
        case .tooLarge(let size, let limit): "is \(size) bytes, more than the \(limit) bytes such a file can have"
        case .other(let message): message
        }
    }

    public var description: String { "\(path): \(detail)" }

    static func kindName(_ type: mode_t) -> String {
        switch type {
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO (named pipe)"
        case S_IFSOCK: "a socket"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        default: "not a file"
        }
    }
}
