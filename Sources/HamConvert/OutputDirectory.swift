import Foundation
import HamCore
import HamFiles
import HamLoad
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one rule for every command that writes a model directory (`convert`, `quantize`,
/// `random-model`): an existing `--out` is refused unless `--force`; the new directory is built
/// in a hidden staging sibling, checked, and only then put in place, exchanged atomically with
/// an existing one under `--force`. A failure, a full disk or an interrupt leaves nothing
/// behind, and never touches what the user had.
enum OutputDirectory {
    /// Builds `output`: `body` fills the staging directory it is given (and may check it);
    /// when it returns, the directory is put in place.
    static func build<T>(_ output: String, force: Bool, _ body: (_ staging: String) throws -> T) throws -> T {
        try check(output, force: force)
        removeLeftovers(of: output)
        // Registered before it is made: an interrupt at any moment after this removes it.
        let staging = stagingPath(next: output)
        InterruptCleanup.register(staging)
        defer { InterruptCleanup.unregister(staging) }
        try makeStaging(staging, for: output)
        do {
            let result = try body(staging)
            try install(staging, at: output, force: force)
            return result
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            if let error = error as? ConvertError { throw error.naming(staging, as: output) }
            throw error
        }
    }

    /// Refuses an existing, non-empty `output` unless `force`. Called first, before any input
    /// is read, and again when the new directory is put in place.
    static func check(_ output: String, force: Bool) throws {
        guard !force, InputFile.exists(output) || isSymbolicLink(output) else { return }
        if isEmptyDirectory(output) { return }
        throw ConvertError.outputExists(path: output)
    }

    /// `.NAME.partial-PID-RANDOM` beside `output`: hidden, and saying which process owns it.
    static func stagingPath(next output: String) -> String {
        let (parent, name) = split(output)
        return filePath("\(stagingPrefix(name))\(getpid())-\(UInt32.random(in: 0...UInt32.max))", in: parent)
    }

    private static func makeStaging(_ staging: String, for output: String) throws {
        guard mkdir(staging, 0o755) == 0 else {
            let parent = split(output).parent
            let reason = errno == ENOENT ? "its parent directory \(parent) does not exist" : String(cString: strerror(errno))
            throw ConvertError.cannotWrite(path: output, reason: reason)
        }
    }

    /// Staging directories of `output` whose process is gone (killed with SIGKILL, or the
    /// machine went down) are removed. One of a swap that did not finish holds the user's
    /// previous directory and is put back where it was.
    static func removeLeftovers(of output: String) {
        let (parent, name) = split(output)
        let prefix = stagingPrefix(name)
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return }
        for entry in entries where entry.hasPrefix(prefix) {
            let owner = entry.dropFirst(prefix.count).prefix { $0.isNumber }
            guard let pid = Int32(owner), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            let path = filePath(entry, in: parent)
            if entry.hasSuffix(asideSuffix) && !InputFile.exists(output) && !isSymbolicLink(output) {
                if rename(path, output) == 0 {
                    logger.warning("restored \(output) from \(path), left by an interrupted run (process \(pid))")
                    continue
                }
            }
            if (try? FileManager.default.removeItem(atPath: path)) != nil {
                logger.warning("removed \(path), left by an interrupted run (process \(pid))")
            }
        }
    }

    /// Puts the finished staging directory at `output`. An existing one (allowed by `force`,
    /// or empty) is exchanged with it in one atomic rename and then removed, so `output` is at
    /// every moment either the old directory or the new one.
    static func install(_ staging: String, at output: String, force: Bool) throws {
        InterruptCleanup.lock.lock()
        defer { InterruptCleanup.lock.unlock() }
        guard InputFile.exists(output) || isSymbolicLink(output) else {
            guard rename(staging, output) == 0 else {
                // Another process put a directory there since the check.
                if errno == ENOTEMPTY || errno == EEXIST { throw ConvertError.outputExists(path: output) }
                throw ConvertError(writing: output, errno: errno)
            }
            return
        }
        guard force || isEmptyDirectory(output) else { throw ConvertError.outputExists(path: output) }
        if exchange(staging, output) {
            // The previous directory is now at `staging`, still registered for removal.
            try? FileManager.default.removeItem(atPath: staging)
            return
        }
        // No atomic exchange on this file system: two renames, the old directory kept aside
        // under a staging name until the new one is in place (and restored by a later run if
        // this one is killed in between).
        let aside = staging + asideSuffix
        guard rename(output, aside) == 0 else {
            throw ConvertError.cannotWrite(path: output, reason: "cannot move the existing \(output) aside: \(String(cString: strerror(errno)))")
        }
        guard rename(staging, output) == 0 else {
            let reason = String(cString: strerror(errno))
            _ = rename(aside, output)
            throw ConvertError.cannotWrite(path: output, reason: reason)
        }
        try? FileManager.default.removeItem(atPath: aside)
    }

    private static let asideSuffix = ".old"
    private static let logger = Logger(label: "hamrun")

    private static func stagingPrefix(_ name: String) -> String { ".\(name).partial-" }

    private static func split(_ output: String) -> (parent: String, name: String) {
        let url = URL(fileURLWithPath: output).standardizedFileURL
        return (url.deletingLastPathComponent().path, url.lastPathComponent)
    }

    private static func isEmptyDirectory(_ path: String) -> Bool {
        InputFile.isDirectory(path) && (try? FileManager.default.contentsOfDirectory(atPath: path))?.isEmpty == true
    }

    private static func isSymbolicLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    /// Linux's renameat2(RENAME_EXCHANGE), looked up at run time: Swift's Glibc module does not
    /// declare it, and kernels or file systems without it make it fail (then: two renames).
    private static func exchange(_ a: String, _ b: String) -> Bool {
        typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "renameat2") else { return false }
        let renameat2 = unsafeBitCast(symbol, to: RenameAt2.self)
        let renameExchange: UInt32 = 1 << 1
        return renameat2(AT_FDCWD, a, AT_FDCWD, b, renameExchange) == 0
    }
}
